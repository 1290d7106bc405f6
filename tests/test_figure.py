"""The Fig. 5 style comparison figure."""
import numpy as np
import pytest
from PIL import Image

from sr_tf.inference import figures
from sr_tf.inference.predictor import bicubic_predictor


def test_figure_has_one_row_per_crop(tmp_path):
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (50, 61, 3), dtype=np.uint8)
    crops = [figures.parse_crop("0,0,24"), figures.parse_crop("20,30,20")]
    path = figures.make_figure(bicubic_predictor(), hr, 3, crops, tmp_path / "fig.png", sr_label="bicubic")
    with Image.open(path) as image:
        width, height = image.size
    assert width > height > 200  # 5 panels across, 2 rows
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_error_map_sums_rgb():
    truth = np.zeros((2, 2, 3), np.uint8)
    image = np.full((2, 2, 3), 255, np.uint8)
    assert np.array_equal(figures.error_map(image, truth), np.full((2, 2), 765))


def test_bad_crops_are_explained():
    with pytest.raises(ValueError, match="y,x,size"):
        figures.parse_crop("1,2")
    with pytest.raises(ValueError, match="does not fit"):
        figures.check_crop((40, 0, 20), (48, 60, 3))
