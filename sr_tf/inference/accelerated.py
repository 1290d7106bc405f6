"""The fast inference paths: a network run by OpenVINO (bf16, fp32, or int8 ONNX), LiteRT (TFLite
files) or ONNX Runtime (ONNX files), each inside the model's own inference head (RunnerHead).

`--precision` picks the path for a Keras network (pretrained:, .keras, run directory):
  fp32  TensorFlow, exact (the Keras inference model; what evaluate uses by default)
  bf16  OpenVINO with bf16 where the CPU has it (AVX512-BF16 / AMX); extra `fast`
  int8  the network quantized to int8 ONNX once (percentile calibration on `samples`), cached, run
        by OpenVINO (else ONNX Runtime); extra `fast`
  auto  bf16 when OpenVINO is installed and the CPU runs bf16 natively, else fp32
docs/performance.md has the measurements behind these choices.
"""

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import warnings

import numpy as np
import tensorflow as tf

from sr_tf import models
from sr_tf.core.files import write_bytes_atomically
from sr_tf.evaluation import metrics
from sr_tf.inference import base, runtimes, tiling
from sr_tf.inference.base import IMAGE, Predictor, per_scale_predictor
from sr_tf.inference.options import PRECISIONS

FORMAT = "sr_tf.network/1"  # the sr_tf metadata of a .tflite / .onnx network file
CALIBRATION_DATA = "samples"
CALIBRATION_CROPS = (
    16  # LR crops of CALIBRATION_SIZE pixels at x2 (percentile calibration holds them all in memory)
)
CALIBRATION_SIZE = 48
CALIBRATION_PERCENTILE = 99.999  # int8 ONNX: activation ranges cover this share of the calibration values
INT8_RECIPE = 5  # part of the int8 cache key: a cached file made by an earlier recipe is made again
ALL_INT8, GUARDED = "all_int8", "guarded"  # int8 ONNX layouts (float_convolutions)
LAYOUT_HELP = {
    ALL_INT8: "every convolution int8 but the last",
    GUARDED: "the last convolution and the residual stream's readers float",
}
FAST_INT8_MAX_LOSS = 0.05  # dB on the check images within which the ALL_INT8 layout is kept


def network_info(network, scale, precision, receptive_radius=None):
    """What a reader of a network file needs to rebuild the inference head around it (the
    receptive radius is measured on the inference model unless the caller knows it)."""
    if receptive_radius is None:
        receptive_radius = tiling.receptive_radius(
            models.build_inference_model(network, scale=scale, quantize=False)
        )
    single = models.branch(network, scale)
    return {
        "format": FORMAT,
        "model": models.describe(network)["model"],
        "description": models.describe(network),
        "scale": int(scale),
        "margin": int(models.valid_margin(single, scale)),
        "receptive_radius": int(receptive_radius),
        "precision": precision,
    }


class RunnerHead:
    """uint8 [h, w, 3] -> float32 [s*h, s*w, 3]: the model's inference head with `run` (numpy
    network) in place of the network. Inside a tf.function (the self-ensemble) it is the
    TensorFlow head, reaching `run` through tf.numpy_function; called eagerly (`upscale`, tiles) a
    model with a numpy head (EDSR / MDSR) skips TensorFlow altogether, with the same numbers."""

    def __init__(self, info, run):
        self.spec, self.scale, self.run = models.get_spec(info["model"]), int(info["scale"]), run
        network = runtimes.ExternalNetwork(run, self.scale, info["margin"])

        @tf.function(input_signature=[IMAGE])
        def upscale(image):
            return self.spec.inference_head(self.spec, network, image[None], self.scale)[0]

        self.traced = upscale

    def __call__(self, image):
        if self.spec.numpy_head is None or not tf.executing_eagerly():
            return self.traced(image)
        return self.spec.numpy_head(self.spec, self.run, np.asarray(image, np.uint8))


def network_inputs(network, scale, lr_images):
    """The arrays the network itself receives for these LR images (after the head's padding)."""
    single = models.branch(network, scale)
    seen = []

    def record(array):
        seen.append(array.copy())
        return np.zeros(single.compute_output_shape(array.shape), np.float32)

    info = {
        "model": models.describe(network)["model"],
        "scale": scale,
        "margin": models.valid_margin(single, scale),
    }
    upscale = RunnerHead(info, record)
    for lr in lr_images:
        upscale(tf.constant(lr))
    return seen


def full_range_image(size=CALIBRATION_SIZE):
    """Black to white in every channel: the input's int8 range then covers every uint8 value, so
    no input pixel is clipped (photos rarely reach both ends)."""
    ramp = np.linspace(0, 255, size * size).reshape(size, size)
    return np.round(np.stack([ramp, ramp.T, ramp[::-1]], axis=-1)).astype(np.uint8)


def calibration_crops(pairs, count=None, size=None, seed=0):
    """`count` LR crops of `size` pixels from a PairSet, spread over its images, and one
    full_range_image. Defaults: CALIBRATION_CROPS of CALIBRATION_SIZE at x2, the same HR extent at
    every scale and fewer crops at larger scales (ONNX Runtime's percentile calibration keeps every
    activation of every crop in memory: BTSRN x4 with 48 crops needed over 22 GB)."""
    size = size or max(16, CALIBRATION_SIZE * 2 // pairs.scale)
    count = count or max(4, CALIBRATION_CROPS * 4 // pairs.scale**2)
    rng = np.random.default_rng(seed)
    crops = [full_range_image(size)]
    for k in range(count):
        lr, _ = pairs.load(k % len(pairs))
        h, w = lr.shape[:2]
        ch, cw = min(size, h), min(size, w)
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        crops.append(lr[y : y + ch, x : x + cw])
    return crops


def convert_int8(network, scale, calibration_lrs):
    """Int8 TFLite bytes of the x`scale` network with its sr_tf metadata: float input and output,
    int8 inside (weights per channel, activations per tensor from the calibration images), except
    the last convolution, which stays float (it makes the output: the residual or the image)."""
    single = models.branch(network, scale)
    inputs = network_inputs(network, scale, calibration_lrs)
    folder = tempfile.mkdtemp(prefix="sr_tf_int8_")
    try:
        single.export(folder, verbose=False)  # the converter needs variables frozen from a SavedModel
        float_content = tf.lite.TFLiteConverter.from_saved_model(folder).convert()
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([array] for array in inputs)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS,
        ]
        options = tf.lite.experimental.QuantizationDebugOptions(
            denylisted_nodes=[_output_node(float_content)]
        )
        with warnings.catch_warnings():  # the debugger runs tf.lite.Interpreter, which warns it is deprecated
            warnings.simplefilter("ignore", UserWarning)
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter,
                debug_dataset=lambda: ([array] for array in inputs[:2]),
                debug_options=options,
            )
            content = debugger.get_nondebug_quantized_model()
    except Exception as error:  # the converter raises its own ConverterError
        raise ValueError(f"int8 conversion of x{scale} failed: {error}") from error
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return runtimes.tflite_with_metadata(content, network_info(network, scale, "int8"))


def _output_node(content):
    """The name of the tensor a float TFLite model outputs (the node its last op makes)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    graph = model.subgraphs[0]
    name = graph.tensors[graph.outputs[0]].name
    return name.decode() if isinstance(name, bytes) else name


@contextlib.contextmanager
def _root_log_level(level):
    """Python's root logger at `level` for a while (ONNX Runtime's quantizer warns through it)."""
    root = logging.getLogger()
    before = root.level
    root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(before)


def float_convolutions(model, layout=GUARDED):
    """The convolutions an int8 network keeps float (names in the ONNX graph): the last one, and
    in the GUARDED layout also those that read a residual stream (a tensor that also feeds an Add,
    as EDSR's block inputs do), whose range grows with depth and loses most under one uint8 scale
    (docs/performance.md)."""
    added = {name for node in model.graph.node if node.op_type == "Add" for name in node.input}
    convs = [node for node in model.graph.node if node.op_type == "Conv"]
    return [
        node.name for node in convs if node is convs[-1] or (layout == GUARDED and node.input[0] in added)
    ]


def _quantize_onnx(float_path, input_name, inputs, kept_float, percentile):
    """ONNX Runtime's quantizer on the float file: QDQ, convolution weights int8 per channel, their
    inputs uint8 per tensor over `percentile` of the calibration values (fed as `input_name`), their
    outputs float; `kept_float` stays float."""
    onnx = runtimes.require("onnx", "int8 ONNX")
    quantization = runtimes.require("onnxruntime.quantization", "int8 ONNX")
    int8_path = float_path + ".int8.onnx"

    class Reader(quantization.CalibrationDataReader):
        def __init__(self):
            self.arrays = iter(inputs)

        def get_next(self):
            array = next(self.arrays, None)
            return None if array is None else {input_name: array}

    with contextlib.redirect_stdout(io.StringIO()), _root_log_level(logging.ERROR):  # its progress and advice
        quantization.quantize_static(
            float_path,
            int8_path,
            Reader(),
            quant_format=quantization.QuantFormat.QDQ,
            per_channel=True,
            activation_type=quantization.QuantType.QUInt8,
            weight_type=quantization.QuantType.QInt8,
            calibrate_method=quantization.CalibrationMethod.Percentile,
            op_types_to_quantize=["Conv"],
            nodes_to_exclude=kept_float,
            # Convolution outputs stay float: rounding them before the additions cost EDSR-baseline
            # x2 0.05 dB on Set5 and BTSRN x2 0.03 (docs/performance.md); a quantized reader still
            # rounds its own input.
            extra_options={"CalibPercentile": percentile, "OpTypesToExcludeOutputQuantization": ["Conv"]},
        )
    model = onnx.load(int8_path)
    _float_readers(model)
    return model


def _float_readers(model):
    """Gives the float tensor back to every reader of a quantized activation that is not itself
    quantized. ONNX Runtime's quantizer rounds a tensor once for all its readers, so a residual
    stream that feeds a convolution reached the next addition rounded to uint8 too, at every block:
    EDSR-baseline x2 lost 0.18 dB on Set5 with it and 0.05 without (docs/performance.md)."""
    produced_by = {output: node for node in model.graph.node for output in node.output}
    weights = {tensor.name for tensor in model.graph.initializer}

    def op_type(name):
        return getattr(produced_by.get(name), "op_type", None)

    def float_source(name):  # the activation a dequantized tensor was rounded from, or None
        if op_type(name) != "DequantizeLinear":
            return None
        rounded = produced_by[name].input[0]
        source = produced_by[rounded].input[0] if op_type(rounded) == "QuantizeLinear" else None
        return None if source in weights else source

    for node in model.graph.node:
        quantized_conv = node.op_type == "Conv" and op_type(node.input[1]) == "DequantizeLinear"
        if quantized_conv or node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        for k, name in enumerate(node.input):
            source = float_source(name)
            if source is not None:
                node.input[k] = source


def _with_info(model, info):
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = runtimes.METADATA_KEY, json.dumps(info)
    return model.SerializeToString()


def convert_int8_onnx(
    network,
    scale,
    calibration_lrs,
    check_pairs=None,
    percentile=CALIBRATION_PERCENTILE,
    layout=None,
    reference=None,
):
    """Int8 ONNX bytes (QDQ: convolution weights int8 per channel, their inputs uint8 per tensor
    over the `percentile` of the calibration values, which ignores the rare outliers that min-max
    calibration stretches every range for; convolution outputs, additions and the residual stream
    stay float) with its sr_tf metadata.

    Layouts (`float_convolutions`): ALL_INT8 keeps only the last convolution float and is the
    fastest; GUARDED also keeps the residual-stream readers float. `layout` forces one; by default,
    with `check_pairs`, ALL_INT8 is kept when it loses at most FAST_INT8_MAX_LOSS dB on them against
    the float network, else GUARDED; without them, GUARDED. A network without residual-stream
    readers (BTSRN) has only ALL_INT8. `reference`: the float network's Predictor at `scale`, if
    the caller has one (else built here). ONNX Runtime's quantizer; OpenVINO or ONNX Runtime run
    the file."""
    if layout not in (None, ALL_INT8, GUARDED):
        raise ValueError(
            f"unknown int8 layout {layout!r}: {ALL_INT8}, {GUARDED} or None (chosen by measurement)"
        )
    onnx = runtimes.require("onnx", "int8 ONNX")
    runtimes.require("onnxruntime.quantization", "int8 ONNX")
    inputs = network_inputs(network, scale, calibration_lrs)
    folder = tempfile.mkdtemp(prefix="sr_tf_int8_onnx_")
    try:
        float_path = os.path.join(folder, "float.onnx")
        with open(float_path, "wb") as f:
            f.write(convert_onnx(network, scale))
        float_model = onnx.load(float_path)
        guarded = float_convolutions(float_model, GUARDED)
        all_int8 = float_convolutions(float_model, ALL_INT8)
        input_name = float_model.graph.input[0].name
        if guarded == all_int8:  # no residual-stream readers: the one layout is all int8
            layouts = [ALL_INT8]
        elif layout is not None:
            layouts = [layout]
        else:
            layouts = [GUARDED] if check_pairs is None else [ALL_INT8, GUARDED]
        if reference is None:  # the float network, and its receptive radius for the metadata
            reference = base.network_predictor(network, scale=scale)
        info = network_info(network, scale, "int8", reference.radii[scale])
        for candidate in layouts:
            kept = all_int8 if candidate == ALL_INT8 else guarded
            quantized = _quantize_onnx(float_path, input_name, inputs, kept, percentile)
            content = _with_info(quantized, {**info, "int8_layout": candidate})
            if candidate == layouts[-1]:
                return content
            if _loss_on(reference, scale, content, check_pairs, folder) <= FAST_INT8_MAX_LOSS:
                return content
    except runtimes.MissingRuntime:
        raise
    except Exception as error:  # the quantizer raises many kinds
        raise ValueError(f"int8 ONNX quantization of x{scale} failed: {error}") from error
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _loss_on(reference, scale, content, pairs, folder):
    """dB an int8 ONNX file (bytes) loses on `pairs` against the float network's `reference`
    predictor."""
    path = os.path.join(folder, "candidate.onnx")
    with open(path, "wb") as f:
        f.write(content)
    change, _, _ = psnr_change(reference, onnx_predictor(path), pairs, scale)
    return -change


def convert_float_tflite(network, scale):
    """Float32 TFLite bytes of the x`scale` network, with its sr_tf metadata."""
    single = models.branch(network, scale)
    folder = tempfile.mkdtemp(prefix="sr_tf_tflite_")
    try:
        single.export(folder, verbose=False)
        content = tf.lite.TFLiteConverter.from_saved_model(folder).convert()
    except Exception as error:  # the converter raises its own ConverterError
        raise ValueError(f"TFLite conversion of x{scale} failed: {error}") from error
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return runtimes.tflite_with_metadata(content, network_info(network, scale, "fp32"))


def convert_onnx(network, scale):
    """ONNX bytes of the x`scale` network (float32, opset 17, open height and width), with its
    sr_tf metadata in metadata_props."""
    runtimes.require("tf2onnx", "--format=onnx")
    return runtimes.network_to_onnx(models.branch(network, scale), network_info(network, scale, "fp32"))


# ------------------------------------------------------------------------------------ predictors


# LiteRT's XNNPACK delegate needs far more memory per call than TensorFlow (platform notes: 8 GB for
# a 451x300 x2 image): its tiles stay this small, so memory stays bounded at any image size.
LITERT_MAX_MEGAPIXELS = 0.25


def predictor_for_runner(info, run, source, runtime):
    scale = int(info["scale"])
    budget = LITERT_MAX_MEGAPIXELS if runtime.startswith("litert") else None
    return Predictor(
        info["model"],
        source,
        {scale: RunnerHead(info, run)},
        {scale: int(info["receptive_radius"])},
        keep_alive=run,
        runtime=runtime,
        max_megapixels=budget,
    )


def tflite_predictor(path):
    """A Predictor of a .tflite file sr_tf wrote: a network file (int8 or float, head in TF) or the
    full-image model inside an sr_tf SavedModel folder (uint8 in, float signature)."""
    with open(path, "rb") as f:
        content = f.read()
    info = runtimes.tflite_metadata(content)
    if info is not None:
        run = runtimes.LiteRtRunner(content)
        return predictor_for_runner(info, run, os.fspath(path), f"litert {info.get('precision', 'fp32')}")
    from sr_tf.inference import saved_models

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isfile(os.path.join(folder, saved_models.METADATA_FILE)):
        raise ValueError(f"{path}: a .tflite file without sr_tf's description (not written by sr_tf.export)")

    info = saved_models.read_metadata(folder)
    runner = runtimes.LiteRtRunner(content, signature="upscale_float")

    @tf.function(input_signature=[IMAGE])
    def run(image):
        sr = tf.numpy_function(
            lambda a: np.asarray(runner(None, image=a), np.float32), [image], tf.float32, stateful=False
        )
        sr.set_shape([None, None, 3])
        return sr

    scale = int(info["scale"])
    return Predictor(
        info["model"],
        os.fspath(path),
        {scale: run},
        {scale: int(info["receptive_radius"])},
        keep_alive=runner,
        runtime="litert fp32",
        max_megapixels=LITERT_MAX_MEGAPIXELS,
    )


def onnx_predictor(path, runtime=None):
    """A Predictor of an .onnx network file sr_tf wrote: run by OpenVINO when it is installed
    (float files in f32, int8 files with bf16 around the int8 layers), else by ONNX Runtime."""
    info = runtimes.onnx_metadata(path)
    if info is None:
        raise ValueError(f"{path}: an .onnx file without sr_tf's description (not written by sr_tf.export)")
    precision = info.get("precision", "fp32")
    runtime = runtime or ("openvino" if runtimes.available("openvino") else "onnxruntime")
    if runtime == "openvino":
        run = runtimes.OpenVinoRunner(os.fspath(path), "bf16" if precision == "int8" else "fp32")
    else:
        run = runtimes.OnnxRunner(path)
    return predictor_for_runner(info, run, os.fspath(path), f"{runtime} {precision}")


def openvino_predictor(network, source, precision):
    """The network compiled by OpenVINO (precision bf16 or fp32), every scale."""

    def one_scale(scale):
        runner = runtimes.OpenVinoRunner(runtimes.openvino_model(models.branch(network, scale)), precision)
        used = runner.precision.lower()
        label = "bf16" if "bf16" in used or "bfloat16" in used else "fp32"
        return predictor_for_runner(
            network_info(network, scale, precision), runner, source, f"openvino {label}"
        )

    return per_scale_predictor(network, source, one_scale)


def weights_digest(network):
    digest = hashlib.sha256(json.dumps(models.describe(network), sort_keys=True).encode())
    for weight in network.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()[:16]


def int8_network_file(network, scale, cache_dir=None, file_format="onnx"):
    """The cached int8 network file (onnx or tflite) of `network` at `scale`, made once, calibrated
    on `samples`."""
    from sr_tf.data.pairs import default_cache_dir

    folder = os.path.join(cache_dir or default_cache_dir(), "int8")
    stem = f"{models.describe(network)['model']}_x{scale}_{weights_digest(network)}_r{INT8_RECIPE}"
    path = os.path.join(folder, f"{stem}.{file_format}")
    if not os.path.isfile(path):
        calibrate, check = calibration_split(CALIBRATION_DATA, scale)
        if file_format == "onnx":
            content = convert_int8_onnx(network, scale, calibration_crops(calibrate), check)
        else:
            content = convert_int8(network, scale, calibration_crops(calibrate))
        write_bytes_atomically(path, content)
    return path


def calibration_split(source, scale):
    """(calibration pairs, check pairs) of a data source: its train and valid splits, or its
    held-out tenth (check None when it has too few images to hold some out)."""
    from sr_tf.data import sources
    from sr_tf.data.pairs import held_out_split

    if sources.has_validation_split(source):
        return sources.open_pairs(source, scale, "train"), sources.open_pairs(source, scale, "valid")
    return held_out_split(sources.open_pairs(source, scale))


def int8_predictor(network, source):
    """The network quantized to int8 ONNX (cached, see int8_network_file), every scale."""

    def one_scale(scale):
        return onnx_predictor(int8_network_file(network, scale))

    return per_scale_predictor(network, source, one_scale)


def resolve_precision(precision):
    """`auto` -> bf16 when OpenVINO is installed and the CPU runs bf16 natively, else fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if runtimes.openvino_bf16_native() else "fp32"
    return precision


def network_predictor(network, source, precision):
    """A Predictor of a Keras network at a precision other than fp32."""
    if precision == "int8":
        return int8_predictor(network, source)
    return openvino_predictor(network, source, precision)


# -------------------------------------------------------------------------------- PSNR change


def psnr_change(reference, candidate, pairs, scale):
    """Mean PSNR of `candidate` minus that of `reference` on `pairs` (the benchmark protocol:
    Y channel, `scale` pixels shaved; uint8 outputs), and both means."""
    from sr_tf.evaluation import scoring

    protocol = metrics.protocol_for(pairs, scale)
    ref = scoring.evaluate(reference, pairs, scale, protocol)["psnr"]
    new = scoring.evaluate(candidate, pairs, scale, protocol)["psnr"]
    return new - ref, ref, new


def remove_quietly(path):
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.remove(path)
