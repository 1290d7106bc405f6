"""SavedModel and TFLite export: round trips against the Keras model, metadata, the CLI."""
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from sr_tf import export, models
from sr_tf.inference.predictor import load_predictor
from sr_tf.training import runs
from conftest import TINY_OPTIONS

TINY = TINY_OPTIONS
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_network(name, scale):
    keras.utils.set_random_seed(3)
    return models.build_model(name, scale, **TINY[name])


def make_run(run_dir, name, scale):
    """A run directory as training writes it: model.json and one checkpoint."""
    network = tiny_network(name, scale)
    runs.write_model_spec(run_dir, name, scale, TINY[name])
    tf.train.CheckpointManager(tf.train.Checkpoint(model=network), os.path.join(run_dir, "checkpoints"), 1).save()
    return network


def keras_output(network, name, scale, image):
    return models.build_inference_model(network, name, scale)(image[None])[0].numpy()


@pytest.mark.parametrize("name,scale", [("btsrn", 2), ("edsr_baseline", 3)])
def test_savedmodel_and_tflite_reproduce_keras(name, scale, tmp_path):
    network = tiny_network(name, scale)
    target = tmp_path / "exported"
    lines = export.export_checked(network, name, scale, target, tflite=True)
    assert len(lines) == 2 and all("reproduces the Keras model" in line for line in lines)
    assert sorted(os.listdir(tmp_path)) == ["exported"]  # no temporary folder left

    info = json.loads((target / export.METADATA_FILE).read_text())
    assert (info["model"], info["scale"]) == (name, scale)
    assert info["receptive_radius"] >= 3

    image = export.test_image(17, 26)
    expected = keras_output(network, name, scale, image)
    loaded = tf.saved_model.load(str(target))
    served = loaded.signatures["serving_default"](image=tf.constant(image))["image"].numpy()
    assert served.dtype == np.uint8 and served.shape == (17 * scale, 26 * scale, 3)
    assert np.abs(served.astype(int) - expected).max() <= 1
    float_out = loaded.signatures["upscale_float"](image=tf.constant(image))["image"].numpy()
    assert float_out.dtype == np.float32 and np.abs(float_out - np.floor(float_out + 0.5)).max() > 0  # unrounded

    tflite = target / export.TFLITE_FILE
    ops = export.tflite_ops(tflite.read_bytes())
    assert "CONV_2D" in ops and not any(op.startswith("Flex") or "RESIZE" in op for op in ops)
    lite = export.run_tflite(tflite, image)
    assert lite.shape == expected.shape and np.abs(lite.astype(int) - expected).max() <= 1

    predictor = load_predictor(str(target))
    assert predictor.scales == (scale,)
    assert np.abs(predictor.upscale(image, scale).astype(int) - expected).max() <= 1


def test_mdsr_exports_one_savedmodel_per_scale(tmp_path):
    network = tiny_network("mdsr_baseline", (2, 3))
    exported = export.export_scales(network, tmp_path / "saved_model", check=False)
    assert [(e.scale, e.path) for e in exported] == [(s, str(tmp_path / "saved_model" / f"x{s}")) for s in (2, 3)]
    predictor = load_predictor(str(tmp_path / "saved_model"))
    assert predictor.scales == (2, 3)
    image = export.test_image(11, 14)
    for s in (2, 3):
        out = predictor.upscale(image, s)
        assert np.abs(out.astype(int) - keras_output(network, "mdsr_baseline", s, image)).max() <= 1


def test_failed_check_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "FLOAT_TOLERANCE", -1.0)
    with pytest.raises(export.ExportError, match="does NOT reproduce"):
        export.export_checked(tiny_network("edsr_baseline", 2), "edsr_baseline", 2, tmp_path / "out")
    assert os.listdir(tmp_path) == []


def test_signatures_refuse_a_wrong_input_naming_it_and_serve_batches(tmp_path):
    network = tiny_network("btsrn", 2)
    export.export_saved_model(network, "btsrn", 2, tmp_path / "exported")
    loaded = tf.saved_model.load(str(tmp_path / "exported"))
    serve, batch = loaded.signatures["serving_default"], loaded.signatures["upscale_batch"]
    for wrong in (np.zeros((1, 6, 7, 3), np.uint8), np.zeros((6, 7, 4), np.uint8)):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"`image` must be uint8 \[H, W, 3\]"):
            serve(image=tf.constant(wrong))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`images` must be uint8 \[N, H, W, 3\]"):
        batch(images=tf.constant(np.zeros((6, 7, 3), np.uint8)))
    with pytest.raises(TypeError, match="dtype=tf.uint8, name='image'"):  # the Python route names it
        loaded.serving_default(tf.zeros((6, 7, 3), tf.float32))
    images = np.stack([export.test_image(9, 11), export.test_image(9, 11)[::-1]])
    served = batch(images=tf.constant(images))["images"].numpy()
    for one, image in zip(served, images):
        np.testing.assert_array_equal(one, serve(image=tf.constant(image))["image"].numpy())
    info = json.loads((tmp_path / "exported" / export.METADATA_FILE).read_text())
    assert set(info["signatures"]) == {"serving_default", "upscale_float", "upscale_batch"}


def test_does_not_replace_a_foreign_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(export.ExportError, match="not an sr_tf SavedModel"):
        export.export_saved_model(tiny_network("edsr_baseline", 2), "edsr_baseline", 2, tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_export_command_on_a_run_directory(tmp_path, assert_quiet):
    run_dir = tmp_path / "run"
    make_run(run_dir, "btsrn", 3)
    output = tmp_path / "export"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user runs it
    command = [sys.executable, "-m", "sr_tf.export", f"--run={run_dir}", f"--output={output}"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_quiet(done.stderr)
    assert f"exported btsrn x3 to {output}" in done.stdout
    assert f"SavedModel {output} reproduces the Keras model: uint8" in done.stdout
    assert (output / "saved_model.pb").is_file() and (output / export.METADATA_FILE).is_file()
    assert sorted(os.listdir(tmp_path)) == ["export", "run"]


def test_export_of_a_missing_run_names_it(tmp_path):
    with pytest.raises(ValueError, match="missing"):
        models.open_network(str(tmp_path / "missing"))
