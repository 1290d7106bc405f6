"""Pretrained networks: the registry, sha256 checks, and `pretrained:<name>` wherever a model is named."""

import dataclasses
import json

import h5py
import numpy as np
import pytest
from tiny import TINY_BTSRN

from sr_tf import models
from sr_tf.inference.predictor import ModelError, load_predictor
from sr_tf.models import pretrained_registry as registry
from sr_tf.training.trainer import warm_start


@pytest.fixture
def tiny_entry(tmp_path, monkeypatch):
    """A registered pretrained entry `tiny_x2` whose weights file lives in tmp_path."""
    network = models.build_model("btsrn", 2, **TINY_BTSRN)
    path = tmp_path / "tiny_x2.weights.h5"
    network.save_weights(path)
    entry = registry.Pretrained(
        name="tiny_x2",
        model="btsrn",
        scale=2,
        file=path.name,
        sha256=registry.sha256_of(path),
        trained="a test",
        set5_psnr=0.0,
        set14_psnr=0.0,
        options=TINY_BTSRN,
        folder=str(tmp_path),
    )
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
    assert models.describe(models.open_network("pretrained:tiny_x2")) == models.describe(network)
    fresh = models.build_model("btsrn", 2, **TINY_BTSRN)
    copied, skipped = warm_start(fresh, "pretrained:tiny_x2")
    assert len(copied) == len(fresh.weights) and not skipped
    np.testing.assert_array_equal(fresh.weights[0].numpy(), network.weights[0].numpy())
    assert isinstance(models.open_network("pretrained:tiny_x2"), models.SRNetwork)


# The networks the package ships, with the papers' parameter counts.
SHIPPED = {
    "btsrn_x2": 887_683,
    "btsrn_x3": 969_603,
    "btsrn_x4": 1_035_459,
    "edsr_baseline_x2": 1_369_859,
    "edsr_baseline_x2_int8": 1_369_859,  # the same network, fine-tuned for int8
    "edsr_baseline_x3": 1_554_499,
    "edsr_baseline_x4": 1_517_571,
}


def test_the_shipped_networks_are_the_listed_ones():
    assert set(registry.pretrained_names()) == set(SHIPPED)


@pytest.mark.parametrize("name", registry.pretrained_names())
def test_every_shipped_network_loads_with_its_parameter_count(name):
    entry = registry.entry(name)
    network = models.pretrained(name)
    assert models.scales_of(network) == (entry.scale,)
    assert models.count_trainable(network) == SHIPPED[name]
    assert dataclasses.asdict(entry)["sha256"] == registry.sha256_of(registry.weights_path(name))


def test_shipped_btsrn_x2_beats_bicubic_on_set5_by_2_5_db(benchmark_dir):
    from sr_tf.evaluation import scoring
    from sr_tf.inference.predictor import bicubic_predictor

    network_scores, _ = scoring.evaluate_all(
        load_predictor("pretrained:btsrn_x2"), benchmark_dir, ["Set5"], [2]
    )
    bicubic_scores, _ = scoring.evaluate_all(bicubic_predictor(), benchmark_dir, ["Set5"], [2])
    gain = network_scores["Set5"]["x2"]["psnr"] - bicubic_scores["Set5"]["x2"]["psnr"]
    assert gain >= 2.5
    assert network_scores["Set5"]["x2"]["psnr"] == pytest.approx(
        registry.entry("btsrn_x2").set5_psnr, abs=1e-3
    )


@pytest.fixture
def ship_tool(load_tool):
    return load_tool("ship_pretrained.py")


@pytest.mark.parametrize("max_loss, storage", [(1.0, "float16"), (-1.0, "float32")])
def test_shipping_stores_the_scored_weights_and_their_entry(
    tmp_path, ship_tool, make_benchmark, max_loss, storage
):
    network = models.build_model("btsrn", 2, **TINY_BTSRN)
    network.save(tmp_path / "tiny.keras")
    bench = tmp_path / "bench"
    for name in ("Set5", "Set14"):
        make_benchmark(bench, set_name=name, sizes=((20, 22),))
    weights_dir = tmp_path / "weights"
    entry = ship_tool.ship(
        str(tmp_path / "tiny.keras"), "tiny_x2", str(bench), "a test", max_loss, weights_dir
    )

    path = weights_dir / "tiny_x2.weights.h5"
    assert json.loads((weights_dir / registry.REGISTRY_FILE).read_text()) == {"tiny_x2": entry}
    assert entry["sha256"] == registry.sha256_of(path) and entry["storage"] == storage
    assert (entry["model"], entry["scale"], entry["options"]) == ("btsrn", 2, TINY_BTSRN)
    with h5py.File(path) as stored:
        dtypes = set()
        stored.visititems(
            lambda name, item: dtypes.add(item.dtype) if isinstance(item, h5py.Dataset) else None
        )
    assert dtypes == {np.dtype(storage)}
    shipped = ship_tool.load_weights_file(models.describe(network), path)
    for a, b in zip(shipped.weights, network.weights):  # float16 storage: the same weights, rounded
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-4)
    # The entry's scores are the stored file's own scores.
    assert entry["set5_psnr"] == round(ship_tool.scores(shipped, str(bench))["Set5"]["psnr"], 3)
    assert sorted(p.name for p in weights_dir.iterdir()) == [
        registry.REGISTRY_FILE,
        path.name,
    ]  # no leftovers
