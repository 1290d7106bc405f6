"""Weights from the original code: the fixtures the original programs wrote convert to sr_tf
networks that compute what those programs computed; bad files give errors that say why."""

import collections
import io
import os
import pathlib
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest

from sr_tf import convert, models
from sr_tf.convert.conversion import convert_checkpoint
from sr_tf.convert.torch_files import TorchFileError, read_state_dict

FIXTURES = (
    pathlib.Path(
        os.environ.get("SR_TF_SHARED_DATA", pathlib.Path(__file__).resolve().parents[2] / "shared" / "data")
    ).parent
    / "fixtures"
)


@pytest.fixture
def fixtures():
    if not (FIXTURES / "edsr_pytorch").is_dir():
        pytest.skip(
            f"needs the shared fixtures at {FIXTURES} (written by the original EDSR-PyTorch and BTSRN code; "
            "set SR_TF_SHARED_DATA to the folder beside them)"
        )
    return FIXTURES


def nhwc(array):
    return np.transpose(array, (0, 2, 3, 1))


@pytest.mark.parametrize("size", ["b2f8", "b16f64"])
def test_edsr_pytorch_fixtures_reproduce_the_official_output(fixtures, size):
    io_file = np.load(fixtures / "edsr_pytorch" / f"edsr_baseline_x2_{size}_io.npz")
    network = convert.from_edsr_pytorch(
        fixtures / "edsr_pytorch" / f"edsr_baseline_x2_{size}_state_dict.pt", "edsr_baseline", 2
    )
    assert models.describe(network)["options"] == {
        "num_blocks": int(io_file["n_resblocks"]),
        "num_features": int(io_file["n_feats"]),
        "res_scale": 1.0,
    }
    np.testing.assert_allclose(network(nhwc(io_file["lr"])).numpy(), nhwc(io_file["sr"]), atol=1e-3)


def test_the_legacy_file_equals_the_zip_file(fixtures):
    zip_state = read_state_dict(fixtures / "edsr_pytorch" / "edsr_baseline_x2_b2f8_state_dict.pt")
    legacy = read_state_dict(fixtures / "edsr_pytorch" / "edsr_baseline_x2_b2f8_state_dict_legacy.pt")
    assert list(zip_state) == list(legacy) and len(zip_state) == 20
    for key in zip_state:
        np.testing.assert_array_equal(zip_state[key], legacy[key])


def test_btsrn_release_checkpoint_reproduces_the_release_graph_and_predict(fixtures):
    io_file = np.load(fixtures / "btsrn_release" / "btsrn_release_x2_io.npz")
    network = convert.from_btsrn_release(fixtures / "btsrn_release" / "btsrn_release_x2", 2)
    assert models.count_trainable(network) == 887_683
    for k in "ab":
        np.testing.assert_allclose(network(io_file[f"lr_{k}"]).numpy(), io_file[f"residual_{k}"], atol=1e-5)
    sr = models.build_inference_model(network, scale=2)(io_file["lr_uint8"][None]).numpy()[0]
    levels = np.abs(sr.astype(int) - io_file["predict_sr_uint8"].astype(int))
    assert (
        sr.shape == io_file["predict_sr_uint8"].shape and levels.max() <= 2
    )  # the release's bicubic is Pillow's


def test_the_command_writes_a_keras_file_that_round_trips_and_exports(fixtures, tmp_path):
    output = tmp_path / "edsr.keras"
    lines = convert_checkpoint(
        "edsr_pytorch",
        str(fixtures / "edsr_pytorch" / "edsr_baseline_x2_b2f8_state_dict.pt"),
        "edsr_baseline",
        [2],
        str(output),
        str(tmp_path / "export"),
    )
    assert "5,699 trainable parameters" in lines[1] and any("SavedModel" in line for line in lines)
    reloaded = models.load_keras_network(str(output))
    assert models.describe(reloaded)["options"]["num_blocks"] == 2
    assert (tmp_path / "export" / "saved_model.pb").is_file()


def test_wrong_scale_and_wrong_architecture_are_named_and_nothing_is_written(fixtures, tmp_path):
    path = fixtures / "edsr_pytorch" / "edsr_baseline_x2_b2f8_state_dict.pt"
    with pytest.raises(convert.ConversionError, match="is an x2 checkpoint .* not x3"):
        convert_checkpoint("edsr_pytorch", str(path), "edsr_baseline", [3], str(tmp_path / "a.keras"))
    with pytest.raises(convert.ConversionError, match="is an x2 checkpoint .* not x4"):
        convert.from_btsrn_release(fixtures / "btsrn_release" / "btsrn_release_x2", 4)
    with pytest.raises(convert.ConversionError, match="cannot read the checkpoint .*nothing"):
        convert.from_btsrn_release(tmp_path / "nothing", 2)
    with pytest.raises(convert.ConversionError, match="missing"):
        convert.from_edsr_pytorch(path, "mdsr_baseline", (2,))
    assert os.listdir(tmp_path) == []
    import tensorflow as tf

    other = tf.train.Checkpoint(head=tf.Variable(np.zeros((3, 3), np.float32))).write(
        str(tmp_path / "other" / "ckpt")
    )
    with pytest.raises(
        convert.ConversionError, match="not a BTSRN release checkpoint: no in/kernel among .*head"
    ):
        convert.from_btsrn_release(other, 2)


def test_a_truncated_file_is_named(fixtures, tmp_path):
    for name in ("edsr_baseline_x2_b2f8_state_dict.pt", "edsr_baseline_x2_b2f8_state_dict_legacy.pt"):
        data = (fixtures / "edsr_pytorch" / name).read_bytes()
        cut = tmp_path / name
        cut.write_bytes(data[: len(data) * 2 // 3])
        with pytest.raises(TorchFileError, match=str(cut)):
            read_state_dict(cut)


def test_a_pickle_naming_another_global_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    for layout in ("zip", "plain"):
        path = tmp_path / f"evil_{layout}.pt"
        payload = pickle.dumps(collections.OrderedDict(x=Evil()), protocol=2)
        if layout == "zip":
            with zipfile.ZipFile(path, "w") as archive:
                archive.writestr("archive/data.pkl", payload)
        else:
            path.write_bytes(payload)
        with pytest.raises(TorchFileError, match=r"refusing the global (posix|os)\.system"):
            read_state_dict(path)
    assert not marker.exists()


# -- MDSR: a checkpoint in the official key layout, written here without torch ----------------


class _Storage:
    def __init__(self, key, array):
        self.key, self.array = key, array


class _Tensor:
    def __init__(self, storage):
        self.storage = storage


def write_torch_zip(path, state):
    """A torch >= 1.6 zip state_dict of float32 numpy arrays (the layout torch.save writes)."""
    fake_torch = types.ModuleType("torch")
    fake_utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled, never called")

    class FloatStorage:
        pass

    fake_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    fake_torch.FloatStorage, fake_torch._utils = FloatStorage, fake_utils

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                return ("storage", FloatStorage, obj.key, "cpu", obj.array.size)
            return None

        def reducer_override(self, obj):
            if isinstance(obj, _Tensor):
                shape = obj.storage.array.shape
                strides = tuple(int(np.prod(shape[i + 1 :])) for i in range(len(shape)))
                return _rebuild_tensor_v2, (obj.storage, 0, shape, strides, False, collections.OrderedDict())
            return NotImplemented

    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules.update({"torch": fake_torch, "torch._utils": fake_utils})
    try:
        tensors = collections.OrderedDict()
        storages = []
        for i, (name, array) in enumerate(state.items()):
            storages.append(_Storage(str(i), np.ascontiguousarray(array, np.float32)))
            tensors[name] = _Tensor(storages[-1])
        buffer = io.BytesIO()
        Writer(buffer, protocol=2).dump(tensors)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        for storage in storages:
            archive.writestr(f"archive/data/{storage.key}", storage.array.astype("<f4").tobytes())


def conv(rng, out, inp, k):
    return rng.normal(0, 0.1, (out, inp, k, k)), rng.normal(0, 0.1, out)


def official_mdsr_state(rng, scales, blocks, feats):
    state = collections.OrderedDict()
    mean = 255 * np.array([0.4488, 0.4371, 0.4040])
    for key, sign in (("sub_mean", -1), ("add_mean", 1)):
        state[f"{key}.weight"], state[f"{key}.bias"] = np.eye(3).reshape(3, 3, 1, 1), sign * mean

    def put(key, out, inp, k):
        state[f"{key}.weight"], state[f"{key}.bias"] = conv(rng, out, inp, k)

    put("head.0", feats, 3, 3)
    for k in range(len(scales)):
        for j in range(2):
            put(f"pre_process.{k}.{j}.body.0", feats, feats, 5)
            put(f"pre_process.{k}.{j}.body.2", feats, feats, 5)
    for i in range(blocks):
        put(f"body.{i}.body.0", feats, feats, 3)
        put(f"body.{i}.body.2", feats, feats, 3)
    put(f"body.{blocks}", feats, feats, 3)
    for k, s in enumerate(scales):
        for j, r in enumerate({2: [2], 3: [3], 4: [2, 2]}[s]):
            put(f"upsample.{k}.{2 * j}", feats * r * r, feats, 3)
    put("tail.0", 3, feats, 3)
    return state


def test_mdsr_branches_equal_per_branch_edsr_conversions(tmp_path):
    rng = np.random.default_rng(0)
    scales, blocks, feats = (2, 3, 4), 1, 4
    state = official_mdsr_state(rng, scales, blocks, feats)
    path = tmp_path / "MDSR_tiny.pt"
    write_torch_zip(path, state)
    network = convert.from_edsr_pytorch(path, "mdsr_baseline", scales)
    assert models.describe(network)["options"]["num_blocks"] == blocks
    lr = rng.uniform(0, 255, (1, 7, 9, 3)).astype(np.float32)
    for k, s in enumerate(scales):
        # Each branch against the official MDSR forward pass, written out in numpy.
        branch = models.mdsr_branch(network, s)(lr).numpy()
        assert branch.shape == (1, 7 * s, 9 * s, 3)
        expected = mdsr_reference(state, k, s, blocks, lr)
        np.testing.assert_allclose(branch, expected, atol=1e-3)


def _conv_nhwc(x, weight, bias, relu=False):
    """'same' convolution in numpy, PyTorch OIHW weights, NHWC data."""
    k = weight.shape[-1]
    pad = k // 2
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.zeros(x.shape[:3] + (weight.shape[0],))
    for dy in range(k):
        for dx in range(k):
            patch = padded[:, dy : dy + x.shape[1], dx : dx + x.shape[2], :]
            out += patch @ weight[:, :, dy, dx].T
    out += bias
    return np.maximum(out, 0) if relu else out


def _pixel_shuffle_nhwc(x, r):
    """PyTorch's PixelShuffle on NHWC data: channel c*r*r + i*r + j -> pixel (i, j) of channel c."""
    n, h, w, cr = x.shape
    c = cr // (r * r)
    x = x.reshape(n, h, w, c, r, r).transpose(0, 1, 4, 2, 5, 3)
    return x.reshape(n, h * r, w * r, c)


def mdsr_reference(state, k, s, blocks, lr):
    """The official MDSR forward pass for branch k (scale s), in numpy."""

    def w(key):
        return state[f"{key}.weight"], state[f"{key}.bias"]

    x = lr + state["sub_mean.bias"]
    x = _conv_nhwc(x, *w("head.0"))
    for j in range(2):
        y = _conv_nhwc(x, *w(f"pre_process.{k}.{j}.body.0"), relu=True)
        x = x + _conv_nhwc(y, *w(f"pre_process.{k}.{j}.body.2"))
    pre = x
    for i in range(blocks):
        y = _conv_nhwc(x, *w(f"body.{i}.body.0"), relu=True)
        x = x + _conv_nhwc(y, *w(f"body.{i}.body.2"))
    x = _conv_nhwc(x, *w(f"body.{blocks}")) + pre
    for j, r in enumerate({2: [2], 3: [3], 4: [2, 2]}[s]):
        x = _pixel_shuffle_nhwc(_conv_nhwc(x, *w(f"upsample.{k}.{2 * j}")), r)
    return _conv_nhwc(x, *w("tail.0")) + state["add_mean.bias"]


def official_edsr_state(rng, scale, blocks, feats):
    """A single-scale EDSR state_dict in the official key layout (head, body, tail.0 upsampler, tail.1)."""
    state = collections.OrderedDict()
    mean = 255 * np.array([0.4488, 0.4371, 0.4040])
    for key, sign in (("sub_mean", -1), ("add_mean", 1)):
        state[f"{key}.weight"], state[f"{key}.bias"] = np.eye(3).reshape(3, 3, 1, 1), sign * mean
    state["head.0.weight"], state["head.0.bias"] = conv(rng, feats, 3, 3)
    for i in range(blocks):
        for part in (0, 2):
            state[f"body.{i}.body.{part}.weight"], state[f"body.{i}.body.{part}.bias"] = conv(
                rng, feats, feats, 3
            )
    state[f"body.{blocks}.weight"], state[f"body.{blocks}.bias"] = conv(rng, feats, feats, 3)
    for j, r in enumerate({2: [2], 3: [3], 4: [2, 2]}[scale]):
        state[f"tail.0.{2 * j}.weight"], state[f"tail.0.{2 * j}.bias"] = conv(rng, feats * r * r, feats, 3)
    state["tail.1.weight"], state["tail.1.bias"] = conv(rng, 3, feats, 3)
    return state


def test_an_edsr_width_with_the_other_models_residual_scaling_is_refused(tmp_path):
    """EDSR scales residuals by 0.1, EDSR-baseline does not; a state_dict does not say which, its width
    does."""
    path = tmp_path / "EDSR_baseline_like.pt"
    write_torch_zip(path, official_edsr_state(np.random.default_rng(1), 2, blocks=1, feats=64))
    with pytest.raises(
        convert.ConversionError,
        match="64 features, the width of edsr_baseline .residual scaling 1.*"
        "--model=edsr scales residuals by 0.1: use --model=edsr_baseline",
    ):
        convert.from_edsr_pytorch(path, "edsr", 2)
    assert models.describe(convert.from_edsr_pytorch(path, "edsr_baseline", 2))["options"]["res_scale"] == 1.0
    chosen = convert.from_edsr_pytorch(path, "edsr", 2, res_scale=0.1)  # said explicitly: converted as asked
    assert models.describe(chosen)["options"] == {"num_blocks": 1, "num_features": 64, "res_scale": 0.1}


def test_the_command_makes_missing_output_folders_and_refuses_unwritable_ones(tmp_path):
    path = tmp_path / "tiny.pt"
    write_torch_zip(path, official_edsr_state(np.random.default_rng(2), 2, blocks=1, feats=4))
    output = tmp_path / "newdir" / "deeper" / "b.keras"
    lines = convert_checkpoint("edsr_pytorch", str(path), "edsr_baseline", [2], str(output))
    assert output.is_file() and lines[-1].startswith(f"wrote {output}")
    (tmp_path / "afile").write_text("a file")
    with pytest.raises(
        ValueError, match=f"cannot write {tmp_path}/afile/b.keras: {tmp_path}/afile is a file"
    ):
        convert_checkpoint(
            "edsr_pytorch", str(path), "edsr_baseline", [2], str(tmp_path / "afile" / "b.keras")
        )
    with pytest.raises(convert.ConversionError):  # a step that fails removes the folders it made
        convert_checkpoint(
            "edsr_pytorch", str(path), "edsr_baseline", [3], str(tmp_path / "other" / "c.keras")
        )
    assert sorted(os.listdir(tmp_path)) == ["afile", "newdir", "tiny.pt"]
