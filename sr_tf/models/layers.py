"""Custom Keras layers of sr_tf. Every one is registered and serialisable (no Lambda layers)."""

import keras
import numpy as np
import tensorflow as tf

PACKAGE = "sr_tf"


@keras.saving.register_keras_serializable(package=PACKAGE)
class DepthToSpace(keras.layers.Layer):
    """Sub-pixel shuffle: (H, W, C*r*r) -> (H*r, W*r, C), TF channel order (i*r + j)*C + c."""

    def __init__(self, block_size, **kwargs):
        super().__init__(**kwargs)
        self.block_size = int(block_size)

    def call(self, inputs):
        return tf.nn.depth_to_space(inputs, self.block_size)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        r = self.block_size
        return (n, None if h is None else h * r, None if w is None else w * r, c // (r * r))

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Gate(keras.layers.Layer):
    """Splits channels in halves (u, v) and returns f(u) * sigmoid(v); f is tanh or identity."""

    def __init__(self, gate="tanh", **kwargs):
        super().__init__(**kwargs)
        if gate not in ("tanh", "identity"):
            raise ValueError(f"Gate: gate must be 'tanh' or 'identity', got {gate!r}")
        self.gate = gate

    def call(self, inputs):
        u, v = tf.split(inputs, 2, axis=-1)
        if self.gate == "tanh":
            u = tf.tanh(u)
        return u * tf.sigmoid(v)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // 2)

    def get_config(self):
        return {**super().get_config(), "gate": self.gate}


@keras.saving.register_keras_serializable(package=PACKAGE)
class UnfusedLeakyReLU(keras.layers.LeakyReLU):
    """LeakyReLU that TF's grappler does not fuse into the convolution before it.

    The same function and gradient. Its input first passes through tf.ensure_shape, a check that
    copies nothing and that TFLite's converter folds away. This hides the activation from a bug of
    TF 2.21's grappler remapper: it fuses Conv2D+BiasAdd(+Add)+LeakyRelu even when the conv's (or
    the Add's) output also feeds another op (a block's shortcut, or in training the activation's
    gradient). The fused graph is invalid, so the remapper logs "remapper failed: ... fanout ...
    exist for missing node ..." and drops every fusion of the graph. Measured on BTSRN x2: the
    same outputs in fp32, no error line, and speed within 1-5% (docs/performance.md).
    """

    def call(self, inputs):
        any_shape = [None] * len(inputs.shape)
        return super().call(tf.ensure_shape(inputs, any_shape))


@keras.saving.register_keras_serializable(package=PACKAGE)
class SymmetricPad(keras.layers.Layer):
    """Pads H and W by `padding` pixels per side, mirroring with the edge pixel repeated.

    Equals tf.pad(mode='SYMMETRIC') whenever that op accepts the size, and keeps mirroring
    periodically for images smaller than the padding. Built from a gather, so it compiles
    with XLA and converts to TFLite builtins.
    """

    def __init__(self, padding, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def _indices(self, size):
        p = self.padding
        idx = tf.math.floormod(tf.range(-p, size + p), 2 * size)
        return tf.where(idx < size, idx, 2 * size - 1 - idx)

    def call(self, inputs):
        shape = tf.shape(inputs)
        x = tf.gather(inputs, self._indices(shape[1]), axis=1)
        return tf.gather(x, self._indices(shape[2]), axis=2)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        p2 = 2 * self.padding
        return (n, None if h is None else h + p2, None if w is None else w + p2, c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CropToScale(keras.layers.Layer):
    """Centre-crops `inputs[0]` to `scale` times the height and width of `inputs[1]`."""

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, inputs):
        x, reference = inputs
        h = tf.shape(reference)[1] * self.scale
        w = tf.shape(reference)[2] * self.scale
        top = (tf.shape(x)[1] - h) // 2
        left = (tf.shape(x)[2] - w) // 2
        return x[:, top : top + h, left : left + w, :]

    def compute_output_shape(self, input_shapes):
        (n, _, _, c), (_, h, w, _) = input_shapes
        s = self.scale
        return (n, None if h is None else h * s, None if w is None else w * s, c)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package=PACKAGE)
class QuantizeUint8(keras.layers.Layer):
    """uint8 = clip(floor(x * scale + 0.5), 0, 255): round half up with saturation, as the release
    (`sr_tf.models.quantize` is the same in numpy)."""

    def __init__(self, scale=255.0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        x = tf.floor(tf.cast(inputs, tf.float32) * self.scale + 0.5)
        return tf.cast(tf.clip_by_value(x, 0.0, 255.0), tf.uint8)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype="uint8")

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def keys_cubic(x, a=-0.5):
    """Keys' cubic convolution kernel (a = -0.5 is the 'bicubic' of MATLAB, Pillow and TF)."""
    x = np.abs(np.asarray(x, dtype=np.float64))
    near = (a + 2) * x**3 - (a + 3) * x**2 + 1
    far = a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def bicubic_phase_taps(scale):
    """1-D taps (scale, 5): output pixel k*scale + p reads input pixels k-2..k+2 with row p.

    Sample positions use half-pixel centres, u = (x + 0.5) / scale - 0.5, the convention of
    tf.image.resize. TF's ResizeBicubic looks its weights up in a 1024-entry table, so the
    fractional offset is quantised the same way here to match it.
    """
    taps = np.zeros((scale, 5))
    for p in range(scale):
        u = (p + 0.5) / scale - 0.5
        base = np.floor(u)
        frac = np.round((u - base) * 1024) / 1024
        for t in range(4):  # taps floor(u)-1 .. floor(u)+2
            taps[p, int(base) - 1 + t + 2] = keys_cubic(frac + 1 - t)
    return taps


@keras.saving.register_keras_serializable(package=PACKAGE)
class BicubicUpsample(keras.layers.Layer):
    """Bicubic x`scale` upsampling as tf.image.resize(method='bicubic'), from fixed convolutions.

    A 5x5 convolution gives every output phase (scale*scale of them) and a depth-to-space
    interleaves them. Taps outside the image are dropped and the rest renormalised, as TF does.
    No ResizeBicubic op is used, so the layer compiles with XLA and converts to TFLite builtins.
    """

    def __init__(self, scale, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.scale = int(scale)
        taps = bicubic_phase_taps(self.scale)
        # phase[a, b, i*scale + j] = taps[i, a] * taps[j, b]
        self._phases = np.einsum("ia,jb->abij", taps, taps).reshape(5, 5, -1).astype(np.float32)

    def build(self, input_shape):
        channels = input_shape[-1]
        s2 = self.scale * self.scale
        # Block-diagonal kernel: output channel phase*C + c reads input channel c only, the
        # order depth_to_space expects.
        kernel = np.zeros((5, 5, channels, s2 * channels), np.float32)
        for c in range(channels):
            kernel[:, :, c, c::channels] = self._phases
        self._kernel = kernel
        self._ones_kernel = self._phases[:, :, None, :]

    def call(self, inputs):
        x = tf.cast(inputs, tf.float32)
        weighted = tf.nn.conv2d(x, tf.constant(self._kernel), 1, "SAME")
        # The sum of the in-image taps of each output pixel: 1 inside, less at the borders.
        weight = tf.nn.conv2d(tf.ones_like(x[..., :1]), tf.constant(self._ones_kernel), 1, "SAME")
        return tf.nn.depth_to_space(weighted, self.scale) / tf.nn.depth_to_space(weight, self.scale)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        s = self.scale
        return (n, None if h is None else h * s, None if w is None else w * s, c)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}
