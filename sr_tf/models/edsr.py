"""EDSR and MDSR as the official code builds them (0..255 in and out, frozen DIV2K mean shift).

EDSR: sub_mean -> head conv -> B residual blocks + body conv, long skip from the head ->
sub-pixel upsampler -> tail conv -> add_mean.
MDSR: one LR input, one output per scale. The head, the body and the tail conv are shared;
each scale has its own pre-processing (two 5x5 residual blocks) and upsampler.
"""

from sr_tf.core.lazy import keras

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)
RGB_RANGE = 255.0
SCALES = (2, 3, 4)
UPSAMPLER_STEPS = {2: (2,), 3: (3,), 4: (2, 2)}  # the sub-pixel steps of each scale (x4: two x2)
EDSR_DEFAULTS = {
    "edsr_baseline": dict(num_blocks=16, num_features=64, res_scale=1.0),
    "edsr": dict(num_blocks=32, num_features=256, res_scale=0.1),
}
MDSR_DEFAULTS = {
    "mdsr_baseline": dict(num_blocks=16, num_features=64, res_scale=1.0),
    "mdsr": dict(num_blocks=80, num_features=64, res_scale=1.0),
}


def same_conv(filters, kernel_size, name, **kwargs):
    return keras.layers.Conv2D(filters, kernel_size, padding="same", name=name, **kwargs)


def mean_shift(sign, name, dtype=None):
    """Adds sign * 255 * DIV2K mean per channel; it has no weights, so it cannot train."""
    offset = [sign * RGB_RANGE * m for m in DIV2K_MEAN]
    return keras.layers.Rescaling(1.0, offset=offset, name=name, dtype=dtype)


class ResBlock:
    """conv-ReLU-conv, times res_scale, plus the input. Call it on several inputs to share it."""

    def __init__(self, name, num_features, res_scale=1.0, kernel_size=3):
        self.conv1 = same_conv(num_features, kernel_size, f"{name}_conv1", activation="relu")
        self.conv2 = same_conv(num_features, kernel_size, f"{name}_conv2")
        self.scale = keras.layers.Rescaling(res_scale, name=f"{name}_scale") if res_scale != 1 else None
        self.add = keras.layers.Add(name=f"{name}_add")

    def __call__(self, x):
        y = self.conv2(self.conv1(x))
        if self.scale is not None:
            y = self.scale(y)
        return self.add([x, y])


def upsampler(x, scale, num_features, name):
    """Sub-pixel convolution: [conv to 4F, shuffle x2] twice for x4, [conv to 9F, shuffle x3] for x3."""
    from sr_tf.models.layers import DepthToSpace

    for i, r in enumerate(UPSAMPLER_STEPS[scale]):
        x = same_conv(num_features * r * r, 3, f"{name}_{i}_conv")(x)
        x = DepthToSpace(r, name=f"{name}_{i}_shuffle")(x)
    return x


def edsr(scale, num_blocks=16, num_features=64, res_scale=1.0, name="edsr"):
    """The EDSR graph at `scale` (checked by the spec: one of SCALES)."""
    lr = keras.Input(shape=(None, None, 3), name="lr")
    x = mean_shift(-1, "sub_mean")(lr)
    head = same_conv(num_features, 3, "head")(x)

    x = head
    for i in range(num_blocks):
        x = ResBlock(f"body_{i}", num_features, res_scale)(x)
    x = same_conv(num_features, 3, "body_conv")(x)
    x = keras.layers.Add(name="long_skip")([x, head])

    x = upsampler(x, scale, num_features, "up")
    x = same_conv(3, 3, "tail", dtype="float32")(x)
    sr = mean_shift(+1, "add_mean", dtype="float32")(x)
    return keras.Model(lr, sr, name=f"{name}_x{scale}")


def mdsr(scales=(2, 3, 4), num_blocks=16, num_features=64, res_scale=1.0, name="mdsr"):
    """The MDSR graph with one output per scale of `scales` (checked by the spec: distinct, in SCALES)."""
    lr = keras.Input(shape=(None, None, 3), name="lr")
    x = mean_shift(-1, "sub_mean")(lr)
    head = same_conv(num_features, 3, "head")(x)
    body_blocks = [ResBlock(f"body_{i}", num_features, res_scale) for i in range(num_blocks)]
    body_conv = same_conv(num_features, 3, "body_conv")
    tail = same_conv(3, 3, "tail", dtype="float32")

    outputs = []
    for s in scales:
        pre = head
        for i in range(2):
            pre = ResBlock(f"pre_x{s}_{i}", num_features, 1.0, kernel_size=5)(pre)
        x = pre
        for block in body_blocks:
            x = block(x)
        x = keras.layers.Add(name=f"long_skip_x{s}")([body_conv(x), pre])
        x = upsampler(x, s, num_features, f"up_x{s}")
        outputs.append(mean_shift(+1, f"add_mean_x{s}", dtype="float32")(tail(x)))
    return keras.Model(lr, outputs, name=name)


def mdsr_branch(model, scales, scale):
    """The single-scale sub-model of an MDSR model with outputs for `scales`: it shares (not
    copies) the parent's layers."""
    if scale not in scales:
        raise ValueError(f"{model.name}: no x{scale} branch; the model has scales {tuple(scales)}")
    return keras.Model(
        model.inputs[0], model.outputs[list(scales).index(scale)], name=f"{model.name}_x{scale}"
    )
