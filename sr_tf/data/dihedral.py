"""The 8 dihedral transforms of an image (flips and transposes) and their inverses.

Transform k (0..7) applies, in this order: bit 0 a left-right flip, bit 1 an up-down flip,
bit 2 a transpose of height and width (the order of EDSR's self-ensemble). Images are
[..., H, W, C] tensors; k is a Python int or a scalar int tensor (as in tf.data).
"""

import tensorflow as tf

NUM_TRANSFORMS = 8


def _steps(x):
    rank = x.shape.rank
    height, width = rank - 3, rank - 2
    perm = list(range(rank))
    perm[height], perm[width] = width, height
    return (
        lambda y: tf.reverse(y, [width]),
        lambda y: tf.reverse(y, [height]),
        lambda y: tf.transpose(y, perm),
    )


def _apply(x, k, bits):
    steps = _steps(x)
    for bit in bits:
        if isinstance(k, int):
            x = steps[bit](x) if k >> bit & 1 else x
        else:
            x = tf.cond(
                tf.bitwise.bitwise_and(k, 1 << bit) > 0,
                lambda step=steps[bit], y=x: step(y),
                lambda y=x: y,
            )
    return x


def dihedral(x, k):
    """Transform k of x."""
    x = tf.convert_to_tensor(x)
    return _apply(x, k, (0, 1, 2))


def undo_dihedral(x, k):
    """The inverse of `dihedral(., k)`: undoes its steps in reverse order."""
    x = tf.convert_to_tensor(x)
    return _apply(x, k, (2, 1, 0))
