"""tools/benchmark.py: a --quick smoke run read back, its FLOP counter, and UnfusedLeakyReLU (the
graph form of BTSRN's activations that keeps TF's conv fusions, see docs/performance.md)."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import TINY_BTSRN

from sr_tf import models
from sr_tf.models.layers import UnfusedLeakyReLU

pytestmark = pytest.mark.slow  # every test here trains a network or starts a process

REPO = pathlib.Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "benchmark.py"


@pytest.fixture(scope="module")
def tool(load_tool):
    return load_tool("benchmark.py")


@pytest.fixture(scope="module")
def photo_folder(make_photo_folder):
    """Two 160x160 photos: one grid patch (108 + 2 x 12) each, and room for 48x48 LR crops at x2."""
    return make_photo_folder("benchmark_photos", count=2, size=160, seed=5)


def test_quick_run_measures_every_part(tmp_path, photo_folder):
    out = tmp_path / "bench.json"
    command = [
        sys.executable,
        str(TOOL),
        "--quick",
        f"--json={out}",
        "--models=btsrn:2,edsr_baseline:2",
        f"--train_data=folder:{photo_folder}",
    ]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=environment, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    # TF's error line when grappler's remapper gives up (and drops every conv fusion of a graph).
    assert "remapper failed" not in done.stderr
    results = json.loads(out.read_text())

    assert {"machine", "settings", "peak", "inference", "training", "tiling", "xla", "targets"} <= set(
        results
    )
    assert results["machine"]["cores"] >= 1 and results["machine"]["tensorflow"] == tf.__version__
    for kernel in ("conv3x3_128", "conv3x3_64", "conv3x3_64to128", "conv1x1_128to64", "matmul"):
        for precision in ("fp32", "bf16"):
            entry = results["peak"][kernel][precision]
            assert entry["best_s"] <= entry["median_s"] and entry["best_gflops"] > 0

    rows = results["inference"]["rows"]
    assert [(r["model"], r["scale"], r["precision"]) for r in rows] == [
        ("btsrn", 2, "fp32"),
        ("btsrn", 2, "bf16"),
        ("edsr_baseline", 2, "fp32"),
        ("edsr_baseline", 2, "bf16"),
    ]
    for row in rows:
        assert row["gflop"] > 0 and row["best_s"] > 0 and row["best_percent_of_peak"] > 0
        assert row["output_megapixels"] == pytest.approx(24 * 24 * 4 / 1e6)
        if row["precision"] == "fp32":
            assert row["bf16_convolutions"] == 0
        else:  # the bicubic layer and the float32 output conv stay in float32
            assert 0 < row["bf16_convolutions"] < row["convolutions"]
    assert {(s["model"], s["scale"]) for s in results["inference"]["bf16_speedup"]} == {
        ("btsrn", 2),
        ("edsr_baseline", 2),
    }

    training = results["training"]["rows"]
    assert [(r["model"], r["batch_size"]) for r in training] == [("btsrn", 4), ("edsr_baseline", 4)]
    for row in training:
        assert row["ratio"] == pytest.approx(
            row["pipeline_steps_per_s"] / row["cached_steps_per_s"], rel=0.01
        )

    (tiling,) = results["tiling"]["runs"]
    assert tiling["max_megapixels"] == 0.02 and [r["lr_size"] for r in tiling["rows"]] == [[96, 64], [48, 32]]
    for row in tiling["rows"]:
        assert row["tiles"] > 1 and row["peak_rss_mb"] >= row["peak_rss_before_upscale_mb"] > 0
        assert row["output_megapixels"] == pytest.approx(row["lr_size"][0] * row["lr_size"][1] * 16 / 1e6)
    assert tiling["seconds_per_megapixel_ratio"] > 0

    for row in results["xla"]["rows"]:
        assert row["compiles"], row.get("error")
        assert row["max_abs_difference"] <= 1 and row["faster"] in ("xla", "graph")
    assert {t["target"].split(" ")[0] for t in results["targets"]} >= {"btsrn", "edsr_baseline", "tiling"}
    assert "Targets" in done.stdout


def test_flops_count_convolutions_and_transposed_convolutions(tool):
    x = tf.zeros([2, 10, 12, 4])

    @tf.function
    def layers(x):
        y = tf.nn.conv2d(x, tf.zeros([3, 3, 4, 6]), 1, "VALID")  # 2 x 8 x 10 x 6 outputs, 36 MACs each
        return tf.nn.conv2d_transpose(
            y, tf.zeros([2, 2, 5, 6]), [2, 16, 20, 5], 2
        )  # 2x8x10x6 inputs, 20 MACs each

    graph = layers.get_concrete_function(x).graph
    assert tool.conv_gflop(graph) == pytest.approx(2 * (2 * 8 * 10 * 6 * 36 + 2 * 8 * 10 * 6 * 20) / 1e9)


def test_flops_of_btsrn_inference_follow_the_layer_arithmetic(tool):
    """BTSRN x2 on n x n LR: 15-px padding, valid 3x3 convs shrinking by 2 per block, the x2
    deconvolution, and the bicubic layer's two fixed 5x5 convolutions."""
    n, w, b = 20, TINY_BTSRN["width"], TINY_BTSRN["bottleneck"]
    s = n + 30
    macs = s * s * 3 * w
    macs += s * s * w * b + (s - 2) ** 2 * b * w * 9  # the LR block
    s -= 2
    macs += s * s * 4 * w * w  # deconvolution, kernel 2x2
    s *= 2
    macs += s * s * w * b + (s - 2) ** 2 * b * w * 9  # the HR block
    s -= 2
    macs += s * s * w * 3 + n * n * 25 * (3 * 12 + 4)  # out, bicubic (3 -> 3 x 4 phases, weights 1 -> 4)
    fn = tool.inference_function("btsrn", 2, TINY_BTSRN, "fp32", (n, n))
    assert tool.conv_gflop(fn.get_concrete_function().graph) == pytest.approx(2 * macs / 1e9)


def test_bad_flags_are_rejected_with_their_name():
    done = subprocess.run(
        [sys.executable, str(TOOL), "--parts=peak,speed"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode != 0 and "--parts" in done.stderr and "speed" in done.stderr


# UnfusedLeakyReLU (sr_tf/models/layers.py); these tests belong with tests/test_models.py.


def test_unfused_leaky_relu_has_the_values_and_gradient_of_leaky_relu():
    x = tf.constant(
        np.concatenate([np.random.default_rng(0).normal(size=64), [0.0, -0.0, 1e-30, -1e-30]]), tf.float32
    )
    for dtype in (tf.float32, tf.bfloat16):
        xs = tf.cast(x, dtype)
        unfused, plain = UnfusedLeakyReLU(negative_slope=0.2), keras.layers.LeakyReLU(negative_slope=0.2)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(xs)
            y_unfused, y_plain = unfused(xs), plain(xs)
        np.testing.assert_array_equal(np.asarray(y_unfused, np.float32), np.asarray(y_plain, np.float32))
        np.testing.assert_array_equal(
            np.asarray(tape.gradient(y_unfused, xs), np.float32),
            np.asarray(tape.gradient(y_plain, xs), np.float32),
        )


def test_btsrn_activations_are_unfused_leaky_relus():
    # Its .keras round trip (the same layer classes, the same outputs) is the harness's (test_models.py).
    model = models.build_model("btsrn", 2, **TINY_BTSRN)
    activations = [layer for layer in model.layers if isinstance(layer, keras.layers.LeakyReLU)]
    assert len(activations) == 6  # two per block, one before the deconvolution, one before `out`
    assert all(
        isinstance(layer, UnfusedLeakyReLU) and layer.negative_slope == pytest.approx(0.2)
        for layer in activations
    )
