"""Fast CPU inference outside TensorFlow: OpenVINO (bf16 / fp32), LiteRT (TFLite files, int8) and
ONNX Runtime (ONNX files). Each runtime is an optional extra, imported only when a path needs it.

A runtime runs the *network* only (what the Keras training network computes: LR in the model's
value range, BTSRN padded, -> its output). The model's inference head (BTSRN's symmetric padding,
crop and float bicubic residual, the scaling to 0..255) stays in TensorFlow, built by the same
head function as the Keras inference model, with `ExternalNetwork` in place of the network (or,
for EDSR / MDSR called eagerly, in numpy: accelerated.RunnerHead). So int8 never touches the
bicubic path or the final addition.
"""

import collections
import contextlib
import importlib
import io
import json
import os

import numpy as np
import tensorflow as tf

# Python module -> the sr_tf extra that installs it.
EXTRAS = {
    "openvino": "fast",
    "ai_edge_litert": "fast",
    "onnxruntime": "onnx",
    "tf2onnx": "onnx",
    "onnx": "onnx",
    "torch": "bench",
}
# `fast` also installs what `onnx` does: OpenVINO reads the networks in their ONNX form.
METADATA_KEY = "sr_tf"  # the sr_tf.json description embedded in .tflite / .onnx files
MAX_STATIC_SHAPES = 4  # OpenVINO: compiled copies kept, one per recent input shape


class MissingRuntime(ValueError):
    """A path that needs an optional extra which is not installed; the message names the extra."""


def require(module, what):
    """Imports `module` or raises MissingRuntime naming the extra to install for `what`."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        extra = EXTRAS[module.split(".")[0]]
        raise MissingRuntime(
            f"{what} needs {module.split('.')[0]}, which is not installed: pip install 'sr_tf[{extra}]'"
        ) from error


def available(module):
    try:
        importlib.import_module(module)
        return True
    except ImportError:
        return False


def cpu_threads():
    return len(os.sched_getaffinity(0))


class ExternalNetwork:
    """Stands in for the Keras network inside an inference head: calls `run` (numpy float32
    [1, h, w, 3] -> float32 [1, H, W, 3]) through tf.numpy_function. `margin` is the HR pixels per
    side a valid-padding network loses (BTSRN), so the head pads and crops as for the real one."""

    def __init__(self, run, scale, margin):
        self.run, self.scale, self.margin = run, int(scale), int(margin)

    def compute_output_shape(self, shape):
        n, h, w, _ = shape
        return (n, h * self.scale - 2 * self.margin, w * self.scale - 2 * self.margin, 3)

    def __call__(self, x):
        y = tf.numpy_function(
            lambda a: np.asarray(self.run(np.ascontiguousarray(a, np.float32)), np.float32),
            [tf.cast(x, tf.float32)],
            tf.float32,
            stateful=False,
        )
        y.set_shape([None, None, None, 3])
        return y


# ---------------------------------------------------------------------------------- runners


class LiteRtRunner:
    """A TFLite file's first signature (or its only input) through LiteRT with XNNPACK; the input is
    resized when its shape changes, so memory follows the tile, not the image."""

    def __init__(self, content, signature=None, threads=None):
        interpreter = require("ai_edge_litert.interpreter", "running a .tflite file")
        self.interpreter = interpreter.Interpreter(
            model_content=bytes(content), num_threads=threads or cpu_threads()
        )
        self.runner = self.interpreter.get_signature_runner(signature) if signature else None
        if self.runner is None:  # tensors are allocated for the first input's shape
            self.input = self.interpreter.get_input_details()[0]
            self.output = self.interpreter.get_output_details()[0]
            self.shape = None

    def __call__(self, array, **named):
        if self.runner is not None:
            return next(iter(self.runner(**named).values()))
        array = np.asarray(array, self.input["dtype"])
        if array.shape != self.shape:
            self.interpreter.resize_tensor_input(self.input["index"], array.shape, strict=False)
            self.interpreter.allocate_tensors()
            self.shape = array.shape
        self.interpreter.set_tensor(self.input["index"], array)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])


class OnnxRunner:
    """An ONNX file through ONNX Runtime's CPU provider."""

    def __init__(self, path, threads=None):
        ort = require("onnxruntime", "running an .onnx file")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or cpu_threads()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def __call__(self, array):
        return self.session.run(None, {self.input: array})[0]


class OpenVinoRunner:
    """A network compiled by OpenVINO for the CPU. precision "bf16" runs bf16 where the CPU has it
    (AVX512-BF16 / AMX; int8 layers of an int8 model stay int8), "fp32" forces float32.

    OpenVINO runs a model compiled for one input shape 1.4-2.3x faster than the same model with open
    height and width (docs/performance.md), so each shape gets a compiled copy. Each copy holds its
    own activation memory (about 1 GB for BTSRN x4 on a Set14 image), so only the `max_shapes` most
    recently used stay compiled: a tiled image needs one or two, a folder of many sizes compiles as
    it goes."""

    def __init__(self, model, precision="bf16", threads=None, max_shapes=MAX_STATIC_SHAPES):
        self.ov = require("openvino", f"--precision={precision}")
        self.core = self.ov.Core()
        self.model = (
            self.core.read_model(os.fspath(model)) if isinstance(model, (str, os.PathLike)) else model
        )
        hint = {"bf16": "bf16", "fp32": "f32"}[precision]
        self.config = {
            "INFERENCE_NUM_THREADS": threads or cpu_threads(),
            "INFERENCE_PRECISION_HINT": hint,
            "PERFORMANCE_HINT": "LATENCY",
        }
        self.max_shapes = max_shapes
        self.compiled = collections.OrderedDict()  # input shape -> infer request, oldest use first
        # Compiled once with open height and width, not kept: it checks the model at once and says
        # which precision the CPU grants; the per-shape copies run.
        checked = self.core.compile_model(self.model, "CPU", self.config)
        self.precision = str(checked.get_property("INFERENCE_PRECISION_HINT"))

    def _compile(self, model):
        return self.core.compile_model(model, "CPU", self.config).create_infer_request()

    def _request(self, shape):
        if shape in self.compiled:
            self.compiled.move_to_end(shape)
            return self.compiled[shape]
        while len(self.compiled) >= self.max_shapes:
            self.compiled.popitem(last=False)  # the least recently used copy, and its memory
        fixed = self.model.clone()
        fixed.reshape(list(shape))
        self.compiled[shape] = self._compile(fixed)
        return self.compiled[shape]

    def __call__(self, array):
        request = self._request(tuple(array.shape))
        request.infer({0: array})
        return request.get_output_tensor(0).data.copy()


def openvino_model(network):
    """An OpenVINO model of a Keras network with input [1, H, W, 3] float32 (H, W open), read from
    its ONNX form: OpenVINO's ONNX reader gives a 3x faster BTSRN than its TensorFlow one here."""
    ov = require("openvino", "OpenVINO inference")
    onnx_bytes = network_to_onnx(network)
    return ov.Core().read_model(onnx_bytes, b"")  # ONNX bytes, no separate weights


def network_to_onnx(network, metadata=None):
    """ONNX bytes (opset 17, input [1, H, W, 3] float32 named `lr`) of a Keras network."""
    tf2onnx = require("tf2onnx", "ONNX conversion")
    function = tf.function(lambda x: network(x, training=False))
    spec = (tf.TensorSpec((1, None, None, 3), tf.float32, name="lr"),)
    with contextlib.redirect_stdout(io.StringIO()):
        proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=17)
    convolution_before_shuffle(proto)
    if metadata is not None:
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
    return proto.SerializeToString()


def convolution_before_shuffle(model):
    """Rewrites, in an ONNX graph (NCHW) whose last convolution is a 3x3 stride-1 SAME one fed only
    by a pixel shuffle (DepthToSpace, DCR), as EDSR's and MDSR's are, that convolution as one on
    the low-resolution grid followed by the shuffle of its output. Each output value is the same
    sum of the same products (the new kernel holds the old weights at the sub-pixel offsets they
    reach, zeros elsewhere), and the high-resolution grid's zero padding is the low one's. The
    shuffle then moves 3 r^2 channels instead of 64, OpenVINO runs the upsampling convolution
    before it faster, and EDSR's mean is added in float32 after the bf16 convolution instead of
    inside it (docs/performance.md). Only the last convolution: an upsampling convolution (x4's
    second) rewritten so would do 4x the work, with 256 output channels to fill instead of 3.
    In place; returns whether it rewrote."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    conv = [node for node in graph.node if node.op_type == "Conv"][-1]
    shuffle = next((node for node in graph.node if conv.input[0] in node.output), None)
    if (
        shuffle is None
        or shuffle.op_type != "DepthToSpace"
        or sum(shuffle.output[0] in node.input for node in graph.node) != 1
        or _attributes(shuffle).get("mode", b"DCR") not in (b"DCR", "DCR")
        or not _same_3x3(conv)
        or any(name not in initializers for name in conv.input[1:])
    ):
        return False
    r = _attributes(shuffle)["blocksize"]
    name = conv.name + "_before_shuffle"
    weights = numpy_helper.to_array(initializers[conv.input[1]])
    new = [(name + "_weights", _low_resolution_kernel(weights, r))]
    if len(conv.input) > 2:
        new.append((name + "_bias", np.tile(numpy_helper.to_array(initializers[conv.input[2]]), r * r)))
    position = list(graph.node).index(shuffle)  # nothing in between reads the shuffle
    for node in (shuffle, conv):
        graph.node.remove(node)
    graph.node.insert(
        position,
        helper.make_node("DepthToSpace", [name], list(conv.output), name=name + "_shuffle", blocksize=r),
    )
    graph.node.insert(
        position,
        helper.make_node("Conv", [shuffle.input[0], *(n for n, _ in new)], [name], name=name, pads=[1] * 4),
    )
    for old in conv.input[1:]:  # the old kernel and bias, unless something else reads them
        if not any(old in node.input for node in graph.node):
            graph.initializer.remove(initializers[old])
    graph.initializer.extend(numpy_helper.from_array(array, n) for n, array in new)
    return True


def _attributes(node):
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _same_3x3(conv):
    """A 3x3 convolution, stride 1, no dilation or groups, padded by 1 on every side."""
    a = _attributes(conv)
    return (
        list(a.get("kernel_shape", [])) == [3, 3]
        and list(a.get("strides", [1, 1])) == [1, 1]
        and list(a.get("dilations", [1, 1])) == [1, 1]
        and a.get("group", 1) == 1
        and (a.get("auto_pad") in (b"SAME_UPPER", b"SAME_LOWER") or list(a.get("pads", [])) == [1] * 4)
    )


def _low_resolution_kernel(weights, r):
    """The 3x3 kernel [r*r*out, r*r*in, 3, 3] on the low-resolution grid (channels in DCR order)
    that computes, before a pixel shuffle by r, what `weights` [out, in, 3, 3] computes after it."""
    out_channels, in_channels = weights.shape[:2]
    kernel = np.zeros((r * r * out_channels, r * r * in_channels, 3, 3), weights.dtype)
    for a in range(r):  # the output's sub-pixel row and column
        for b in range(r):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ta, tb = a + dy, b + dx  # the input's sub-pixel position, from the output's cell
                    rows = (a * r + b) * out_channels
                    cols = ((ta % r) * r + tb % r) * in_channels
                    kernel[
                        rows : rows + out_channels, cols : cols + in_channels, ta // r + 1, tb // r + 1
                    ] = weights[:, :, dy + 1, dx + 1]
    return kernel


def openvino_bf16_native():
    """True when OpenVINO would run bf16 on this CPU (AVX512-BF16 or AMX)."""
    if not available("openvino"):
        return False
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


# --------------------------------------------------------------------------- embedded metadata


def tflite_with_metadata(content, info):
    """TFLite bytes with `info` (a dict) embedded as the model's `sr_tf` metadata buffer."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(info).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_KEY, len(model.buffers) - 1
    model.metadata = [
        m for m in (model.metadata or []) if m.name not in (METADATA_KEY, METADATA_KEY.encode())
    ] + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def tflite_metadata(content):
    """The `sr_tf` dict embedded in TFLite bytes, or None."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    for entry in model.metadata or []:
        name = entry.name.decode() if isinstance(entry.name, bytes) else entry.name
        if name == METADATA_KEY:
            return json.loads(bytes(model.buffers[entry.buffer].data).decode())
    return None


def onnx_metadata(path):
    """The `sr_tf` dict in an ONNX file's metadata_props, or None."""
    onnx = require("onnx", "reading an .onnx file")
    model = onnx.load(os.fspath(path), load_external_data=False)
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            return json.loads(prop.value)
    return None
