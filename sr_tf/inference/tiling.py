"""Tiled inference whose uint8 output equals whole-image inference.

Every super-resolution network here is local: an output pixel depends only on LR pixels within a
receptive-field radius R of its own LR position (BTSRN's symmetric padding and its bicubic term
are local too). So the LR image is cut into core tiles; each tile is run with R (or more) extra
LR pixels on every side that is not an image border, the extra part of the output is cropped
away, and the rest is written into a preallocated uint8 image. Near an image border a tile sees
that border exactly as the whole image does, so it is padded the same way.

Only one tile (plus the network's activations for it) is in memory at a time, besides the LR
input and the uint8 output; `auto_tile` picks a tile size from a budget in megapixels.
"""

import math
import sys

import numpy as np
from absl import logging

from sr_tf.core.lazy import keras
from sr_tf.models import quantize

# A tile core is never smaller than this (LR pixels), whatever the budget says.
MIN_TILE = 16


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def layer_radius(layer):
    """An upper bound, in pixels of the layer's input, of how far the layer looks from a pixel."""
    from sr_tf.models.layers import BicubicUpsample

    if isinstance(layer, BicubicUpsample):
        return 2  # a 5x5 tap window on the LR grid
    if isinstance(layer, keras.layers.Conv2DTranspose):
        kernel, strides = _pair(layer.kernel_size), _pair(layer.strides)
        return max(math.ceil(k / s) for k, s in zip(kernel, strides))
    if hasattr(layer, "kernel_size"):  # Conv2D, DepthwiseConv2D, SeparableConv2D, ...
        kernel, dilation = _pair(layer.kernel_size), _pair(getattr(layer, "dilation_rate", 1))
        return max(d * (k // 2) for k, d in zip(kernel, dilation))
    if hasattr(layer, "pool_size"):
        return max(_pair(layer.pool_size))
    return 0


def receptive_radius(model):
    """An upper bound of the receptive-field radius of `model` in LR pixels.

    The sum of every spatial layer's radius, counted as if all ran at LR resolution (layers after
    an upsampling look less far in LR pixels, so this only over-estimates), plus one for safety.
    """
    return sum(layer_radius(layer) for layer in _all_layers(model)) + 1


def split_axis(length, tile):
    """[(start, stop)] core ranges of nearly equal size (at most `tile`) covering 0..length."""
    count = max(1, math.ceil(length / tile))
    bounds = [round(i * length / count) for i in range(count + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _windows(length, tile, overlap):
    """[(core start, core stop, window start, window stop)] along one axis. Every window has the same
    size (the largest core plus `overlap` on both sides, at most `length`): near a border it is
    shifted inward instead of clipped, so a runtime that compiles per input shape sees one shape.
    A core keeps `overlap` pixels of context on each side, or the window reaches the border."""
    cores = split_axis(length, tile)
    size = min(length, max(stop - start for start, stop in cores) + 2 * overlap)
    return [
        (
            start,
            stop,
            min(max(0, start - overlap), length - size),
            min(max(0, start - overlap), length - size) + size,
        )
        for start, stop in cores
    ]


def plan_tiles(height, width, tile, overlap):
    """[(core, window)] boxes (top, bottom, left, right) in LR pixels; window = core + overlap (or
    more), all windows of one size."""
    boxes = []
    for top, bottom, w_top, w_bottom in _windows(height, tile, overlap):
        for left, right, w_left, w_right in _windows(width, tile, overlap):
            boxes.append(((top, bottom, left, right), (w_top, w_bottom, w_left, w_right)))
    return boxes


def auto_tile(height, width, scale, overlap, max_megapixels):
    """A core tile size (LR pixels) whose network call stays within `max_megapixels` of output,
    or 0 when the whole image fits."""
    if not max_megapixels or max_megapixels <= 0:
        return 0
    budget = max_megapixels * 1e6
    if height * width * scale * scale <= budget:
        return 0
    side = int(math.sqrt(budget) / scale) - 2 * overlap
    if side < MIN_TILE:
        logging.warning(
            "--max_megapixels=%g leaves tiles of %d LR pixels after an overlap of %d; using %d",
            max_megapixels,
            side,
            overlap,
            MIN_TILE,
        )
        side = MIN_TILE
    return side


def tiled_upscale(float_fn, lr, scale, tile, overlap, progress=False):
    """uint8 SR of `lr` (uint8 H x W x 3) from `float_fn` (uint8 h x w x 3 -> float32 sh x sw x 3,
    0..255 units, before rounding) run tile by tile: cores of at most `tile` LR pixels plus
    `overlap` LR pixels of context (at least the receptive-field radius for an exact result).
    `tile` 0 runs the whole image at once. `progress`: a progress bar over the tiles (with the
    time left) on stderr when there are several."""
    lr = np.asarray(lr)
    height, width = lr.shape[:2]
    if not tile or tile <= 0:
        return quantize(float_fn(lr))
    output = np.empty((height * scale, width * scale, 3), np.uint8)
    for (top, bottom, left, right), (w_top, w_bottom, w_left, w_right) in _tile_bar(
        plan_tiles(height, width, tile, overlap), progress
    ):
        sr = np.asarray(float_fn(lr[w_top:w_bottom, w_left:w_right]))
        expected = ((w_bottom - w_top) * scale, (w_right - w_left) * scale)
        if sr.shape[:2] != expected:
            raise ValueError(f"the model returned {sr.shape[:2]} for a tile that needs {expected}")
        rows = slice((top - w_top) * scale, (bottom - w_top) * scale)
        cols = slice((left - w_left) * scale, (right - w_left) * scale)
        output[top * scale : bottom * scale, left * scale : right * scale] = quantize(sr[rows, cols])
    return output


def _tile_bar(tiles, progress):
    from tqdm import tqdm

    return tqdm(tiles, unit="tile", desc="tiles", disable=not progress or len(tiles) < 2, file=sys.stderr)
