"""Tiled inference equals whole-image inference bit for bit, with bounded tile sizes."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import TINY_OPTIONS

from sr_tf import models
from sr_tf.inference import tiling
from sr_tf.inference.options import InferenceOptions
from sr_tf.inference.predictor import bicubic_predictor, network_predictor

TINY = TINY_OPTIONS


def random_image(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def tiny_predictor(name, scale):
    keras.utils.set_random_seed(scale)
    network = models.build_model(name, scale, **TINY[name])
    return network_predictor(network, name, scale, f"tiny {name}")


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("name", ["btsrn", "edsr_baseline"])
def test_tiles_give_the_whole_image_result(name, scale):
    predictor = tiny_predictor(name, scale)
    lr = random_image(23, 31, seed=scale)
    whole = predictor.upscale(lr, scale)
    assert whole.shape == (23 * scale, 31 * scale, 3) and whole.dtype == np.uint8
    for tile in (5, 12):  # many tiles of uneven sizes, odd borders
        tiled = predictor.upscale(lr, scale, InferenceOptions(tile=tile))
        assert np.array_equal(tiled, whole), f"tile {tile}"


def test_bicubic_tiles_give_the_whole_image_result():
    predictor = bicubic_predictor()
    lr = random_image(19, 26)
    assert np.array_equal(predictor.upscale(lr, 3, InferenceOptions(tile=6)), predictor.upscale(lr, 3))


def test_too_small_an_overlap_changes_the_result():
    predictor = tiny_predictor("edsr_baseline", 2)
    lr = random_image(24, 24)
    fn = predictor.float_fn(2)
    exact = tiling.tiled_upscale(fn, lr, 2, 8, predictor.radii[2])
    assert not np.array_equal(tiling.tiled_upscale(fn, lr, 2, 8, 0), exact)


def test_receptive_radius_bounds_the_network():
    # EDSR: head, 2 per block, body conv, upsampler conv, tail conv: 3x3 each, + 1 spare.
    network = models.build_model("edsr_baseline", 2, num_blocks=3, num_features=8)
    assert tiling.receptive_radius(network) == 1 + 2 * 3 + 1 + 1 + 1 + 1
    inference = models.build_inference_model(network, "edsr_baseline", 2)
    assert tiling.receptive_radius(inference) == tiling.receptive_radius(network)


def test_tile_sizes_stay_bounded_as_the_image_grows():
    seen = []

    def spy(tile):
        seen.append(tile.shape[:2])
        return tf.repeat(tf.repeat(tf.cast(tile, tf.float32), 2, axis=0), 2, axis=1)

    for size in (60, 150):
        seen.clear()
        tile = tiling.auto_tile(size, size, 2, overlap=4, max_megapixels=0.01)
        out = tiling.tiled_upscale(spy, random_image(size, size), 2, tile, 4)
        assert out.shape == (2 * size, 2 * size, 3)
        assert max(h * w for h, w in seen) * 4 <= 0.01e6
    assert len(seen) > 4
    assert tiling.auto_tile(40, 40, 2, overlap=4, max_megapixels=0.01) == 0  # 6400 output pixels fit


def test_plan_covers_every_pixel_once():
    boxes = tiling.plan_tiles(37, 20, 9, 3)
    covered = np.zeros((37, 20), int)
    for (top, bottom, left, right), (w_top, w_bottom, w_left, w_right) in boxes:
        covered[top:bottom, left:right] += 1
        # At least 3 pixels of context on every side, or the window reaches the image border.
        assert (top - w_top >= 3 or w_top == 0) and (w_bottom - bottom >= 3 or w_bottom == 37)
        assert (left - w_left >= 3 or w_left == 0) and (w_right - right >= 3 or w_right == 20)
        assert bottom - top <= 9 and right - left <= 9
    assert (covered == 1).all()
    # One window shape for every tile: a runtime that compiles per shape (OpenVINO) compiles once.
    assert len({(w[1] - w[0], w[3] - w[2]) for _, w in boxes}) == 1
