"""MATLAB-exact bicubic imresize: the real MATLAB LR files, numpy == TF (eager, graph, tf.data)."""

import math

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from sr_tf.data.imresize import (
    _tf_contributions,
    contributions,
    imresize,
    output_length,
    tf_imresize,
)

SCALES = (2, 3, 4)
TEST_SCALES = (1 / 2, 1 / 3, 1 / 4, 2, 3, 4, 0.3, 0.7, 1.5)  # the SR ones plus non-integer ones


def read_png(path):
    with Image.open(path) as image:
        return np.asarray(image)


def benchmark_pairs(benchmark_dir, scale):
    """[(name, hr modcropped to LR size x scale, MATLAB lr)] of Set5 and Set14 at one scale."""
    pairs = []
    for lr_path in sorted(benchmark_dir.glob(f"Set*/LR_bicubic/X{scale}/*x{scale}.png")):
        set_dir = lr_path.parents[2]
        name = lr_path.name[: -len(f"x{scale}.png")]
        hr = read_png(set_dir / "HR" / f"{name}.png")
        lr = read_png(lr_path)
        hr = hr[: lr.shape[0] * scale, : lr.shape[1] * scale]
        pairs.append((f"{set_dir.name}/{name}", hr, lr))
    return pairs


def graph_resize(scale, channels=None):
    """tf_imresize in a tf.function with dynamic height and width."""
    return tf.function(
        lambda image: tf_imresize(image, scale),
        input_signature=[tf.TensorSpec([None, None, channels], tf.uint8)],
    )


def random_image(rng, height, width, channels=3):
    return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


# ----------------------------------------------------------------------- against real MATLAB files


def test_numpy_reproduces_every_matlab_lr_file(benchmark_dir):
    checked = []
    for scale in SCALES:
        for name, hr, lr in benchmark_pairs(benchmark_dir, scale):
            out = imresize(hr, 1 / scale)
            assert out.shape == lr.shape, name
            assert np.count_nonzero(out != lr) == 0, f"{name} x{scale}"
            checked.append((name, scale, lr.ndim))
    assert len(checked) == 57  # Set5 5 + Set14 14 images, x2/x3/x4
    assert ("Set14/bridge", 4, 2) in checked  # grayscale HxW in, HxW out


def test_tf_version_in_tf_data_reproduces_every_matlab_lr_file(benchmark_dir):
    for scale in SCALES:
        pairs = benchmark_pairs(benchmark_dir, scale)
        # Grayscale bridge goes in as HxWx1.
        images = [hr if hr.ndim == 3 else hr[:, :, None] for _, hr, _ in pairs]
        dataset = tf.data.Dataset.from_generator(
            lambda images=images: iter(images),
            output_signature=tf.TensorSpec([None, None, None], tf.uint8),
        ).map(lambda image, s=scale: tf_imresize(image, 1 / s), num_parallel_calls=tf.data.AUTOTUNE)
        outputs = [out.numpy() for out in dataset]
        assert len(outputs) == len(pairs)
        for (name, _, lr), out in zip(pairs, outputs):
            expected = lr if lr.ndim == 3 else lr[:, :, None]
            np.testing.assert_array_equal(out, expected, err_msg=f"{name} x{scale}")


# ---------------------------------------------------------------------------------- numpy == TF


def test_tf_equals_numpy_on_random_odd_sizes():
    rng = np.random.default_rng(0)
    for scale in TEST_SCALES:
        resize = graph_resize(scale)
        for height, width in [(1, 1), (2, 7), (17, 9), (31, 45), (64, 33)]:
            image = random_image(rng, height, width)
            if height > 2:  # hard edges as well as noise: values far beyond 0..255 before clipping
                image[:, : width // 2] = 0
                image[: height // 2] = 255
            expected = imresize(image, scale)
            assert expected.shape == (math.ceil(height * scale), math.ceil(width * scale), 3)
            message = f"{height}x{width} scale {scale}"
            np.testing.assert_array_equal(resize(image).numpy(), expected, err_msg=message)
        np.testing.assert_array_equal(tf_imresize(image, scale).numpy(), expected)  # eager too


def test_weight_tables_are_identical_in_numpy_and_in_a_tf_graph():
    # Grappler rewrites arithmetic with constants; the TF tables must still equal numpy's bit
    # for bit.
    for scale in TEST_SCALES:
        tables = tf.function(
            lambda length, scale=scale: _tf_contributions(length, scale),
            input_signature=[tf.TensorSpec([], tf.int32)],
        )
        for length in (1, 2, 3, 5, 8, 13, 50, 97, 255, 339, 510):
            weights, indices = (t.numpy() for t in tables(tf.constant(length)))
            expected = contributions(length, output_length(length, scale), scale)
            used = np.any(weights != 0, axis=0)  # numpy drops taps that are zero for every output
            message = f"length {length} scale {scale}"
            np.testing.assert_array_equal(weights[:, used], expected[0], err_msg=message)
            np.testing.assert_array_equal(indices[:, used], expected[1], err_msg=message)


# ------------------------------------------------------------------------------------ behaviour


def test_output_size_is_ceil_of_size_times_scale():
    image = np.zeros((37, 50, 3), np.uint8)
    sizes = {0.5: (19, 25), 1 / 3: (13, 17), 0.25: (10, 13), 2: (74, 100), 0.3: (12, 15)}
    for scale, size in sizes.items():
        assert imresize(image, scale).shape == size + (3,)
        assert tuple(tf_imresize(image, scale).shape) == size + (3,)


def test_grayscale_and_single_channel_keep_their_rank():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (21, 14), dtype=np.uint8)
    out = imresize(gray, 1 / 3)
    assert out.shape == (7, 5)
    np.testing.assert_array_equal(imresize(gray[:, :, None], 1 / 3), out[:, :, None])
    np.testing.assert_array_equal(tf_imresize(gray, 1 / 3).numpy(), out)
    np.testing.assert_array_equal(tf_imresize(gray[:, :, None], 1 / 3).numpy(), out[:, :, None])


def test_integer_and_numpy_scales_equal_float_scales():
    image = random_image(np.random.default_rng(1), 9, 11)
    np.testing.assert_array_equal(imresize(image, 2), imresize(image, 2.0))
    np.testing.assert_array_equal(imresize(image, np.float32(0.5)), imresize(image, 0.5))


def test_scale_one_is_identity():
    image = random_image(np.random.default_rng(2), 13, 8)
    np.testing.assert_array_equal(imresize(image, 1), image)
    np.testing.assert_array_equal(tf_imresize(image, 1.0).numpy(), image)


def test_constant_images_stay_constant():
    values = np.array([0, 1, 128, 254, 255], np.uint8)
    image = np.broadcast_to(values, (15, 22, len(values)))  # channels resize independently
    for scale in (1 / 4, 1 / 3, 1 / 2, 2, 3, 0.7):
        for out in (imresize(image, scale), tf_imresize(image, scale).numpy()):
            assert np.all(out == values), scale


def test_upscaling_samples_at_matlab_positions_and_rounds_half_up():
    # Keys' cubic reproduces a ramp exactly; x2 samples at u = x/2 + 1/4 (1-based), so the
    # interior of row 10*(j-1) becomes 5x - 7.5, an exact .5 that must round up.
    ramp = np.tile(np.arange(0, 200, 10, dtype=np.uint8), (4, 1))  # 4 x 20, columns 0, 10, ..
    out = imresize(ramp, 2)
    x = np.arange(1, 41)
    interior = slice(4, 36)
    np.testing.assert_array_equal(out[0, interior], np.floor(5 * x[interior] - 7.5 + 0.5))
    assert out[0, 3] == 13  # 12.5 rounds up (half to even would give 12)
    # At the borders the replicated edge pixels make the kernel overshoot: -0.70 clips to 0, and
    # 190 - 10 * (-0.0703125) = 190.70 rounds to 191.
    assert out[0, 0] == 0 and out[0, -1] == 191


def test_shrinking_is_antialiased():
    # A 1-pixel checkerboard averages to grey with the stretched kernel; without antialiasing
    # (point sampling of the pattern) it would stay black and white.
    board = (np.indices((32, 32)).sum(axis=0) % 2 * 255).astype(np.uint8)
    out = imresize(board, 1 / 4)
    assert np.all(np.abs(out[2:-2, 2:-2].astype(int) - 128) <= 1)


def test_bad_input_raises_a_clear_error():
    rgb = np.zeros((4, 4, 3), np.uint8)
    cases = [
        (np.zeros((4, 4, 3), np.float32), 0.5, "uint8"),
        (np.zeros((4, 4, 3), np.uint16), 0.5, "uint8"),
        (np.zeros((4,), np.uint8), 0.5, "HxW"),
        (np.zeros((1, 4, 4, 3), np.uint8), 0.5, "HxW"),
        (np.zeros((0, 4, 3), np.uint8), 0.5, "empty"),
        (rgb, 0, "positive"),
        (rgb, -2, "positive"),
        (rgb, float("nan"), "positive"),
        (rgb, True, "positive"),
        (rgb, "0.5", "positive"),
    ]
    for image, scale, message in cases:
        with pytest.raises(ValueError, match=message):
            imresize(image, scale)


def test_tf_bad_input_raises_a_clear_error():
    with pytest.raises(ValueError, match="uint8"):
        tf_imresize(tf.zeros([4, 4, 3], tf.float32), 0.5)
    with pytest.raises(ValueError, match="H, W"):
        tf_imresize(tf.zeros([1, 4, 4, 3], tf.uint8), 0.5)
    with pytest.raises(ValueError, match="positive"):
        tf_imresize(tf.zeros([4, 4, 3], tf.uint8), 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty"):
        tf_imresize(tf.zeros([0, 4, 3], tf.uint8), 0.5)
