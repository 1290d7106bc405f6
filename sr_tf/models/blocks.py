"""The four residual blocks of the BTSRN paper (Fig. 2), in the release's geometry.

Every block is pre-activation (leaky ReLU, slope 0.2, before each convolution), its 3x3
convolution is `valid`, so the identity shortcut is centre-cropped by one pixel per side,
and nothing follows the addition. `width` is h (channels in and out), `bottleneck` is b.
"""

from sr_tf.core.lazy import keras

LEAKY_SLOPE = 0.2


def lrelu(x):
    """Leaky ReLU, in the form that keeps TF's conv fusions in BTSRN graphs (see UnfusedLeakyReLU)."""
    from sr_tf.models.layers import UnfusedLeakyReLU

    return UnfusedLeakyReLU(negative_slope=LEAKY_SLOPE)(x)


def conv(x, filters, kernel_size, name):
    """A release convolution: valid padding, Glorot-uniform kernel, zero bias (Keras defaults)."""
    return keras.layers.Conv2D(filters, kernel_size, padding="valid", name=name)(x)


def shortcut(x, branch, name):
    cropped = keras.layers.Cropping2D(1, name=f"{name}_crop")(x)
    return keras.layers.Add(name=f"{name}_add")([cropped, branch])


def pconv_block(x, name, width, bottleneck):
    """Fig. 2d, BTSRN's projected convolution: act, 1x1 h->b, act, 3x3 b->h."""
    y = conv(lrelu(x), bottleneck, 1, f"{name}_proj")
    y = conv(lrelu(y), width, 3, f"{name}_filt")
    return shortcut(x, y, name)


def pixelcnn_block(x, name, width, bottleneck):
    """Fig. 2a, PixelCNN's residual block: act, 1x1 h->b, act, 3x3 b->b, act, 1x1 b->h."""
    y = conv(lrelu(x), bottleneck, 1, f"{name}_proj")
    y = conv(lrelu(y), bottleneck, 3, f"{name}_filt")
    y = conv(lrelu(y), width, 1, f"{name}_expand")
    return shortcut(x, y, name)


def gated_block(x, name, width, bottleneck, gate="tanh"):
    """Fig. 2b, PixelCNN's gated conv: act, 1x1 h->b, act, 3x3 b->2b, tanh(u)*sigmoid(v), 1x1 b->h."""
    from sr_tf.models.layers import Gate

    y = conv(lrelu(x), bottleneck, 1, f"{name}_proj")
    y = conv(lrelu(y), 2 * bottleneck, 3, f"{name}_filt")
    y = Gate(gate, name=f"{name}_gate")(y)
    y = conv(y, width, 1, f"{name}_expand")
    return shortcut(x, y, name)


def gated_pp_block(x, name, width, bottleneck):
    """Fig. 2c, PixelCNN++'s gated conv: as `gated_block` with u*sigmoid(v)."""
    return gated_block(x, name, width, bottleneck, gate="identity")


BLOCKS = {
    "pconv": pconv_block,
    "pixelcnn": pixelcnn_block,
    "gated": gated_block,
    "gated_pp": gated_pp_block,
}
