"""The fast paths: int8 / float TFLite and ONNX network files, --model on them, --precision, the
PSNR-loss guard and the missing-extra errors. Tiny networks; speed is measured by
tools/bench_runtimes.py, not here. The full-image model.tflite of a SavedModel export, as --model
too, is checked by the model harness (conftest.run_model_test)."""

import json
import os
import sys

import keras
import numpy as np
import pytest
from tiny import TINY_OPTIONS

from sr_tf import export, models
from sr_tf.commands import export as export_main
from sr_tf.inference import accelerated, runtimes
from sr_tf.inference.options import InferenceOptions
from sr_tf.inference.predictor import ModelError, load_predictor, network_predictor

SCALE = 2


def psnr_between(a, b):
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-12))


@pytest.fixture(scope="module")
def tiny_btsrn(tmp_path_factory):
    """A tiny BTSRN x2 saved as .keras, and the network."""
    keras.utils.set_random_seed(5)
    network = models.build_model("btsrn", SCALE, **TINY_OPTIONS["btsrn"])
    path = tmp_path_factory.mktemp("net") / "tiny.keras"
    network.save(path)
    return str(path), network


def int8_runtime(file_format):
    if file_format == "tflite":
        return "litert int8"
    return "openvino int8" if runtimes.available("openvino") else "onnxruntime int8"


@pytest.fixture(scope="module", params=["onnx", "tflite"])
def int8_export(request, tiny_btsrn, tmp_path_factory):
    path, network = tiny_btsrn
    target = tmp_path_factory.mktemp("int8") / "btsrn_int8"
    lines = export.export_network_file(
        network, "btsrn", SCALE, target, request.param, quantization="int8", max_psnr_loss=10.0
    )
    return target, lines, request.param


def test_int8_export_writes_a_folder_that_model_accepts(int8_export, tiny_btsrn, random_image):
    target, lines, file_format = int8_export
    assert sorted(os.listdir(target)) == [f"model.{file_format}", "sr_tf.json"]
    assert len(lines) == 1 and "int8 PSNR change on samples valid x2 (2 images" in lines[0]
    info = json.loads((target / "sr_tf.json").read_text())
    assert (info["model"], info["scale"], info["precision"]) == ("btsrn", SCALE, "int8")
    assert info["psnr_check"]["images"] == 2
    if file_format == "onnx":  # BTSRN has no residual-stream readers: every convolution but the last
        assert info["int8_layout"] == "all_int8" and "layout all_int8" in lines[0]

    predictor = load_predictor(str(target))
    assert predictor.runtime == int8_runtime(file_format) and predictor.scales == (SCALE,)
    also = load_predictor(str(target / f"model.{file_format}"))  # the file alone works as well
    assert also.runtime == predictor.runtime

    reference = network_predictor(tiny_btsrn[1])
    image = random_image(41, 53, 1)
    whole = predictor.upscale(image, SCALE)
    expected = reference.upscale(image, SCALE)
    assert whole.shape == expected.shape == (82, 106, 3) and whole.dtype == np.uint8
    assert psnr_between(whole, expected) > 35  # int8 of a tiny random network: near, not equal
    # tiles of other shapes resize the interpreter
    tiled = predictor.upscale(image, SCALE, InferenceOptions(tile=16))
    assert np.abs(tiled.astype(int) - whole).max() <= 1
    ensemble = predictor.upscale(image, SCALE, InferenceOptions(self_ensemble=True))
    assert psnr_between(ensemble, reference.upscale(image, SCALE, InferenceOptions(self_ensemble=True))) > 35


def test_int8_folder_in_evaluate_and_upscale(int8_export, tmp_path, make_benchmark, random_image):
    from sr_tf.commands import evaluate, upscale

    target = int8_export[0]
    root = make_benchmark(tmp_path / "bench")
    results = tmp_path / "r.json"
    status = evaluate.main(
        [
            "evaluate",
            f"--model={target}",
            f"--benchmark_dir={root}",
            "--sets=Tiny",
            "--scales=2",
            f"--results_json={results}",
        ]
    )
    assert status == 0 and json.loads(results.read_text())["Tiny"]["x2"]["psnr"] > 10

    from sr_tf.data.images import read_image, write_png

    photo = tmp_path / "photo.png"
    write_png(photo, random_image(30, 40, 2))
    for tile in ("0", "12"):
        out = tmp_path / f"out{tile}.png"
        assert (
            upscale.main(
                ["upscale", f"--model={target}", f"--input={photo}", f"--output={out}", f"--tile={tile}"]
            )
            == 0
        )
        assert read_image(out).shape == (60, 80, 3)


@pytest.mark.parametrize("file_format", ["tflite", "onnx"])
def test_float_network_files_reproduce_keras(file_format, tiny_btsrn, tmp_path, random_image):
    path, network = tiny_btsrn
    target = tmp_path / file_format
    lines = export.export_network_file(network, "btsrn", SCALE, target, file_format)
    assert len(lines) == 1 and "reproduces the Keras model" in lines[0]
    predictor = load_predictor(str(target / f"model.{file_format}"))
    image = random_image(23, 31, 3)
    expected = np.asarray(network_predictor(network).float_fns[SCALE](image))
    got = np.asarray(predictor.float_fns[SCALE](image))
    assert np.abs(got - expected).max() < export.FLOAT_TOLERANCE
    assert predictor.runtime.split()[0] == (
        "litert" if file_format == "tflite" else int8_runtime("onnx").split()[0]
    )


def test_onnx_runtime_runs_onnx_files_too(tiny_btsrn, tmp_path, random_image):
    from sr_tf.inference.accelerated import onnx_predictor

    _, network = tiny_btsrn
    export.export_network_file(network, "btsrn", SCALE, tmp_path / "f", "onnx")
    predictor = onnx_predictor(str(tmp_path / "f" / "model.onnx"), runtime="onnxruntime")
    image = random_image(17, 19, 7)
    expected = np.asarray(network_predictor(network).float_fns[SCALE](image))
    assert predictor.runtime == "onnxruntime fp32"
    assert np.abs(np.asarray(predictor.float_fns[SCALE](image)) - expected).max() < export.FLOAT_TOLERANCE


def test_edsr_onnx_round_trip(tmp_path, random_image):
    keras.utils.set_random_seed(2)
    network = models.build_model("edsr_baseline", 3, **TINY_OPTIONS["edsr_baseline"])
    lines = export.export_network_file(network, "edsr_baseline", 3, tmp_path / "e", "onnx")
    assert "reproduces the Keras model" in lines[0]
    predictor = load_predictor(str(tmp_path / "e"))
    assert predictor.upscale(random_image(9, 11, 0), 3).shape == (27, 33, 3)
    # Called eagerly, EDSR's head runs in numpy (no TensorFlow): the same numbers as its TF head.
    head, image = predictor.float_fns[3], random_image(9, 11, 1)
    assert isinstance(head(image), np.ndarray)
    assert np.array_equal(head(image), head.traced(image).numpy())


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_last_convolution_moves_before_the_pixel_shuffle(scale, random_image):
    """EDSR's ONNX graph ends convolution -> pixel shuffle of 3 * r**2 channels (not shuffle ->
    convolution; runtimes.convolution_before_shuffle), only there, and computes what the Keras
    network computes."""
    import onnx
    import onnxruntime

    keras.utils.set_random_seed(scale)
    network = models.build_model("edsr_baseline", scale, **TINY_OPTIONS["edsr_baseline"])
    content = runtimes.network_to_onnx(network)
    nodes = [node for node in onnx.load_from_string(content).graph.node if node.op_type != "Transpose"]
    assert [node.op_type for node in nodes[-2:]] == ["Conv", "DepthToSpace"]
    if scale == 4:  # the first x2 stays upsampling convolution -> shuffle: only the last moves
        assert [node.op_type for node in nodes[-5:-2]] == ["Conv", "DepthToSpace", "Conv"]
    weights = {t.name: t for t in onnx.load_from_string(content).graph.initializer}[nodes[-2].input[1]]
    r = 2 if scale == 4 else scale  # x4 is two x2 shuffles; the last one is rewritten
    assert list(weights.dims) == [3 * r * r, TINY_OPTIONS["edsr_baseline"]["num_features"] * r * r, 3, 3]
    session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
    lr = random_image(11, 14, scale)[None].astype(np.float32)
    got = session.run(None, {session.get_inputs()[0].name: lr})[0]
    assert np.abs(got - network(lr, training=False).numpy()).max() < export.FLOAT_TOLERANCE


@pytest.mark.parametrize("name,stream_readers", [("btsrn", 0), ("edsr_baseline", 2)])
def test_int8_keeps_the_last_and_the_residual_stream_convolutions_float(name, stream_readers):
    """EDSR's block inputs (the residual stream: a tensor that also feeds an addition) and every
    network's last convolution stay float; BTSRN's convolutions read activations, so only its last."""
    import onnx

    options = dict(TINY_OPTIONS[name], **({"num_blocks": 2} if name == "edsr_baseline" else {}))
    network = models.build_model(name, 2, **options)
    graph = onnx.load_from_string(accelerated.convert_onnx(network, 2))
    convs = [node.name for node in graph.graph.node if node.op_type == "Conv"]
    kept = accelerated.float_convolutions(graph)
    assert kept[-1] == convs[-1] and len(kept) == stream_readers + 1
    assert all("conv1" in name for name in kept[:-1])


def test_int8_residual_stream_stays_float(random_image):
    """In an int8 file only the quantized convolutions read rounded activations: EDSR's additions
    (the residual stream) read the float tensors, as the quantization-aware simulation assumes."""
    import onnx

    keras.utils.set_random_seed(4)
    network = models.build_model("edsr_baseline", 2, **dict(TINY_OPTIONS["edsr_baseline"], num_blocks=2))
    crops = [random_image(12, 12, k) for k in range(2)]
    content = accelerated.convert_int8_onnx(network, 2, crops, layout=accelerated.ALL_INT8)
    graph = onnx.load_from_string(content).graph
    produced_by = {output: node.op_type for node in graph.node for output in node.output}
    readers_of_rounded = {
        node.op_type
        for node in graph.node
        for name in node.input
        if produced_by.get(name) == "DequantizeLinear"
    }
    additions = [node for node in graph.node if node.op_type == "Add"]
    assert len(additions) >= 3 and readers_of_rounded == {"Conv"}
    assert all(produced_by.get(name) != "DequantizeLinear" for node in additions for name in node.input)
    with pytest.raises(ValueError, match="unknown int8 layout 'fast'"):
        accelerated.convert_int8_onnx(network, 2, crops, layout="fast")


def test_psnr_guard_refuses_and_writes_nothing(tiny_btsrn, tmp_path, monkeypatch):
    _, network = tiny_btsrn
    monkeypatch.setattr(accelerated, "psnr_change", lambda *args: (-0.5, 30.0, 29.5))
    with pytest.raises(
        export.ExportError, match=r"-0.500 dB.*more than --max_psnr_loss=0.1 dB lost; nothing written"
    ):
        export.export_network_file(network, "btsrn", SCALE, tmp_path / "out", "tflite", quantization="int8")
    assert os.listdir(tmp_path) == []


def test_psnr_guard_in_the_command(tiny_btsrn, tmp_path, monkeypatch, capsys):
    path, _ = tiny_btsrn
    monkeypatch.setattr(accelerated, "psnr_change", lambda *args: (-0.25, 30.0, 29.75))
    status = export_main.main(
        ["export", f"--model={path}", f"--output={tmp_path / 'out'}", "--quantize=int8"]
    )
    assert status == 1 and "more than --max_psnr_loss=0.1 dB lost" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_missing_extra_names_it(monkeypatch, tiny_btsrn, tmp_path):
    _, network = tiny_btsrn
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(runtimes.MissingRuntime, match=r"pip install 'sr_tf\[fast\]'"):
        runtimes.require("ai_edge_litert.interpreter", "running a .tflite file")
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(ModelError, match=r"--precision=bf16: .*openvino.*pip install 'sr_tf\[fast\]'"):
        load_predictor(tiny_btsrn[0], InferenceOptions(precision="bf16"))
    assert accelerated.resolve_precision("auto") == "fp32"  # no OpenVINO: auto is the exact path
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setitem(sys.modules, "onnxruntime.quantization", None)
    with pytest.raises(ModelError, match=r"--precision=int8: .*onnxruntime.*pip install 'sr_tf\[onnx\]'"):
        load_predictor(
            tiny_btsrn[0], InferenceOptions(precision="int8")
        )  # quantized by ONNX Runtime's quantizer
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(runtimes.MissingRuntime, match=r"--format=onnx needs tf2onnx.*sr_tf\[onnx\]"):
        export.export_network_file(network, "btsrn", SCALE, tmp_path / "o", "onnx")
    assert os.listdir(tmp_path) == []


def test_bad_precision_and_quantize_are_usage_errors(tiny_btsrn, tmp_path, capsys):
    from sr_tf.commands import upscale

    path, _ = tiny_btsrn
    assert (
        upscale.main(["upscale", f"--model={path}", "--input=x.png", "--output=y.png", "--precision=int4"])
        == 2
    )
    assert "--precision" in capsys.readouterr().err
    assert export_main.main(["export", f"--model={path}", f"--output={tmp_path}/o", "--quantize=int4"]) == 2
    assert "--quantize" in capsys.readouterr().err
    assert (
        export_main.main(["export", f"--model={path}", f"--output={tmp_path}/o", "--tflite", "--format=onnx"])
        == 2
    )
    assert os.listdir(tmp_path) == []


def test_precision_applies_to_networks_only(tmp_path):
    with pytest.raises(ModelError, match="--precision=int8 applies to networks"):
        load_predictor(str(tmp_path), InferenceOptions(precision="int8"))
    assert load_predictor("bicubic", InferenceOptions(precision="auto")).runtime == "tensorflow fp32"
    with pytest.raises(ValueError, match="--precision must be one of auto, fp32, bf16, int8, got 'int4'"):
        InferenceOptions(precision="int4")


def test_precision_int8_caches_its_conversion(tiny_btsrn):
    path, _ = tiny_btsrn
    first = load_predictor(path, InferenceOptions(precision="int8"))
    assert first.runtime == int8_runtime("onnx")
    cache = os.path.join(os.environ["SR_TF_CACHE"], "int8")
    files = os.listdir(cache)
    assert len(files) == 1 and files[0].startswith("btsrn_x2_") and files[0].endswith(".onnx")
    load_predictor(path, InferenceOptions(precision="int8"))
    assert os.listdir(cache) == files  # made once


@pytest.mark.skipif(not runtimes.available("openvino"), reason="OpenVINO (extra 'fast') is not installed")
def test_openvino_bf16_and_fp32_paths(tiny_btsrn, random_image):
    path, network = tiny_btsrn
    image = random_image(21, 26, 6)
    expected = np.asarray(network_predictor(network).float_fns[SCALE](image))
    exact = load_predictor(path, InferenceOptions(precision="fp32"))
    assert exact.runtime == "tensorflow fp32"
    from sr_tf.inference.accelerated import openvino_predictor

    ov32 = openvino_predictor(network, path, "fp32")
    assert ov32.runtime == "openvino fp32"
    assert np.abs(np.asarray(ov32.float_fns[SCALE](image)) - expected).max() < 0.01
    fast = load_predictor(path, InferenceOptions(precision="bf16"))
    assert fast.runtime.startswith("openvino")
    assert (
        np.abs(
            fast.upscale(image, SCALE).astype(int) - network_predictor(network).upscale(image, SCALE)
        ).max()
        <= 8
    )


@pytest.mark.skipif(not runtimes.available("openvino"), reason="OpenVINO (extra 'fast') is not installed")
def test_openvino_keeps_only_the_most_recent_shapes_compiled(tiny_btsrn):
    _, network = tiny_btsrn
    runner = runtimes.OpenVinoRunner(runtimes.openvino_model(network), "fp32", max_shapes=2)
    rng = np.random.default_rng(0)
    outputs = {}
    for height in (20, 24, 20, 28, 20):  # 20 is used again each time, so 24 is the one dropped
        x = rng.uniform(0, 1, (1, height, 22, 3)).astype(np.float32)
        outputs[height] = runner(x)
        assert outputs[height].shape[1] == network.compute_output_shape(x.shape)[1]
    assert list(runner.compiled) == [(1, 28, 22, 3), (1, 20, 22, 3)]


@pytest.mark.slow
def test_shipped_btsrn_x2_int8_within_a_tenth_of_a_db_on_set5(benchmark_dir, tmp_path):
    from sr_tf.data import sources

    network = load_predictor("pretrained:btsrn_x2").keep_alive[0]
    lines = export.export_network_file(network, "btsrn", 2, tmp_path / "q", "onnx", quantization="int8")
    set5 = sources.open_pairs(f"benchmark:{benchmark_dir}:Set5", 2)
    change, _, _ = accelerated.psnr_change(
        network_predictor(network), load_predictor(str(tmp_path / "q")), set5, 2
    )
    assert change >= -0.1, (change, lines)


def test_bench_runtimes_quick_table(tmp_path, load_tool):
    """tools/bench_runtimes.py on a tiny network: a row per path with its ratio, torch rows or a
    skip reason naming the extra."""
    tool = load_tool("bench_runtimes.py")
    tool.keep_freed_memory()  # what main() does first
    settings = dict(
        quick=True,
        paths=["tf_fp32", "ort_fp32", "torch_fp32"],
        lr_size=16,
        rounds=1,
        benchmark_dir=None,
        sets=[],
    )
    result = tool.benchmark_model("edsr_baseline_x2", settings, str(tmp_path))
    assert result["scale"] == 2 and {"tf_fp32", "ort_fp32"} <= set(result["rows"])
    if runtimes.available("torch"):
        assert "torch_fp32" in result["rows"]
    else:
        assert "sr_tf[bench]" in result["skipped"]["torch_fp32"]
    result["lr_size"] = 16
    table = tool.table([result], [])
    assert "| tf_fp32 |" in table and "| 1.00 |" in table
