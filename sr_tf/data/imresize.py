"""MATLAB-exact bicubic `imresize` for uint8 images, in numpy and in TF graph mode.

Both functions equal MATLAB's `imresize(image, scale, 'bicubic')` bit for bit, the way DIV2K and
the benchmark sets' LR images were made:

* Keys cubic kernel (a = -0.5); when shrinking it is stretched by 1/scale (antialiasing), so it
  spans 4/scale input pixels;
* output pixel x (1-based) samples the input at u = x/scale + 0.5*(1 - 1/scale) (1-based);
* taps that fall outside the image repeat the edge pixel;
* one pass per axis, height first then width, each computed in float64 and rounded to uint8
  (round half up, clipped to 0..255) before the next.

The per-axis weights are built the same way in both versions and each output pixel is summed tap by
tap in the same order, so the numpy and TF versions give identical results.
"""

import math

import numpy as np
import tensorflow as tf

# float64 values per block of output rows in the numpy passes (keeps temporaries in cache).
_BLOCK_ELEMENTS = 1 << 15


# ----------------------------------------------------------------------------------------- checks


def _check_scale(scale):
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise ValueError(f"imresize: scale must be a positive number, got {scale!r}")
    scale = float(scale)
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"imresize: scale must be a positive finite number, got {scale!r}")
    return scale


def output_length(length, scale):
    """MATLAB's output size along one axis: ceil(length * scale)."""
    return math.ceil(length * _check_scale(scale))


# ------------------------------------------------------------------------------- kernel (numpy)


def _cubic(x):
    """Keys cubic (a = -0.5): 1.5|x|^3 - 2.5|x|^2 + 1 for |x| <= 1,
    -0.5|x|^3 + 2.5|x|^2 - 4|x| + 2 for 1 < |x| <= 2, else 0.

    Horner form, the one form TF's graph optimiser leaves alone (see the TF section).
    """
    absx = np.abs(x)
    near = (1.5 * absx - 2.5) * (absx * absx) + 1
    far = ((-0.5 * absx + 2.5) * absx - 4) * absx + 2
    return np.where(absx <= 1, near, np.where(absx <= 2, far, 0.0))


def _kernel_width(scale):
    return 4.0 / scale if scale < 1 else 4.0


def _num_taps(scale):
    return math.ceil(_kernel_width(scale)) + 2


def contributions(in_length, out_length, scale):
    """Weights (out, taps) float64 and 0-based input indices (out, taps) for one axis.

    MATLAB's `contributions` with edge replication; taps whose weight is zero for every output
    are dropped (adding them would add exact zeros).
    """
    kernel_width = _kernel_width(scale)
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # 1-based sample positions
    left = np.floor(u - kernel_width / 2)
    indices = left[:, None] + np.arange(_num_taps(scale), dtype=np.float64)
    distance = u[:, None] - indices
    if scale < 1:
        weights = scale * _cubic(scale * distance)
    else:
        weights = _cubic(distance)
    total = weights[:, 0]
    for tap in range(1, weights.shape[1]):  # summed tap by tap, as the TF version does
        total = total + weights[:, tap]
    weights = weights / total[:, None]
    indices = np.clip(indices, 1, in_length).astype(np.int64) - 1
    used = np.any(weights != 0, axis=0)
    return weights[:, used], indices[:, used]


# ------------------------------------------------------------------------------- passes (numpy)


def _round_to_uint8(values):
    """Round half up and clip, as MATLAB's conversion to uint8 does (overwrites `values`).

    Clipping first is the same as clipping last (the bounds are integers); the cast then
    truncates, which is floor for values >= 0.
    """
    np.clip(values, 0, 255, out=values)
    whole = values.astype(np.uint8)
    values -= whole  # the fraction, exactly
    return whole + (values >= 0.5)


def _resize_first_axis(image, scale):
    """Resize axis 0 of a uint8 (n, m) array; returns uint8 (ceil(n*scale), m).

    Output rows are made in blocks that fit in the CPU cache, each tap by tap: acc = w0*x0,
    then acc += wk*xk in tap order (the TF version adds in the same order).
    """
    in_length, columns = image.shape
    weights, indices = contributions(in_length, output_length(in_length, scale), scale)
    # Upscaling reads each input row several times: convert it to float64 once.
    source = image.astype(np.float64) if scale > 1 else image
    out = np.empty((weights.shape[0], columns), np.uint8)
    block = max(1, _BLOCK_ELEMENTS // max(columns, 1))
    acc_buffer, term_buffer = np.empty((2, block, columns))
    for start in range(0, weights.shape[0], block):
        rows = slice(start, start + block)
        w, idx = weights[rows], indices[rows]
        acc, term = acc_buffer[: len(w)], term_buffer[: len(w)]
        np.multiply(w[:, :1], source[idx[:, 0]], out=acc)
        for tap in range(1, w.shape[1]):
            np.multiply(w[:, tap : tap + 1], source[idx[:, tap]], out=term)
            acc += term
        out[rows] = _round_to_uint8(acc)
    return out


def imresize(image, scale):
    """MATLAB `imresize(image, scale, 'bicubic')` of a uint8 HxW or HxWxC array, bit for bit.

    Output size is ceil(H*scale) x ceil(W*scale) (x C); a 2-D input gives a 2-D output.
    """
    scale = _check_scale(scale)
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"imresize: expected a uint8 image, got dtype {image.dtype}")
    if image.ndim not in (2, 3):
        raise ValueError(f"imresize: expected an HxW or HxWxC image, got shape {image.shape}")
    if min(image.shape) == 0:
        raise ValueError(f"imresize: the image is empty (shape {image.shape})")
    if scale == 1:
        return image.copy()
    height, width = image.shape[:2]
    rest = image.shape[2:]
    # Height pass on (H, W*C) rows, then the width pass on the transposed (W, H'*C) rows.
    tall = _resize_first_axis(image.reshape(height, -1), scale)
    out_height = tall.shape[0]
    wide = np.ascontiguousarray(np.swapaxes(tall.reshape((out_height, width) + rest), 0, 1))
    wide = _resize_first_axis(wide.reshape(width, -1), scale)
    out_width = wide.shape[0]
    return np.ascontiguousarray(np.swapaxes(wide.reshape((out_width, out_height) + rest), 0, 1))


# ------------------------------------------------------------------------------ TF graph version
#
# Same operations in the same order as the numpy code above, written so that grappler's arithmetic
# rewrites (which regroup `(a + b) + constant`, `(a * b) * constant` and turn `x / constant` into
# `x * (1 / constant)`) find nothing to change: the cubic in Horner form, the division as DivNoNan,
# rounding without adding 0.5. tests/test_imresize.py checks the weight tables bit for bit in a
# graph.


def _tf_cubic(x):
    """`_cubic` in TF ops (same operations in the same order)."""
    absx = tf.abs(x)
    near = (1.5 * absx - 2.5) * (absx * absx) + 1
    far = ((-0.5 * absx + 2.5) * absx - 4) * absx + 2
    return tf.where(absx <= 1, near, tf.where(absx <= 2, far, tf.zeros_like(far)))


def _tf_contributions(in_length, scale):
    """`contributions` for a dynamic axis length, every tap kept (the caller drops zero taps)."""
    kernel_width = _kernel_width(scale)
    in_length_float = tf.cast(in_length, tf.float64)
    out_length = tf.cast(tf.math.ceil(in_length_float * scale), tf.int32)
    x = tf.cast(tf.range(1, out_length + 1), tf.float64)
    # x / scale, as a true division: grappler rewrites a division by a constant into a
    # multiplication by its reciprocal, which rounds differently. DivNoNan is left alone.
    u = tf.math.divide_no_nan(x, tf.constant(scale, tf.float64)) + 0.5 * (1 - 1 / scale)
    left = tf.floor(u - kernel_width / 2)
    indices = left[:, None] + tf.range(_num_taps(scale), dtype=tf.float64)[None, :]
    distance = u[:, None] - indices
    if scale < 1:
        weights = scale * _tf_cubic(scale * distance)
    else:
        weights = _tf_cubic(distance)
    total = weights[:, 0]
    for tap in range(1, _num_taps(scale)):
        total = total + weights[:, tap]
    weights = weights / total[:, None]
    indices = tf.cast(tf.clip_by_value(indices, 1.0, in_length_float), tf.int32) - 1
    return weights, indices


def _tf_resize_first_axis(image, scale):
    """Resize axis 0 of a uint8 [n, m, c] tensor; returns uint8 [ceil(n*scale), m, c].

    Drops the taps numpy drops (all-zero weights) and adds the others in the same order, in a
    while loop; starting from zeros gives numpy's sums exactly (0 + w*x equals w*x).
    """
    weights, indices = _tf_contributions(tf.shape(image)[0], scale)
    used = tf.where(tf.reduce_any(weights != 0, axis=0))[:, 0]
    weights, indices = tf.gather(weights, used, axis=1), tf.gather(indices, used, axis=1)
    out_shape = tf.concat([tf.shape(weights)[:1], tf.shape(image)[1:]], axis=0)

    def add_tap(tap, acc):
        pixels = tf.cast(tf.gather(image, indices[:, tap]), tf.float64)
        return tap + 1, acc + weights[:, tap, None, None] * pixels

    _, acc = tf.while_loop(
        lambda tap, acc: tap < tf.shape(weights)[1],
        add_tap,
        (tf.constant(0), tf.zeros(out_shape, tf.float64)),
    )
    return _tf_round_to_uint8(acc)


def _tf_round_to_uint8(values):
    """`_round_to_uint8` in TF ops. Not floor(values + 0.5): grappler would rewrite
    (acc + term) + 0.5 into acc + (term + 0.5), which rounds differently."""
    whole = tf.floor(values)
    rounded = whole + tf.cast(values - whole >= 0.5, tf.float64)
    return tf.cast(tf.clip_by_value(rounded, 0.0, 255.0), tf.uint8)


# Plain TF ops and Python loops over Python numbers: nothing for autograph to convert (it would
# only slow down tracing).
@tf.autograph.experimental.do_not_convert
def tf_imresize(image, scale):
    """`imresize` in TF ops for a uint8 [H, W, C] (or [H, W]) tensor of any size, e.g. in tf.data.

    `scale` is a Python number; the output equals the numpy `imresize` bit for bit.
    """
    scale = _check_scale(scale)
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.uint8:
        raise ValueError(f"tf_imresize: expected a uint8 image, got dtype {image.dtype.name}")
    if image.shape.rank not in (2, 3):
        raise ValueError(f"tf_imresize: expected an [H, W, C] or [H, W] image, got shape {image.shape}")
    if scale == 1:
        return tf.identity(image)
    tf.debugging.assert_positive(tf.size(image), message="tf_imresize: the image is empty")
    gray = image.shape.rank == 2
    if gray:
        image = image[:, :, None]
    tall = _tf_resize_first_axis(image, scale)
    wide = _tf_resize_first_axis(tf.transpose(tall, [1, 0, 2]), scale)
    out = tf.transpose(wide, [1, 0, 2])
    return out[:, :, 0] if gray else out
