"""Test session setup: quiet TF, two logical CPUs for the multi-replica tests, shared data paths, and
the fixtures tests share, among them the model harness run_model_test (tests import none of this
module: plain constants they need at import time are in tiny.py)."""

import errno
import importlib.util
import os
import pathlib
import signal
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from sr_tf.data.images import write_png  # noqa: E402
from sr_tf.data.imresize import imresize  # noqa: E402

# MirroredStrategy tests need several devices; on a CPU-only machine split the CPU into logical
# devices. This must happen before TF runs its first op, hence at import time here.
CPU_REPLICAS = 2
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * CPU_REPLICAS,
)

REPO = pathlib.Path(__file__).resolve().parents[1]
# Set5/Set14 with MATLAB-made LR files; CI has ../shared beside the checkout.
SHARED_DATA = pathlib.Path(os.environ.get("SR_TF_SHARED_DATA", REPO.parent / "shared" / "data"))
BENCHMARK_DIR = SHARED_DATA / "benchmark"


@pytest.fixture
def benchmark_dir():
    if not (BENCHMARK_DIR / "Set5" / "HR").is_dir():
        pytest.skip(
            f"needs the shared Set5/Set14 benchmark files at {BENCHMARK_DIR} "
            "(set SR_TF_SHARED_DATA to the folder that holds 'benchmark/')"
        )
    return BENCHMARK_DIR


@pytest.fixture(autouse=True)
def float32_policy():
    """Each test starts with the float32 policy, whatever the previous test set."""
    import keras

    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory):
    """Generated LR files and caches go to a temporary folder, not ~/.cache/sr_tf."""
    previous = os.environ.get("SR_TF_CACHE")
    os.environ["SR_TF_CACHE"] = str(tmp_path_factory.mktemp("sr_tf_cache"))
    yield
    if previous is None:
        os.environ.pop("SR_TF_CACHE", None)
    else:
        os.environ["SR_TF_CACHE"] = previous


@pytest.fixture(scope="session")
def make_photo_folder(tmp_path_factory):
    """make(name, count, size, seed): a new folder of `count` random size x size RGB PNG photos."""

    def make(name, count, size, seed):
        folder = tmp_path_factory.mktemp(name)
        rng = np.random.default_rng(seed)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
        return folder

    return make


@pytest.fixture(scope="session")
def make_run():
    """make_run(run_dir, name, scale, options, seed): a run directory as training writes it
    (model.json and one checkpoint) for a new network of that seed; returns the network."""

    def make(run_dir, name, scale, options, seed):
        import keras

        from sr_tf import models
        from sr_tf.training import runs

        keras.utils.set_random_seed(seed)
        network = models.build_model(name, scale, **options)
        runs.write_description(run_dir, models.describe(network))
        tf.train.CheckpointManager(
            tf.train.Checkpoint(model=network), os.path.join(run_dir, "checkpoints"), 1
        ).save()
        return network

    return make


@pytest.fixture(scope="session")
def tiny_config():
    """tiny_config(run_dir, folder, **overrides): the TrainConfig of a tiny BTSRN run on an image
    folder (random 24-pixel patches, 6 steps, a checkpoint every 3, no export)."""
    from tiny import TINY_BTSRN

    from sr_tf.training.config import TrainConfig

    def make(run_dir, folder, **overrides):
        settings = dict(
            run_dir=str(run_dir),
            model="btsrn",
            scale=(2,),
            model_options=TINY_BTSRN,
            train_data=f"folder:{folder}",
            val_images=2,
            batch_size=4,
            patch_mode="random",
            hr_patch=24,
            steps=6,
            checkpoint_every=3,
            log_every=1,
            validate_every=100,
            export=False,
            seed=3,
        )
        return TrainConfig(**{**settings, **overrides})

    return make


def as_list(outputs):
    """A network's output or outputs (MDSR: one per scale) as a list of numpy arrays."""
    return [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


@pytest.fixture
def run_model_test(tmp_path):
    """run_model_test(name, scale, options, trainable, outputs, lr_size=(13, 9), variants=(), tflite=False):
    what every registered model must do, checked on its tiny network `name` at `scale` with
    `options` (the idea of keras-hub's run_backbone_test; tests/test_models.py declares each model).
    Returns the network.

    build: an SRNetwork carrying its description, with `trainable` parameters, output shapes
      `outputs` for a float LR of `lr_size`; the spec's recorded parameter counts hold at the
      default options; under mixed_bfloat16 the layers compute in bfloat16, the outputs stay float32;
    .keras: saved and reloaded in safe mode, the same description, layer classes and outputs bit
      for bit (so is each of `variants`, options that replace some of `options`);
    inference: per scale, uint8 of any size in, uint8 of s times the size out; the float model is
      the uint8 one before rounding; its .keras round trip gives the same output;
    SavedModel: per scale into saved_model/x<s> (export_checked, with model.tflite if `tflite`,
      which also works alone as --model); its metadata, and reloaded by the predictor, both
      signatures give the Keras result (uint8 within one level, as export_checked allows)."""

    def run(name, scale, options, trainable, outputs, lr_size=(13, 9), variants=(), tflite=False):
        from sr_tf import models

        rng = np.random.default_rng(1)
        x = rng.uniform(0, models.get_spec(name).value_range, (1, *lr_size, 3)).astype(np.float32)
        network = _check_build(name, scale, options, trainable, outputs, x)
        for i, variant in enumerate([{}, *variants]):
            built = network if not variant else models.build_model(name, scale, **{**options, **variant})
            _check_keras_round_trip(built, x, tmp_path / f"{name}_{i}.keras")
        lr = rng.integers(0, 256, (1, *lr_size, 3), dtype=np.uint8)
        expected = _check_inference_models(network, lr, tmp_path)
        _check_saved_models(network, lr[0], expected, tmp_path / "saved_model", tflite)
        return network

    return run


def _check_build(name, scale, options, trainable, outputs, x):
    import keras

    from sr_tf import models

    spec = models.get_spec(name)
    for recorded, count in spec.parameters.items():  # what the zoo table prints, checked built
        assert models.count_trainable(models.build_model(name, recorded)) == count, (name, recorded)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        half = models.build_model(name, scale, **options)
        assert next(layer for layer in half.layers if layer.trainable_weights).compute_dtype == "bfloat16"
        assert all(o.dtype == np.float32 for o in as_list(half(x)))
    finally:
        keras.mixed_precision.set_global_policy("float32")

    keras.utils.set_random_seed(3)
    network = models.build_model(name, scale, **options)
    description = models.describe(network)
    assert isinstance(network, models.SRNetwork)
    assert description == {
        "model": name,
        "scales": list(spec.scales(scale)),
        "options": {**models.model_defaults(name), **options},
    }
    assert models.count_trainable(network) == trainable
    assert models.from_description(description).count_params() == network.count_params()
    assert [o.shape for o in as_list(network(x))] == [tuple(shape) for shape in outputs]
    return network


def _check_keras_round_trip(network, x, path):
    import keras

    from sr_tf import models

    assert not any(isinstance(layer, keras.layers.Lambda) for layer in network.layers)
    network.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    assert isinstance(restored, models.SRNetwork) and models.describe(restored) == models.describe(network)
    assert [type(layer) for layer in restored.layers] == [type(layer) for layer in network.layers]
    for a, b in zip(as_list(network(x)), as_list(restored(x)), strict=True):
        np.testing.assert_array_equal(a, b)


def _check_inference_models(network, lr, folder):
    """{scale: the uint8 SR of lr[0]} from the inference model of each scale."""
    import keras

    from sr_tf import models

    expected = {}
    for s in models.scales_of(network):
        inference = models.build_inference_model(network, scale=s)
        assert inference.input.dtype == "uint8" and tuple(inference.input.shape) == (None, None, None, 3)
        sr = inference(lr)
        assert sr.dtype == tf.uint8 and sr.shape == (1, lr.shape[1] * s, lr.shape[2] * s, 3)
        sr_float = models.build_inference_model(network, scale=s, quantize=False)(lr).numpy()
        assert sr_float.dtype == np.float32
        np.testing.assert_array_equal(sr, np.clip(np.floor(sr_float + 0.5), 0, 255))
        path = folder / f"x{s}_inference.keras"
        inference.save(path)
        np.testing.assert_array_equal(keras.models.load_model(path, safe_mode=True)(lr), sr)
        expected[s] = sr[0].numpy()
    return expected


def _check_saved_models(network, image, expected, root, tflite):
    from sr_tf import export, models
    from sr_tf.inference.options import InferenceOptions
    from sr_tf.inference.predictor import load_predictor

    description = models.describe(network)
    name, scales = description["model"], models.scales_of(network)
    for s in scales:
        folder = root / f"x{s}"
        lines = export.export_checked(network, name, s, folder, tflite=tflite)
        assert len(lines) == 1 + tflite and all("reproduces the Keras model" in line for line in lines)
        info = export.read_metadata(folder)
        assert (info["model"], info["scale"], info["description"]) == (name, s, description)
        assert info["receptive_radius"] >= 3
        if tflite:
            tflite_file = folder / export.TFLITE_FILE
            ops = export.tflite_ops(tflite_file.read_bytes())
            assert "CONV_2D" in ops and not any(op.startswith("Flex") or "RESIZE" in op for op in ops)
            lite = export.run_tflite(tflite_file, image)
            assert lite.shape == expected[s].shape and np.abs(lite.astype(int) - expected[s]).max() <= 1
            alone = load_predictor(str(tflite_file))  # the file alone works as --model, tiled too
            for tile in (0, 8):
                assert (
                    np.abs(
                        alone.upscale(image, s, InferenceOptions(tile=tile)).astype(int) - expected[s]
                    ).max()
                    <= 1
                )
    assert sorted(os.listdir(root)) == sorted(f"x{s}" for s in scales)  # no temporary folder left

    # Reloaded: one SavedModel folder, or the folder of x<s> ones that training writes for MDSR.
    predictor = load_predictor(str(root if len(scales) > 1 else root / f"x{scales[0]}"))
    assert predictor.scales == tuple(sorted(scales))
    served = {}
    for loaded in predictor.keep_alive:  # the SavedModels it loaded
        sr = loaded.signatures["serving_default"](image=tf.constant(image))["image"].numpy()
        served[sr.shape[0] // image.shape[0]] = sr
    assert sorted(served) == sorted(scales)
    for s in scales:
        assert served[s].dtype == np.uint8 and served[s].shape == expected[s].shape
        assert np.abs(served[s].astype(int) - expected[s]).max() <= 1
        unrounded = np.asarray(predictor.float_fns[s](image))  # the upscale_float signature
        assert unrounded.dtype == np.float32 and np.abs(unrounded - np.floor(unrounded + 0.5)).max() > 0
        assert np.abs(predictor.upscale(image, s).astype(int) - expected[s]).max() <= 1


NOISY_LINE = r"^[EWF]\d{4} |WARNING|ERROR|Error|Traceback"


@pytest.fixture
def assert_quiet():
    """assert_quiet(stderr): a normal run prints no line that looks like an error or a warning."""
    import re

    def check(stderr):
        noisy = [line for line in stderr.splitlines() if re.search(NOISY_LINE, line)]
        assert not noisy, "\n".join(noisy)

    return check


@pytest.fixture(scope="session")
def random_image():
    """random_image(height, width, seed): a uint8 [H, W, 3] gradient with noise, some structure
    for the networks, fixed by seed."""

    def make(height, width, seed):
        y, x = np.mgrid[0:height, 0:width]
        smooth = np.stack([x * 4, y * 4, (x + y) * 2], axis=-1) % 256
        noise = np.random.default_rng(seed).integers(0, 40, (height, width, 3))
        return np.clip(smooth + noise, 0, 255).astype(np.uint8)

    return make


@pytest.fixture(scope="session")
def make_benchmark(random_image):
    """make_benchmark(root, set_name="Tiny", scales=(2,), sizes=...): <root>/<Set>/HR/*.png and
    LR_bicubic/X<s>/<name>x<s>.png (LR made with the MATLAB-exact imresize); returns root."""

    def make(root, set_name="Tiny", scales=(2,), sizes=((30, 37), (25, 24))):
        for i, (h, w) in enumerate(sizes):
            hr = random_image(h, w, i)
            write_png(root / set_name / "HR" / f"img{i}.png", hr)
            for s in scales:
                lr = imresize(hr[: h - h % s, : w - w % s], 1 / s)
                write_png(root / set_name / "LR_bicubic" / f"X{s}" / f"img{i}x{s}.png", lr)
        return root

    return make


@pytest.fixture(scope="session")
def load_tool():
    """load_tool(file_name): tools/<file_name> as a module, loaded once per session (a tool may
    define flags on absl's global FLAGS, which a second load would define twice)."""

    def load(file_name):
        name = f"sr_tf_tool_{pathlib.Path(file_name).stem}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, REPO / "tools" / file_name)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[name] = module
        return sys.modules[name]

    return load


@pytest.fixture
def mount_tmpfs(tmp_path):
    """mount(name, size="1m", read_only=False): a new folder under tmp_path with a tmpfs of that size
    mounted on it (unmounted at the end), for full and read-only disks. Skips, saying why, where
    this machine does not let the tests mount (needs root and a kernel that allows it)."""
    mounted = []

    def mount(name, size="1m", read_only=False):
        folder = tmp_path / name
        folder.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        try:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                capture_output=True,
                text=True,
                timeout=30,
            )
            reason = done.stderr.strip() or f"exit status {done.returncode}"
        except OSError as error:
            done, reason = None, str(error)
        if done is None or done.returncode != 0:
            pytest.skip(
                f"needs a small tmpfs mounted for this test (root and mount(8)); mount said: {reason}"
            )
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


@pytest.fixture(scope="session")
def fill_disk():
    """fill_disk(folder): writes <folder>/filler until the file system says it is full; returns its path."""

    def fill(folder):
        path = pathlib.Path(folder) / "filler"
        with open(path, "wb", buffering=0) as f:
            for chunk in (1 << 16, 1 << 12, 1):
                try:
                    while True:
                        f.write(b"\0" * chunk)
                except OSError as error:
                    assert error.errno == errno.ENOSPC, error
        return path

    return fill


@pytest.fixture(scope="session")
def listing():
    """listing(folder): every path under `folder`, relative, sorted (what a command left behind)."""

    def paths(folder):
        return sorted(str(p.relative_to(folder)) for p in pathlib.Path(folder).rglob("*"))

    return paths


@pytest.fixture(scope="session")
def interruptible():
    """interruptible(command, **popen_kwargs): a child process that Ctrl-C (SIGINT) interrupts even
    when the tests run where SIGINT is ignored (a background job inherits SIG_IGN)."""

    def start(command, **kwargs):
        return subprocess.Popen(
            command, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kwargs
        )

    return start
