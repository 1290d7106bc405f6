"""SavedModel and TFLite export of a network's full-image inference. `export_scales` is the one
export path (training, the export command and convert use it): every scale of a network into a
folder (one scale) or its x<s> subfolders, in any --format / --quantize.

The SavedModel has three signatures, on images of any size:

* `serving_default`: `image` uint8 [H, W, 3] -> `image` uint8 [s*H, s*W, 3] (the SR image);
* `upscale_float`:   `image` uint8 [H, W, 3] -> `image` float32 [s*H, s*W, 3], the SR image in
  0..255 units before rounding and clipping (what self-ensemble averages);
* `upscale_batch`:   `images` uint8 [N, H, W, 3] -> `images` uint8 [N, s*H, s*W, 3], for serving
  systems that send batches (TF Serving's convention: the batch is the first dimension).

A float input is refused by TensorFlow itself ("expected to be a uint8 tensor"); an input of
the wrong rank or channel count fails at once with a message naming `image` (or `images`) and
the shape it must have.

`assets.extra/sr_tf.json` records what it holds (model name, scale, receptive-field radius),
so `sr_tf.evaluate` and `sr_tf.upscale` can load it. TFLite files carry the same two
signatures and contain builtin ops only (BTSRN's bicubic is a convolution, not ResizeBicubic).
"""

import dataclasses
import json
import os
import shutil
import tempfile
import warnings

import numpy as np

from sr_tf import models
from sr_tf.core.files import write_directory_atomically, writing
from sr_tf.core.lazy import keras, tf  # imported at first use: `python -m sr_tf.export --help` needs neither
from sr_tf.inference.saved_models import (  # noqa: F401  (the format's names, re-exported)
    FORMAT,
    METADATA_FILE,
    TFLITE_FILE,
    SavedModelError,
    is_saved_model,
    read_metadata,
)
from sr_tf.inference.tiling import receptive_radius
from sr_tf.models import quantize


# What the signatures take. Their input specs leave the shape open, because a signature checks
# only the dtype and a fixed shape would let the graph skip the check in `_checked`.
def input_specs():
    """(IMAGE, IMAGES): the TensorSpecs of one image and of a batch (made when first exported)."""
    return (
        tf.TensorSpec((None, None, 3), tf.uint8, name="image"),
        tf.TensorSpec((None, None, None, 3), tf.uint8, name="images"),
    )


SIGNATURES = {
    "serving_default": "image: uint8 [H, W, 3] -> image: uint8 [s*H, s*W, 3]",
    "upscale_float": "image: uint8 [H, W, 3] -> image: float32 [s*H, s*W, 3], 0..255 before rounding",
    "upscale_batch": "images: uint8 [N, H, W, 3] -> images: uint8 [N, s*H, s*W, 3]",
}
TFLITE_SIGNATURES = ("serving_default", "upscale_float")
DEFAULT_MAX_PSNR_LOSS = 0.1  # int8 network files: the largest PSNR loss (dB) accepted


class ExportError(SavedModelError):
    """An export that cannot be made or that does not reproduce the Keras model."""


def _archive(float_model, tflite=False):
    """The inference endpoints around `float_model`. The SavedModel's take any shape and check it
    in the graph (a signature checks only the dtype, and a fixed shape would let the graph drop
    the check); TFLite needs the fixed shapes and has no batched endpoint."""
    from sr_tf.models.layers import QuantizeUint8

    IMAGE, IMAGES = input_specs()
    archive = keras.export.ExportArchive()
    archive.track(float_model)
    to_uint8 = QuantizeUint8(1.0)  # round half up with clipping, as the inference model
    batch_of_one = (lambda image: image[None]) if tflite else (lambda image: _checked(image, IMAGE))

    def upscale(image):
        return {"image": to_uint8(float_model(batch_of_one(image))[0])}

    def upscale_float(image):
        return {"image": float_model(batch_of_one(image))[0]}

    def upscale_batch(images):
        return {"images": to_uint8(float_model(_checked(images, IMAGES)))}

    def spec(fixed):
        return fixed if tflite else tf.TensorSpec(None, fixed.dtype, name=fixed.name)

    archive.add_endpoint("serving_default", upscale, input_signature=[spec(IMAGE)])
    archive.add_endpoint("upscale_float", upscale_float, input_signature=[spec(IMAGE)])
    if not tflite:
        archive.add_endpoint("upscale_batch", upscale_batch, input_signature=[spec(IMAGES)])
    return archive


def _checked(value, spec):
    """`value` as a batch, once the graph has checked its rank and channels against `spec`."""
    shape = tf.shape(value)
    rank = spec.shape.rank
    fits = tf.logical_and(tf.equal(tf.size(shape), rank), tf.equal(shape[-1], 3))
    expected = "[N, H, W, 3]" if rank == 4 else "[H, W, 3] (one image; batches: upscale_batch)"
    check = tf.debugging.Assert(fits, [f"`{spec.name}` must be uint8 {expected}, got shape", shape])
    with tf.control_dependencies([check]):
        value = tf.identity(value)
    value.set_shape(spec.shape)  # what the layers are built for
    return value if rank == 4 else value[None]


def metadata(network, name, scale, float_model):
    return {
        "format": FORMAT,
        "model": name,
        "description": models.describe(network),
        "scale": int(scale),
        "receptive_radius": receptive_radius(float_model),
        "network": network.name,
        "signatures": dict(SIGNATURES),
    }


@dataclasses.dataclass
class Exported:
    """One scale's export: the folder written and the lines saying how close its files came."""

    scale: int
    path: str
    lines: list


def export_scales(
    network,
    output,
    file_format="saved_model",
    tflite=False,
    quantize="none",
    calibration_data="samples",
    max_psnr_loss=DEFAULT_MAX_PSNR_LOSS,
    scales=None,
    check=True,
):
    """Exports `network` for each of `scales` (default: every scale it has) into `output` (one
    scale) or `output`/x<s> (several): what training, the export command and convert write.

    file_format "saved_model": the inference SavedModel (`tflite`: with model.tflite inside it),
    checked against the Keras model unless `check=False`; "tflite" / "onnx": the network file
    (`export_network_file`, always checked; `quantize="int8"`: in int8, calibrated on
    `calibration_data`, refused past `max_psnr_loss` dB). Returns [Exported], in scale order."""
    name = models.describe(network)["model"]
    scales = models.scales_of(network) if scales is None else tuple(scales)
    if file_format == "saved_model" and quantize != "none":
        raise ExportError(f"a SavedModel is float; --quantize={quantize} writes --format=onnx or tflite")
    output = os.path.abspath(os.fspath(output))
    exported = []
    for s in scales:
        target = output if len(scales) == 1 else os.path.join(output, f"x{s}")
        with writing(target):  # a write that fails (no space left, ...): one OutputError naming the target
            if file_format == "saved_model":
                lines = _export_saved_model(network, name, s, target, tflite, check)
            else:
                lines = export_network_file(
                    network, name, s, target, file_format, quantize, calibration_data, max_psnr_loss
                )
        exported.append(Exported(s, target, lines))
    return exported


def export_saved_model(network, name, scale, output_dir):
    """Writes the x`scale` inference SavedModel of `network` (model `name`) to `output_dir`, not
    checked, and returns the path: one scale (`export_scales` writes every scale). Written to a
    temporary folder beside `output_dir` and renamed at the end (an older export there is replaced)."""
    output_dir = os.path.abspath(os.fspath(output_dir))
    _export_saved_model(network, name, scale, output_dir, tflite=False, check=False)
    return output_dir


def export_checked(network, name, scale, output_dir, tflite=False):
    """`export_saved_model` (plus `model.tflite` inside it with `tflite`) that reloads what it wrote
    and compares it with the Keras model on a test image before the final rename. Returns lines
    saying how close each file came; raises ExportError, leaving nothing behind, when one differs."""
    return _export_saved_model(
        network, name, scale, os.path.abspath(os.fspath(output_dir)), tflite, check=True
    )


def _write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def _check_replaceable(output_dir):
    """Only an earlier sr_tf export (or an empty folder) may be replaced."""
    if not os.path.exists(output_dir):
        return
    ours = (os.path.isfile(os.path.join(output_dir, METADATA_FILE)) and is_saved_model(output_dir)) or (
        os.path.isfile(os.path.join(output_dir, NETWORK_METADATA_FILE))
    )
    empty = os.path.isdir(output_dir) and not os.listdir(output_dir)
    if not (ours or empty):
        raise ExportError(f"{output_dir} exists and is not an sr_tf SavedModel; not replacing it")


def _export_saved_model(network, name, scale, output_dir, tflite, check):
    """The SavedModel (and model.tflite) of one scale, from one inference model: written, converted
    and checked in a temporary folder that replaces `output_dir` at the end. Returns the check's lines."""
    _check_replaceable(output_dir)
    float_model = models.build_inference_model(network, name, scale, quantize=False)
    lines = []

    def write(temp):
        _archive(float_model).write_out(temp, verbose=False)
        os.makedirs(os.path.join(temp, "assets.extra"), exist_ok=True)
        _write_json(os.path.join(temp, METADATA_FILE), metadata(network, name, scale, float_model))
        if tflite:
            with open(os.path.join(temp, TFLITE_FILE), "wb") as f:
                f.write(convert_tflite(float_model, f"{name} x{scale}"))
        if check:
            lines.extend(line.replace(temp, output_dir) for line in check_export(float_model, temp))

    write_directory_atomically(output_dir, write)
    return lines


# ------------------------------------------------------------------------- network files

NETWORK_METADATA_FILE = "sr_tf.json"  # beside model.tflite / model.onnx in an export folder


def calibration_split(data_spec, scale):
    """(calibration pairs, check pairs) of --calibration_data (accelerated.calibration_split)."""
    from sr_tf.inference import accelerated

    calibrate, check = accelerated.calibration_split(data_spec, scale)
    if check is None:
        raise ExportError(
            f"--calibration_data={data_spec}: too few images to keep some for the PSNR check "
            "(give at least 5)"
        )
    return calibrate, check


def export_network_file(
    network,
    name,
    scale,
    output_dir,
    file_format,
    quantization="none",
    calibration_data="samples",
    max_psnr_loss=DEFAULT_MAX_PSNR_LOSS,
):
    """Writes `output_dir`/model.tflite or model.onnx (the network; sr_tf runs the inference head
    around it) and sr_tf.json, checked: a float file against the Keras network on a test image, an
    int8 file by its PSNR change on images it was not calibrated on. Returns the lines saying so;
    raises ExportError, writing nothing, when a check fails."""
    from sr_tf.inference import accelerated, runtimes
    from sr_tf.inference.predictor import network_predictor

    output_dir = os.path.abspath(os.fspath(output_dir))
    _check_replaceable(output_dir)
    lines = []
    reference = network_predictor(network, scale=scale)  # the float network the file is checked against
    if quantization == "int8":
        calibrate, check = calibration_split(calibration_data, scale)
        crops = accelerated.calibration_crops(calibrate)
        if file_format == "onnx":
            content = accelerated.convert_int8_onnx(network, scale, crops, check, reference=reference)
        else:
            content = accelerated.convert_int8(network, scale, crops)
    elif file_format == "onnx":
        content = accelerated.convert_onnx(network, scale)
    else:
        content = accelerated.convert_float_tflite(network, scale)
    file_name = "model.onnx" if file_format == "onnx" else "model.tflite"

    def write(temp):
        path = os.path.join(temp, file_name)
        with open(path, "wb") as f:
            f.write(content)
        predictor = (
            accelerated.tflite_predictor(path) if file_format != "onnx" else accelerated.onnx_predictor(path)
        )
        # what the file carries (accelerated.network_info), plus the check below
        info = accelerated.network_info(
            network, scale, quantization if quantization == "int8" else "fp32", reference.radii[scale]
        )
        if quantization == "int8":
            change, float_psnr, int8_psnr = accelerated.psnr_change(reference, predictor, check, scale)
            line = (
                f"int8 PSNR change on {check.name} ({len(check)} images, not calibrated on): "
                f"{change:+.3f} dB "
                f"(float {float_psnr:.3f}, int8 {int8_psnr:.3f})"
            )
            if -change > max_psnr_loss:
                raise ExportError(
                    f"{line}: more than --max_psnr_loss={max_psnr_loss:g} dB lost; nothing written"
                )
            if file_format == "onnx":
                info["int8_layout"] = runtimes.onnx_metadata(path)["int8_layout"]
                line += f"; layout {info['int8_layout']} ({accelerated.LAYOUT_HELP[info['int8_layout']]})"
            info["psnr_check"] = {
                "data": check.name,
                "images": len(check),
                "float_psnr": round(float_psnr, 4),
                "int8_psnr": round(int8_psnr, 4),
                "change_db": round(change, 4),
            }
            lines.append(line)
        else:
            image = test_image()
            float_ref = np.asarray(reference.float_fns[scale](tf.constant(image)), np.float64)
            float_out = np.asarray(predictor.float_fns[scale](tf.constant(image)), np.float32)
            lines.append(
                compare(
                    f"{file_name} ({predictor.runtime})",
                    quantize(float_out),
                    float_out,
                    quantize(float_ref.astype(np.float32)),
                    float_ref,
                )
            )
        _write_json(os.path.join(temp, NETWORK_METADATA_FILE), info)
        lines[:] = [line.replace(temp, output_dir) for line in lines]

    write_directory_atomically(output_dir, write)
    return lines


# --------------------------------------------------------------------------------------- TFLite


def convert_tflite(float_model, what):
    """TFLite flatbuffer bytes of the float inference model `float_model` (`what`, e.g. "btsrn x2",
    names it in errors): the single-image signatures, fixed [H, W, 3] shapes, builtin ops only
    (ExportError for Flex / custom ops), converted through a temporary SavedModel."""
    folder = tempfile.mkdtemp(prefix="sr_tf_tflite_")
    try:
        _archive(float_model, tflite=True).write_out(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=list(TFLITE_SIGNATURES))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        content = converter.convert()
    except Exception as error:  # the converter raises its own ConverterError
        raise ExportError(f"TFLite conversion of {what} failed: {error}") from error
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    bad = sorted(op for op in tflite_ops(content) if op.startswith("Flex") or op == "CUSTOM")
    if bad:
        raise ExportError(f"TFLite model of {what} needs non-builtin ops: {bad}")
    return content


def tflite_ops(content):
    """The set of op names in a TFLite model (Flex ops would show up as Flex*)."""
    interpreter = _quiet_interpreter(model_content=content)
    return {op["op_name"] for op in interpreter._get_ops_details()}  # no public API lists them


def run_tflite(tflite_path, image, signature="serving_default"):
    """Runs one signature of a TFLite file on a uint8 [H, W, 3] image."""
    interpreter = _quiet_interpreter(model_path=os.fspath(tflite_path))
    runner = interpreter.get_signature_runner(signature)
    return runner(image=np.asarray(image, np.uint8))["image"]


def _quiet_interpreter(**kwargs):
    """tf.lite.Interpreter without its deprecation warning (ai_edge_litert is not a dependency)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return tf.lite.Interpreter(**kwargs)


# ---------------------------------------------------------------------------------------- check

# Float SR values (0..255 units) of a reloaded export may differ from the Keras model's by this
# much (graph optimisations and TFLite kernels sum in other orders); uint8 by at most 1 level.
FLOAT_TOLERANCE = 0.01


def test_image(height=29, width=37):
    """A deterministic uint8 test image of odd size: smooth gradients plus fine texture."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rng = np.random.default_rng(0)
    image = np.stack(
        [
            127 + 100 * np.sin(x / 5.0) * np.cos(y / 7.0),
            255 * x / width,
            255 * y / height,
        ],
        axis=-1,
    ) + rng.normal(0, 20, (height, width, 3))
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def compare(what, uint8_out, float_out, uint8_ref, float_ref):
    """One line saying how close an export is to the Keras model; ExportError when too far."""
    if uint8_out.shape != uint8_ref.shape or float_out.shape != float_ref.shape:
        raise ExportError(
            f"{what}: output shape {uint8_out.shape} differs from the Keras model's {uint8_ref.shape}"
        )
    level_diff = np.abs(uint8_out.astype(np.int16) - uint8_ref.astype(np.int16))
    float_diff = float(np.max(np.abs(float_out.astype(np.float64) - float_ref)))
    differing = int(np.count_nonzero(level_diff))
    line = (
        f"{what} reproduces the Keras model: uint8 "
        f"{'identical' if differing == 0 else f'{differing} of {level_diff.size} values off by 1'}, "
        f"float max |diff| {float_diff:.2g}"
    )
    if level_diff.max() > 1 or float_diff > FLOAT_TOLERANCE:
        raise ExportError(
            f"{what} does NOT reproduce the Keras model: uint8 max |diff| {level_diff.max()}, "
            f"float max |diff| {float_diff:.3g} (tolerance {FLOAT_TOLERANCE})"
        )
    return line


def check_export(float_model, folder, image=None):
    """Reloads the SavedModel (and model.tflite, if present) in `folder` and compares both
    signatures with the Keras float inference model it was written from on `image` (default
    `test_image()`, 37x29 pixels). Call it outside a tf.distribute scope (a SavedModel loaded
    inside one only runs in strategy.run)."""
    image = test_image() if image is None else np.asarray(image, np.uint8)
    float_ref = np.asarray(float_model(image[None])[0], np.float64)
    uint8_ref = quantize(float_ref.astype(np.float32))
    loaded = tf.saved_model.load(folder)
    batch = loaded.signatures["upscale_batch"](images=tf.constant(np.stack([image, image[::-1]])))[
        "images"
    ].numpy()
    if not (
        np.array_equal(batch[0], uint8_ref)
        and np.array_equal(batch[1][::-1], quantize(np.asarray(float_model(image[None, ::-1])[0])[::-1]))
    ):
        raise ExportError(f"SavedModel {folder}: upscale_batch does NOT give the images one at a time")
    lines = [
        compare(
            f"SavedModel {folder}",
            loaded.signatures["serving_default"](image=tf.constant(image))["image"].numpy(),
            loaded.signatures["upscale_float"](image=tf.constant(image))["image"].numpy(),
            uint8_ref,
            float_ref,
        )
    ]
    tflite_path = os.path.join(folder, TFLITE_FILE)
    if os.path.isfile(tflite_path):
        lines.append(
            compare(
                f"TFLite {tflite_path}",
                run_tflite(tflite_path, image),
                run_tflite(tflite_path, image, "upscale_float"),
                uint8_ref,
                float_ref,
            )
        )
    return lines
