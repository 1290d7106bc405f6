"""Quantization-aware fine-tuning (--quantization_aware) and the int8 ONNX layouts it unlocks: the
simulated convolution's arithmetic, shared weights, a run that writes and keeps its ranges, and the
layout choice by measured loss. Tiny networks; the real numbers are in docs/performance.md."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import TINY_EDSR

from sr_tf import models
from sr_tf.commands.train import train
from sr_tf.inference import accelerated, runtimes
from sr_tf.training import quantization_aware
from sr_tf.training.config import TrainConfig

TWO_BLOCKS = dict(TINY_EDSR, num_blocks=2)


def tiny_edsr(seed=0):
    keras.utils.set_random_seed(seed)
    return models.build_model("edsr_baseline", 2, **TWO_BLOCKS)


def test_the_simulated_convolution_rounds_inputs_to_256_levels_and_kernels_to_int8_per_channel():
    conv = keras.layers.Conv2D(4, 3, padding="same")
    conv.build((1, 6, 6, 3))
    simulated = quantization_aware.Int8Simulated(conv, (0.0, 255.0))
    x = np.random.default_rng(0).uniform(0, 255, (1, 6, 6, 3)).astype(np.float32)
    kernel = conv.kernel.numpy()
    step = np.abs(kernel).max(axis=(0, 1, 2)) / 127  # symmetric int8, one scale per output channel
    expected = tf.nn.conv2d(np.round(x), np.round(kernel / step) * step, 1, "SAME") + conv.bias.numpy()
    np.testing.assert_allclose(simulated(x), expected, atol=1e-3)
    assert not np.allclose(conv(x), expected, atol=1e-3)  # the float convolution differs
    restored = quantization_aware.Int8Simulated.from_config(simulated.get_config())
    assert restored.input_range == (0.0, 255.0)


def test_the_simulated_network_shares_the_float_weights_and_trains_them():
    network = tiny_edsr()
    x = np.random.default_rng(1).uniform(0, 255, (2, 10, 10, 3)).astype(np.float32)
    convs = quantization_aware.int8_convolutions(network)
    assert [c.name for c in convs] == [
        "head",
        "body_0_conv1",
        "body_0_conv2",
        "body_1_conv1",
        "body_1_conv2",
        "body_conv",
        "up_0_conv",
    ]  # every Conv2D but the tail
    ranges = quantization_aware.input_ranges(network, [x])
    assert set(ranges) == {c.name for c in convs} and all(low <= 0 < high for low, high in ranges.values())
    simulated = quantization_aware.simulated_network(network, ranges)
    assert {id(w) for w in simulated.weights} == {id(w) for w in network.weights}
    float_out, int8_out = np.asarray(network(x)), np.asarray(simulated(x))
    assert 0 < np.abs(float_out - int8_out).max() < 0.05 * np.abs(float_out).max()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(simulated(x))
    gradients = tape.gradient(loss, network.trainable_variables)
    assert all(g is not None and np.any(np.asarray(g) != 0) for g in gradients)


@pytest.mark.slow
def test_a_quantization_aware_run_keeps_its_ranges_and_its_float_network(
    tiny_config, tmp_path, make_photo_folder
):
    folder = make_photo_folder("qat_photos", 4, 40, 5)
    edsr = dict(model="edsr_baseline", model_options=TWO_BLOCKS, hr_patch=None, lr_patch=8, loss="l1")
    train(tiny_config(tmp_path / "float", folder, steps=2, **edsr))
    run_dir = tmp_path / "qat"
    config = tiny_config(
        run_dir, folder, steps=2, warm_start=str(tmp_path / "float"), quantization_aware=True, **edsr
    )
    assert train(config).step == 2
    ranges_file = run_dir / quantization_aware.RANGES_FILE
    ranges = json.loads(ranges_file.read_text())
    assert len(ranges) == 7  # every Conv2D but the last
    train(TrainConfig(**{**config.__dict__, "steps": 4}))  # resumes against the same ranges
    assert json.loads(ranges_file.read_text()) == ranges
    network = models.open_network(str(run_dir))  # a plain float network
    assert not any(isinstance(layer, quantization_aware.Int8Simulated) for layer in network.layers)
    with pytest.raises(ValueError, match="--quantization_aware fine-tunes one scale"):
        TrainConfig(
            run_dir=str(tmp_path / "m"),
            model="mdsr_baseline",
            scale=(2, 3),
            quantization_aware=True,
            train_data="samples",
            steps=1,
        ).resolved()


@pytest.mark.skipif(
    not runtimes.available("onnxruntime"), reason="ONNX Runtime (extra 'onnx') is not installed"
)
@pytest.mark.parametrize("max_loss,layout", [(100.0, "all_int8"), (-100.0, "guarded")])
def test_int8_onnx_keeps_every_convolution_int8_when_the_check_allows(max_loss, layout, monkeypatch):
    import onnx

    monkeypatch.setattr(accelerated, "FAST_INT8_MAX_LOSS", max_loss)
    network = tiny_edsr()
    calibrate, check = accelerated.calibration_split("samples", 2)
    crops = accelerated.calibration_crops(calibrate, count=2, size=16)
    model = onnx.load_from_string(accelerated.convert_int8_onnx(network, 2, crops, check))
    info = json.loads({p.key: p.value for p in model.metadata_props}[runtimes.METADATA_KEY])
    assert info["int8_layout"] == layout
    initializers = {tensor.name for tensor in model.graph.initializer}
    float_weights = [n for n in model.graph.node if n.op_type == "Conv" and n.input[1] in initializers]
    assert len(float_weights) == (1 if layout == "all_int8" else 3)  # the tail; + the blocks' conv1


@pytest.mark.skipif(
    not runtimes.available("onnxruntime"), reason="ONNX Runtime (extra 'onnx') is not installed"
)
def test_the_simulation_computes_what_the_int8_file_computes(tmp_path):
    """Given the file's own ranges, the simulated network reproduces the all-int8 file (ONNX
    Runtime) far closer than the float network does: what the training sees is what ships."""
    import onnx
    from onnx import numpy_helper

    network = tiny_edsr(3)
    lrs = [np.random.default_rng(k).integers(0, 256, (20, 20, 3), dtype=np.uint8) for k in range(3)]
    content = accelerated.convert_int8_onnx(network, 2, lrs[:2], layout=accelerated.ALL_INT8)
    graph = onnx.load_from_string(content).graph
    values = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    produced_by = {output: node for node in graph.node for output in node.output}
    ranges = {}
    convs = quantization_aware.int8_convolutions(network)
    onnx_convs = [node for node in graph.node if node.op_type == "Conv"][: len(convs)]
    for conv, node in zip(convs, onnx_convs):
        _, scale, zero_point = produced_by[node.input[0]].input  # the DequantizeLinear of its input
        step, zero = float(values[scale]), int(values[zero_point])
        ranges[conv.name] = (-zero * step, (255 - zero) * step)
    path = tmp_path / "int8.onnx"
    path.write_bytes(content)
    x = accelerated.network_inputs(network, 2, lrs[2:])[0]
    from_file = runtimes.OnnxRunner(path)(x)
    simulated = np.asarray(quantization_aware.simulated_network(network, ranges)(x))
    floating = np.asarray(network(x))
    assert np.abs(simulated - from_file).mean() < 0.01 * np.abs(floating - from_file).mean()


def test_calibration_split_holds_images_out(tmp_path, make_benchmark):
    calibrate, check = accelerated.calibration_split("samples", 2)
    assert len(check) >= 1 and not set(calibrate.names) & set(check.names)
    make_benchmark(tmp_path, "Two", sizes=((30, 37), (25, 24)))
    assert accelerated.calibration_split(f"benchmark:{tmp_path}:Two", 2)[1] is None
