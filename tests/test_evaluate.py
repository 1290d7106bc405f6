"""Evaluation: results JSON format, the command, run directories, DIV2K protocol, bad inputs."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from tiny import TINY_BTSRN, TINY_EDSR

from sr_tf import models
from sr_tf.data.images import write_png
from sr_tf.data.imresize import imresize
from sr_tf.evaluation import metrics, scoring
from sr_tf.inference.predictor import ModelError, bicubic_predictor, load_predictor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_results_json_has_the_contract_format(tmp_path, make_benchmark):
    root = make_benchmark(tmp_path / "bench", scales=(2, 3))
    results, protocols = scoring.evaluate_all(bicubic_predictor(), root, ["Tiny"], [2, 3])
    path = scoring.write_results_json(tmp_path / "out" / "results.json", results)
    data = json.loads(open(path).read())
    assert list(data) == ["Tiny"] and list(data["Tiny"]) == ["x2", "x3"]
    for score in data["Tiny"].values():
        assert set(score) == {"psnr", "ssim", "images"}
        assert isinstance(score["psnr"], float) and isinstance(score["ssim"], float) and score["images"] == 2
    assert os.listdir(tmp_path / "out") == ["results.json"]
    table = scoring.format_table(results, protocols)
    assert "| Tiny |" in table and "protocol Tiny: Y (BT.601" in table and "scale px shaved" in table


@pytest.mark.slow
def test_evaluate_command(tmp_path, make_benchmark, assert_quiet):
    root = make_benchmark(tmp_path / "bench", set_name="Mini")
    out = tmp_path / "results.json"
    command = [
        sys.executable,
        "-m",
        "sr_tf.evaluate",
        "--model=bicubic",
        f"--benchmark_dir={root}",
        "--sets=Mini",
        "--scales=2",
        f"--results_json={out}",
    ]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user runs it
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_quiet(done.stderr)
    data = json.loads(out.read_text())
    expected, _ = scoring.evaluate_all(bicubic_predictor(), root, ["Mini"], [2])
    assert data == expected
    assert "| Mini | " in done.stdout and "protocol Mini:" in done.stdout


def test_run_directory_is_evaluated_at_its_latest_checkpoint(tmp_path, make_run, make_benchmark):
    network = make_run(tmp_path / "run", "edsr_baseline", 2, TINY_EDSR, seed=5)
    root = make_benchmark(tmp_path / "bench")
    predictor = load_predictor(str(tmp_path / "run"))
    assert predictor.scales == (2,) and predictor.name == "edsr_baseline"
    protocol = metrics.Protocol("y", 2)
    pairs = scoring.open_sets(root, ["Tiny"], 2)["Tiny"]
    score = scoring.evaluate(predictor, pairs, 2, protocol)
    inference = models.build_inference_model(network, "edsr_baseline", 2)
    psnrs = [
        metrics.psnr(inference(lr[None])[0].numpy(), hr, protocol) for lr, hr in map(pairs.load, range(2))
    ]
    assert score["psnr"] == pytest.approx(np.mean(psnrs), abs=1e-6)
    with pytest.raises(ModelError, match="x3"):
        scoring.evaluate_all(predictor, root, ["Tiny"], [3])


def test_validation_during_training_scores_as_evaluate_does(tmp_path, make_benchmark):
    """The training validator's PSNR is evaluate's on the same images, which is that of the uint8
    inference model (what export writes), bit for bit; its panel shows that output."""
    from sr_tf.inference.predictor import network_predictor
    from sr_tf.training import validation

    keras.utils.set_random_seed(5)
    network = models.build_model("btsrn", 2, **TINY_BTSRN)
    pairs = scoring.open_sets(make_benchmark(tmp_path, sizes=((40, 44), (26, 30))), ["Tiny"], 2)["Tiny"]
    validator = validation.Validator(network, "btsrn", {2: pairs})
    psnr, panels = validator.network_psnr()
    protocol = metrics.protocol_for(pairs, 2)
    assert psnr[2] == scoring.evaluate(network_predictor(network), pairs, 2, protocol)["psnr"]
    assert validator.bicubic_psnr()[2] == scoring.evaluate(bicubic_predictor(), pairs, 2, protocol)["psnr"]
    inference = models.build_inference_model(network, "btsrn", 2)
    outputs = [inference(lr[None])[0].numpy() for lr, _ in map(pairs.load, range(2))]
    assert psnr[2] == np.mean([metrics.psnr(sr, pairs.load(i)[1], protocol) for i, sr in enumerate(outputs)])
    lr, hr = pairs.load(0)
    assert np.array_equal(panels[2][0], validation.panel(imresize(lr, 2), outputs[0], hr))


def test_keras_file_identifies_its_model(tmp_path, random_image):
    keras.utils.set_random_seed(5)
    network = models.build_model("btsrn", 4, **TINY_BTSRN)
    network.save(tmp_path / "net.keras")
    predictor = load_predictor(str(tmp_path / "net.keras"))
    assert (predictor.name, predictor.scales) == ("btsrn", (4,))
    lr = random_image(9, 11, 0)
    expected = models.build_inference_model(network, "btsrn", 4)(lr[None])[0].numpy()
    assert np.abs(predictor.upscale(lr, 4).astype(int) - expected).max() <= 1


def test_div2k_folder_uses_rgb_and_scale_plus_6(tmp_path, random_image):
    root = tmp_path / "DIV2K"
    hr = random_image(40, 44, 1)
    lr = imresize(hr, 0.5)
    for i in range(801, 901):  # the validation split is images 0801-0900
        write_png(root / "DIV2K_valid_HR" / f"{i:04d}.png", hr)
        write_png(root / "DIV2K_valid_LR_bicubic" / "X2" / f"{i:04d}x2.png", lr)
    results, protocols = scoring.evaluate_all(bicubic_predictor(), tmp_path, ["Set5"], [2], max_images=3)
    assert protocols == {("DIV2K", 2): metrics.Protocol("rgb", 8)}
    score = results["DIV2K"]["x2"]
    assert score["images"] == 3
    sr = imresize(lr, 2)
    assert score["psnr"] == pytest.approx(metrics.psnr(sr, hr, metrics.Protocol("rgb", 8)))


def test_bad_model_specs_are_named(tmp_path):
    with pytest.raises(ModelError, match="no such file"):
        load_predictor(str(tmp_path / "nothing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="empty"):
        load_predictor(str(tmp_path / "empty"))
    with pytest.raises(ModelError, match="x9"):
        bicubic_predictor().check_scale(9)
