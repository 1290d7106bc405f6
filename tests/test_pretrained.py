"""Pretrained networks: the registry, sha256 checks, and `pretrained:<name>` wherever a model is named."""
import dataclasses

import numpy as np
import pytest

from sr_tf import models
from sr_tf.inference.predictor import ModelError, load_predictor, load_training_network
from sr_tf.models import pretrained_registry as registry
from sr_tf.training import runs
from sr_tf.training.trainer import warm_start
from conftest import TINY_BTSRN



@pytest.fixture
def tiny_entry(tmp_path, monkeypatch):
    """A registered pretrained entry `tiny_x2` whose weights file lives in tmp_path."""
    network = models.build_model("btsrn", 2, **TINY_BTSRN)
    path = tmp_path / "tiny_x2.weights.h5"
    network.save_weights(path)
    entry = registry.Pretrained(name="tiny_x2", model="btsrn", scale=2, file=path.name,
                                sha256=registry.sha256_of(path), trained="a test", set5_psnr=0.0, set14_psnr=0.0,
                                options=TINY_BTSRN, folder=str(tmp_path))
    monkeypatch.setitem(registry.PRETRAINED, "tiny_x2", entry)
    return entry, network


def test_loading_verifies_and_restores_the_weights(tiny_entry):
    entry, network = tiny_entry
    loaded = models.pretrained("tiny_x2")
    assert models.describe(loaded) == models.describe(network)
    for a, b in zip(loaded.weights, network.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert models.describe(models.pretrained("pretrained:tiny_x2"))["model"] == "btsrn"


def test_a_corrupted_or_missing_file_is_named(tiny_entry, tmp_path):
    entry, _ = tiny_entry
    path = tmp_path / entry.file
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(registry.PretrainedError, match=f"{path}.*sha256"):
        models.pretrained("tiny_x2")
    path.unlink()
    with pytest.raises(registry.PretrainedError, match=f"{path} is missing"):
        models.pretrained("tiny_x2")


def test_an_unknown_name_lists_the_known_ones(tiny_entry):
    with pytest.raises(registry.PretrainedError, match="no pretrained network 'nope'; known: .*tiny_x2"):
        models.pretrained("nope")
    with pytest.raises(ModelError, match="tiny_x2"):
        load_predictor("pretrained:nope")


def test_pretrained_specs_in_predictor_export_and_warm_start(tiny_entry):
    entry, network = tiny_entry
    predictor = load_predictor("pretrained:tiny_x2")
    lr = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    assert predictor.scales == (2,) and predictor.upscale(lr, 2).shape == (18, 22, 3)
    assert models.describe(load_training_network("pretrained:tiny_x2")) == models.describe(network)
    fresh = models.build_model("btsrn", 2, **TINY_BTSRN)
    copied, skipped = warm_start(fresh, "pretrained:tiny_x2")
    assert len(copied) == len(fresh.weights) and not skipped
    np.testing.assert_array_equal(fresh.weights[0].numpy(), network.weights[0].numpy())
    assert isinstance(runs.open_network("pretrained:tiny_x2"), models.SRNetwork)


@pytest.mark.parametrize("name", registry.pretrained_names())
def test_every_shipped_network_loads_with_its_parameter_count(name):
    entry = registry.entry(name)
    network = models.pretrained(name)
    expected = models.count_trainable(models.build_model(entry.model, entry.scale))
    assert models.count_trainable(network) == expected
    assert dataclasses.asdict(entry)["sha256"] == registry.sha256_of(registry.weights_path(name))


def test_shipped_btsrn_x2_beats_bicubic_on_set5_by_2_5_db(benchmark_dir):
    from sr_tf.evaluation import scoring
    from sr_tf.inference.predictor import bicubic_predictor

    network_scores, _ = scoring.evaluate_all(load_predictor("pretrained:btsrn_x2"), benchmark_dir, ["Set5"], [2])
    bicubic_scores, _ = scoring.evaluate_all(bicubic_predictor(), benchmark_dir, ["Set5"], [2])
    gain = network_scores["Set5"]["x2"]["psnr"] - bicubic_scores["Set5"]["x2"]["psnr"]
    assert gain >= 2.5
    assert network_scores["Set5"]["x2"]["psnr"] == pytest.approx(registry.entry("btsrn_x2").set5_psnr, abs=1e-3)
