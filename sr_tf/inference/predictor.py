"""Everything `--model` can name, behind one interface: `load_predictor(location)`.

A model location (what --model takes) is `bicubic` (MATLAB-exact bicubic upscaling, the papers'
baseline), `pretrained:<name>` (a network shipped with sr_tf), a SavedModel that sr_tf exported
(or a folder of them named x2, x3, ... as an MDSR run writes), a training run directory (its
latest checkpoint), a `.keras` file of a training network, or a network file that sr_tf.export
wrote (`.tflite`, int8 or float; `.onnx`), alone or in its export folder.
The options' `precision` (options.PRECISIONS) picks how a Keras network runs; files run as they are.

A `Predictor` gives, per scale, a float function uint8 [h, w, 3] -> float32 [s*h, s*w, 3] in
0..255 units before rounding, and `upscale()`, which adds self-ensemble, tiling and the final
rounding to uint8.
"""

import contextlib
import os
import re

import numpy as np
import tensorflow as tf

from sr_tf import models
from sr_tf.data.imresize import imresize
from sr_tf.inference import saved_models
from sr_tf.inference.base import (  # noqa: F401  (re-exported)
    DEFAULT_MAX_MEGAPIXELS,
    IMAGE,
    ModelError,
    Predictor,
    network_predictor,
    per_scale_predictor,
)
from sr_tf.inference.options import DEFAULTS
from sr_tf.models.opening import is_network_location
from sr_tf.models.pretrained_registry import is_pretrained_location

BICUBIC = "bicubic"
BICUBIC_SCALES = tuple(range(2, 9))
BICUBIC_RADIUS = 3  # MATLAB's upscaling kernel reads 2 LR pixels each side; one more for safety


# ------------------------------------------------------------------------------------ loaders


def bicubic_predictor():
    def make(scale):
        def upscale_numpy(image):
            return imresize(image, scale).astype(np.float32)

        @tf.function(input_signature=[IMAGE])
        def upscale(image):
            sr = tf.numpy_function(upscale_numpy, [image], tf.float32, stateful=False)
            sr.set_shape([None, None, 3])
            return sr

        return upscale

    fns = {s: make(s) for s in BICUBIC_SCALES}
    return Predictor(BICUBIC, BICUBIC, fns, {s: BICUBIC_RADIUS for s in BICUBIC_SCALES})


def _open_network(location):
    """models.open_network, its errors as ModelError."""
    try:
        return models.open_network(location)
    except ValueError as error:
        raise ModelError(str(error)) from error


def _saved_model_parts(path):
    """[(scale, folder)] of an sr_tf SavedModel, or of a folder of them named x<s>."""
    if saved_models.is_saved_model(path):
        return [(int(saved_models.read_metadata(path)["scale"]), path)]
    parts = []
    for entry in sorted(os.listdir(path)):
        match = re.fullmatch(r"x(\d+)", entry)
        folder = os.path.join(path, entry)
        if match and saved_models.is_saved_model(folder):
            info = saved_models.read_metadata(folder)
            if int(info["scale"]) != int(match.group(1)):
                raise ModelError(f"{folder} holds an x{info['scale']} model, not x{match.group(1)}")
            parts.append((int(info["scale"]), folder))
    return parts


def saved_model_predictor(path, parts):
    fns, radii, loaded, names = {}, {}, [], set()
    for scale, folder in parts:
        info = saved_models.read_metadata(folder)
        module = tf.saved_model.load(folder)
        if not hasattr(module, "upscale_float"):
            raise ModelError(f"{folder} has no upscale_float signature; re-export it with sr_tf.export")
        fns[scale] = _saved_float_function(module)
        radii[scale] = int(info["receptive_radius"])
        loaded.append(module)
        names.add(info["model"])
    return Predictor("/".join(sorted(names)), path, fns, radii, keep_alive=loaded)


def _saved_float_function(module):
    @tf.function(input_signature=[IMAGE])
    def upscale(image):
        return module.upscale_float(image)["image"]

    return upscale


NETWORK_FILES = ("model.tflite", "model.onnx")  # what an `sr_tf.export --quantize / --format` folder holds


def _network_file(location):
    """The .tflite / .onnx file a location names (the file, or the one in an export folder), or None."""
    if os.path.isfile(location) and location.endswith((".tflite", ".onnx")):
        return location
    if os.path.isdir(location) and not saved_models.is_saved_model(location):
        found = [
            os.path.join(location, name)
            for name in NETWORK_FILES
            if os.path.isfile(os.path.join(location, name))
        ]
        return found[0] if found else None
    return None


def _file_predictor(path):
    from sr_tf.inference import accelerated

    try:
        return (
            accelerated.tflite_predictor(path)
            if path.endswith(".tflite")
            else accelerated.onnx_predictor(path)
        )
    except (ValueError, OSError) as error:
        raise ModelError(f"--model={path}: {error}") from error


def _network_predictor(network, location, precision):
    from sr_tf.inference import accelerated

    precision = accelerated.resolve_precision(precision)
    if precision == "fp32":
        return network_predictor(network, source=location)
    try:
        return accelerated.network_predictor(network, location, precision)
    except ValueError as error:
        raise ModelError(f"--model={location} --precision={precision}: {error}") from error


def load_predictor(location, options=None):
    """The Predictor for a --model location, loaded as `options` (InferenceOptions; None: the
    defaults) say. Keras networks (run directories, .keras files) are built under
    `options.strategy.scope()` when there is a strategy, so each replica holds a copy of the
    weights, and run at `options.precision` (fp32: TensorFlow, exact; see accelerated.py for the
    others). SavedModels are loaded outside the strategy: loaded under one, their functions could
    only be called inside `strategy.run`. Exported files run at the precision they were written in."""
    location = os.fspath(location)
    options = options or DEFAULTS
    strategy, precision = options.strategy, options.precision
    if location == BICUBIC:
        return bicubic_predictor()
    names_a_network = is_network_location(location)
    if not names_a_network and precision not in ("auto", "fp32"):
        raise ModelError(
            f"--precision={precision} applies to networks (pretrained:<name>, .keras files, run "
            f"directories); --model={location} runs as it was exported (sr_tf.export --quantize=int8 "
            "writes an int8 one)"
        )
    if is_pretrained_location(location):
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            return _network_predictor(_open_network(location), location, precision)
    if not os.path.exists(location):
        raise ModelError(
            f"--model={location}: no such file or directory (and not '{BICUBIC}' or pretrained:<name>)"
        )
    network_file = _network_file(location)
    if network_file:
        return _file_predictor(network_file)
    if os.path.isdir(location):
        parts = _saved_model_parts(location)
        if parts:
            return saved_model_predictor(location, parts)
    if names_a_network:
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            return _network_predictor(_open_network(location), location, precision)
    raise ModelError(
        f"--model={location}: not '{BICUBIC}', pretrained:<name>, a SavedModel exported by sr_tf "
        "(or a folder of x<s> ones), a training run directory (with model.json), a .keras file, "
        "or a .tflite / .onnx network file sr_tf.export wrote"
    )
