"""SavedModel export: what a failed check leaves, the signatures' input checks, the CLI. Every
registered model's SavedModel (and TFLite) round trip is in the shared harness (test_models.py)."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import TINY_OPTIONS

from sr_tf import export, models
from sr_tf.inference.predictor import load_predictor

TINY = TINY_OPTIONS
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_network(name, scale):
    keras.utils.set_random_seed(3)
    return models.build_model(name, scale, **TINY[name])


def keras_output(network, name, scale, image):
    return models.build_inference_model(network, name, scale)(image[None])[0].numpy()


def test_mdsr_exports_one_savedmodel_per_scale(tmp_path):
    network = tiny_network("mdsr_baseline", (2, 3))
    exported = export.export_scales(network, tmp_path / "saved_model", check=False)
    assert [(e.scale, e.path) for e in exported] == [
        (s, str(tmp_path / "saved_model" / f"x{s}")) for s in (2, 3)
    ]
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
def test_export_command_on_a_run_directory(tmp_path, make_run, assert_quiet):
    run_dir = tmp_path / "run"
    make_run(run_dir, "btsrn", 3, TINY["btsrn"], seed=3)
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
