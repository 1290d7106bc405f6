"""Test session setup: quiet TF, two logical CPUs for the multi-replica tests, shared data paths."""
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
        tf.train.CheckpointManager(tf.train.Checkpoint(model=network), os.path.join(run_dir, "checkpoints"), 1).save()
        return network
    return make


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
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                                  text=True, timeout=30)
            reason = done.stderr.strip() or f"exit status {done.returncode}"
        except OSError as error:
            done, reason = None, str(error)
        if done is None or done.returncode != 0:
            pytest.skip(f"needs a small tmpfs mounted for this test (root and mount(8)); mount said: {reason}")
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
        return subprocess.Popen(command, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kwargs)
    return start
