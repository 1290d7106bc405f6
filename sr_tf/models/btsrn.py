"""BTSRN, the release's two-stage network (`model_resnet_up.py`), read top-down like Fig. 1.

LR RGB in [0, 1] -> shift by -0.5 -> 1x1 conv to `width` -> low-resolution blocks ->
NN upsampling + deconvolution (x4: two x2 steps with one block between) -> high-resolution
blocks -> leaky ReLU -> 1x1 conv to RGB: the residual over the bicubic upsampled LR, in [0, 1]
units, for the valid centre region (every 3x3 convolution is `valid`).
"""

from sr_tf.core.lazy import keras
from sr_tf.models.blocks import BLOCKS, conv, lrelu

SCALES = (2, 3, 4)
DEFAULTS = dict(block="pconv", low_blocks=6, high_blocks=4, width=128, bottleneck=64)
# Inference pads the LR image symmetrically by this many pixels per side (release `predict.py`).
INFERENCE_PADDING = 15


def upsample(x, scale, name):
    """NN upsampling of the features plus a transposed conv (kernel = stride = scale) of their act."""
    nearest = keras.layers.UpSampling2D(scale, interpolation="nearest", name=f"{name}_nearest")(x)
    deconv = keras.layers.Conv2DTranspose(x.shape[-1], scale, strides=scale, padding="valid", name=name)(
        lrelu(x)
    )
    return keras.layers.Add(name=f"{name}_add")([nearest, deconv])


def btsrn(scale, block="pconv", low_blocks=6, high_blocks=4, width=128, bottleneck=64):
    """The BTSRN graph at `scale` (checked by the spec: one of SCALES)."""
    if block not in BLOCKS:
        raise ValueError(f"btsrn: block must be one of {sorted(BLOCKS)}, got {block!r}")
    residual_block = BLOCKS[block]

    lr = keras.Input(shape=(None, None, 3), name="lr")
    x = keras.layers.Rescaling(1.0, offset=-0.5, name="shift")(lr)
    x = conv(x, width, 1, "in")

    for i in range(low_blocks):
        x = residual_block(x, f"lr_conv{i}", width, bottleneck)

    if scale == 4:
        x = upsample(x, 2, "up1")
        x = residual_block(x, "up_conv", width, bottleneck)
        x = upsample(x, 2, "up2")
    else:
        x = upsample(x, scale, "up")

    for i in range(high_blocks):
        x = residual_block(x, f"hr_conv{i}", width, bottleneck)

    residual = keras.layers.Conv2D(3, 1, padding="valid", name="out", dtype="float32")(lrelu(x))
    name = f"btsrn_{block}_x{scale}"
    return keras.Model(lr, residual, name=name)
