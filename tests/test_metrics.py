"""PSNR / SSIM protocols, and the papers' bicubic column reproduced on the shared Set5 / Set14."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from sr_tf.evaluation import metrics, scoring
from sr_tf.inference.predictor import bicubic_predictor

# EDSR paper, Table 3, column "Bicubic" (PSNR / SSIM on Y, shave = scale).
PAPER_BICUBIC = {
    "Set5": {2: (33.66, 0.9299), 3: (30.39, 0.8682), 4: (28.42, 0.8104)},
    "Set14": {2: (30.24, 0.8688), 3: (27.55, 0.7742), 4: (26.00, 0.7027)},
}


def random_image(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_bicubic_column_of_the_papers(benchmark_dir):
    results, protocols = scoring.evaluate_all(
        bicubic_predictor(), benchmark_dir, ["Set5", "Set14"], [2, 3, 4]
    )
    for set_name, by_scale in PAPER_BICUBIC.items():
        for scale, (paper_psnr, paper_ssim) in by_scale.items():
            score = results[set_name][f"x{scale}"]
            assert score["images"] == (5 if set_name == "Set5" else 14)
            assert abs(score["psnr"] - paper_psnr) <= 0.02, (set_name, scale, score)
            assert abs(score["ssim"] - paper_ssim) <= 0.001, (set_name, scale, score)
            assert protocols[(set_name, scale)] == metrics.Protocol("y", scale)


def test_psnr_on_y_of_a_constant_colour_offset():
    hr = np.full((20, 20, 3), 100, np.uint8)
    sr = hr + np.uint8(10)
    # Y differs by 10 * 219 / 255 when every channel differs by 10.
    expected = 20 * np.log10(255 / (10 * 219 / 255))
    assert metrics.psnr(sr, hr, metrics.Protocol("y", 2)) == pytest.approx(expected, abs=1e-9)
    # A grayscale file is compared on its gray values: no 219/255 range compression.
    assert metrics.psnr(sr, hr, metrics.Protocol("y", 2), gray=True) == pytest.approx(
        20 * np.log10(25.5), abs=1e-9
    )
    assert metrics.psnr(sr, hr, metrics.Protocol("rgb", 2)) == pytest.approx(20 * np.log10(25.5), abs=1e-9)


def test_gray_luma_is_the_gray_value():
    gray = random_image((16, 16, 1))
    rgb = np.repeat(gray, 3, axis=-1)
    assert np.allclose(metrics._luma(rgb.astype(np.float64), False, True), gray[..., 0])


def test_rounded_y_is_what_matlab_rgb2ycbcr_gives_on_uint8():
    rgb = random_image((8, 8, 3)).astype(np.float64)
    y = 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255
    assert np.array_equal(metrics._luma(rgb, True, False), np.floor(y + 0.5))
    assert np.allclose(metrics._luma(rgb, False, False), y)


def test_shaved_border_and_hr_crop_do_not_count():
    hr = random_image((30, 26, 3))
    sr = hr[:28, :24].copy()
    sr[:3] = 0  # inside the 3-pixel border shave
    sr[:, -3:] = 255
    assert metrics.psnr(sr, hr, metrics.Protocol("y", 3)) == float("inf")
    assert metrics.ssim(sr, hr, metrics.Protocol("rgb", 3)) == pytest.approx(1.0)
    assert metrics.psnr(sr, hr, metrics.Protocol("y", 2)) < 30
    with pytest.raises(ValueError, match="smaller than the SR"):
        metrics.psnr(hr, sr, metrics.Protocol("y", 2))


def test_float_sr_is_quantised_half_up_first():
    hr = random_image((20, 20, 3))
    sr = hr.astype(np.float32) + 0.49
    assert metrics.psnr(sr, hr, metrics.Protocol("rgb", 0)) == float("inf")
    up = metrics.quantize(hr.astype(np.float32) + 0.5)
    assert np.array_equal(up, np.minimum(hr.astype(np.int16) + 1, 255))


def test_quantize_equals_the_inference_models_layer():
    from sr_tf.models.layers import QuantizeUint8

    values = np.array([-0.6, 0.49999997, 0.5, 2.5, 127.49999, 254.5, 255.2, 300.0], np.float32)
    expected = QuantizeUint8(1.0)(values).numpy()
    given = values.copy()
    assert np.array_equal(metrics.quantize(values), expected)
    assert np.array_equal(values, given)  # rounded in a copy
    assert list(expected[[0, 2, 3, 5, 7]]) == [0, 1, 3, 255, 255]


def test_ssim_equals_scikit_image_gaussian_ssim():
    hr = random_image((40, 36, 3), seed=1)
    noise = np.random.default_rng(2).normal(0, 12, hr.shape)
    sr = np.clip(hr + noise, 0, 255).astype(np.uint8)
    protocol = metrics.Protocol("y", 2)
    a, b = metrics._compared_values(sr, hr, protocol, gray=False)
    reference = structural_similarity(
        a[..., 0], b[..., 0], gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert metrics.ssim(sr, hr, protocol) == pytest.approx(reference, abs=1e-9)


def test_protocol_by_dataset_and_overrides():
    class Named:
        def __init__(self, name):
            self.name = name

    assert metrics.protocol_for(Named("Set14 x3"), 3) == metrics.Protocol("y", 3)
    assert metrics.protocol_for(Named("DIV2K valid x4"), 4) == metrics.Protocol("rgb", 10)
    assert metrics.protocol_for(Named("DIV2K valid x4"), 4, channel="y", shave=4) == metrics.Protocol("y", 4)
    with pytest.raises(ValueError, match="channel"):
        metrics.Protocol("ycbcr", 2)
    line = metrics.describe({2: metrics.Protocol("rgb", 8), 3: metrics.Protocol("rgb", 9)})
    assert line.startswith("RGB, scale + 6 px shaved")
