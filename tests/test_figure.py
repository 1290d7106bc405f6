"""The Fig. 5 style comparison figure."""

import numpy as np
import pytest
from PIL import Image

from sr_tf.commands import figure
from sr_tf.data.images import write_png
from sr_tf.inference import figures, predictor
from sr_tf.inference.base import Predictor
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


def test_each_compared_model_adds_its_two_panels(tmp_path):
    hr = np.random.default_rng(1).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    crops = [figures.parse_crop("0,0,24")]
    sizes = []
    for compare in ((), (bicubic_predictor(), bicubic_predictor())):
        path = figures.make_figure(
            bicubic_predictor(), hr, 2, crops, tmp_path / f"fig{len(compare)}.png", compare=compare
        )
        with Image.open(path) as image:
            sizes.append(image.size)
    assert sizes[1][1] == sizes[0][1] and sizes[1][0] == pytest.approx(
        sizes[0][0] * 9 / 5, abs=2
    )  # 5 -> 9 panels


def test_the_command_runs_every_model_as_its_inference_flags_say(tmp_path, monkeypatch):
    """--self_ensemble, --cpu_replicas, --tile and --max_megapixels reach --model and every --compare
    model; --precision only --model (the compared ones run exact)."""
    write_png(tmp_path / "hr.png", np.random.default_rng(2).integers(0, 256, (40, 44, 3), dtype=np.uint8))
    loaded, seen, load, upscale = [], [], predictor.load_predictor, Predictor.upscale

    def recording_load(spec, options=None):
        loaded.append(options)
        return load(spec, options)

    def recording_upscale(self, lr, scale, options=None, progress=False):
        seen.append(options)
        return upscale(self, lr, scale, options, progress)

    monkeypatch.setattr(predictor, "load_predictor", recording_load)
    monkeypatch.setattr(Predictor, "upscale", recording_upscale)
    status = figure.main(
        [
            "sr_tf.figure",
            "--model=bicubic",
            "--compare=bicubic",
            f"--hr={tmp_path / 'hr.png'}",
            "--scale=2",
            "--crop=0,0,16",
            f"--output={tmp_path / 'fig.png'}",
            "--self_ensemble",
            "--cpu_replicas=2",
            "--tile=8",
            "--max_megapixels=0.5",
            "--precision=bf16",
        ]
    )
    assert status == 0 and (tmp_path / "fig.png").is_file()
    assert [options.precision for options in loaded] == ["bf16", "fp32"] and len(seen) == 2
    for options in loaded + seen:
        assert options.self_ensemble and options.strategy.num_replicas_in_sync == 2
        assert (options.tile, options.max_megapixels) == (8, 0.5)


def test_error_map_sums_rgb():
    truth = np.zeros((2, 2, 3), np.uint8)
    image = np.full((2, 2, 3), 255, np.uint8)
    assert np.array_equal(figures.error_map(image, truth), np.full((2, 2), 765))


def test_bad_crops_are_explained():
    with pytest.raises(ValueError, match="y,x,size"):
        figures.parse_crop("1,2")
    with pytest.raises(ValueError, match="does not fit"):
        figures.check_crop((40, 0, 20), (48, 60, 3))
