import os
import socket

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from sr_tf.data import (
    DatasetError,
    FilePairSet,
    benchmark,
    div2k,
    image_folder,
    open_pairs,
    samples,
    tfds_div2k,
)
from sr_tf.data.images import ImageError
from sr_tf.data.imresize import imresize

RNG = np.random.default_rng(1)


def rgb(height, width):
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def save(path, pixels):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


def assert_dataset_matches_load(pairs):
    """dataset() yields, in order, exactly what load(i) gives, with HR = LR size x scale."""
    count = 0
    for i, (lr, hr) in enumerate(pairs.dataset()):
        lr_np, hr_np = pairs.load(i)
        np.testing.assert_array_equal(lr.numpy(), lr_np)
        np.testing.assert_array_equal(hr.numpy(), hr_np)
        assert hr_np.shape == (lr_np.shape[0] * pairs.scale, lr_np.shape[1] * pairs.scale, 3)
        assert pairs.hr_size(i) == hr_np.shape[:2]
        count += 1
    assert count == len(pairs)


def make_div2k(root, ids, scale=2, track="bicubic", merged=()):
    """A fake DIV2K layout; ids in `merged` go to the train folders, as EDSR-PyTorch keeps them."""
    files = {}
    for image_id in ids:
        part = "train" if image_id <= 800 or image_id in merged else "valid"
        hr = save(f"{root}/DIV2K_{part}_HR/{image_id:04d}.png", rgb(2 * 9 + 1, 2 * 11))
        lr = save(f"{root}/DIV2K_{part}_LR_{track}/X{scale}/{image_id:04d}x{scale}.png", rgb(9, 11))
        files[image_id] = (lr, hr)
    return files


def test_div2k_splits_tracks_and_merged_validation(tmp_path):
    files = make_div2k(tmp_path, [1, 2, 801, 802], merged=[802])
    make_div2k(tmp_path, [1], track="unknown")
    train = div2k(tmp_path, 2, "train", ids=[1, 2])
    assert (train.name, train.scale, train.names, len(train)) == ("DIV2K train x2", 2, ["0001", "0002"], 2)
    lr, hr = train.load(1)
    np.testing.assert_array_equal(lr, files[2][0])
    np.testing.assert_array_equal(hr, files[2][1][:18])  # 19 rows cropped to 9 x 2
    valid = div2k(tmp_path, 2, "valid", ids=[801, 802])
    assert valid.hr_files[1].endswith("DIV2K_train_HR/0802.png")
    assert_dataset_matches_load(valid)
    unknown = div2k(tmp_path, 2, "train", track="unknown", ids=[1])
    assert "DIV2K_train_LR_unknown" in unknown.lr_files[0] and unknown.name == "DIV2K train x2 unknown"
    # root may also be the folder that holds DIV2K/ (EDSR-PyTorch's dir_data)
    os.rename(tmp_path, tmp_path.parent / "moved")
    nested = tmp_path.parent / "outer"
    os.makedirs(nested)
    os.rename(tmp_path.parent / "moved", nested / "DIV2K")
    assert div2k(nested, 2, "train", ids=[1]).hr_files[0].startswith(str(nested / "DIV2K"))


def test_div2k_missing_files_name_the_folder_and_archive(tmp_path):
    make_div2k(tmp_path, [1, 2])
    with pytest.raises(DatasetError) as error:
        div2k(tmp_path, 2, "train_valid")
    message = str(error.value)
    assert "1796 of the 1800" in message and str(tmp_path) in message
    assert "DIV2K_train_HR.zip" in message and "DIV2K_valid_LR_bicubic_X2.zip" in message
    with pytest.raises(DatasetError, match="not found"):
        div2k(tmp_path / "absent", 2)


def test_a_missing_div2k_folder_says_where_div2k_comes_from_and_what_else_to_use(tmp_path):
    with pytest.raises(DatasetError) as error:
        open_pairs(f"div2k:{tmp_path / 'data' / 'DIV2K'}", 3, "train_valid")
    message = str(error.value)
    assert message.startswith(
        f"DIV2K folder not found: {tmp_path / 'data' / 'DIV2K'}. DIV2K comes from "
        "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
    )
    assert (
        "DIV2K_train_HR.zip, DIV2K_valid_HR.zip, DIV2K_train_LR_bicubic_X3.zip, "
        "DIV2K_valid_LR_bicubic_X3.zip "
        f"and unzip them all into {tmp_path / 'data' / 'DIV2K'}"
    ) in message
    for alternative in (
        "--train_data=folder:<your photos>",
        "--train_data=tfds:div2k",
        "--val_data=benchmark:",
    ):
        assert alternative in message
    assert "DIV2K_train_HR.zip, DIV2K_train_LR_bicubic_X2.zip and" in str(
        pytest.raises(DatasetError, div2k, tmp_path / "absent", 2, "train").value
    )
    with pytest.raises(DatasetError, match="split"):
        div2k(tmp_path, 2, "test")


def test_shared_benchmark_reads_matlab_files_and_grayscale_bridge(benchmark_dir):
    set5 = benchmark(benchmark_dir, "Set5", 3)
    assert set5.name == "Set5 x3" and set5.names == ["baby", "bird", "butterfly", "head", "woman"]
    assert all(f is not None for f in set5.lr_files)
    assert set5.hr_size(4) == (342, 228)  # woman 228x344 cropped to a multiple of 3
    assert_dataset_matches_load(set5)
    set14 = benchmark(benchmark_dir, "Set14", 4)
    lr, hr = set14.load(set14.names.index("bridge"))
    assert lr.shape == (128, 128, 3) and hr.shape == (512, 512, 3)
    assert (lr[..., 0] == lr[..., 1]).all() and (hr[..., 0] == hr[..., 2]).all()


def test_generated_lr_equals_the_matlab_files_and_is_cached(benchmark_dir, tmp_path):
    set5 = benchmark(benchmark_dir, "Set5", 3)
    made = FilePairSet("Set5 x3", 3, set5.names, set5.hr_files, [None] * 5, cache_dir=tmp_path)
    for i in range(len(set5)):
        np.testing.assert_array_equal(made.load(i)[0], set5.load(i)[0])  # bit-exact MATLAB LR
    cached = sorted(os.listdir(tmp_path / "lr_x3"))
    assert len(cached) == 5 and cached[0].startswith("baby-")


def test_benchmark_without_lr_files_makes_them_into_the_cache(tmp_path):
    hr = {name: save(f"{tmp_path}/data/Tiny/HR/{name}.png", rgb(31, 26)) for name in ("b", "a")}
    os.chmod(tmp_path / "data" / "Tiny" / "HR", 0o555)  # read-only data: nothing is written there
    try:
        pairs = benchmark(tmp_path / "data", "Tiny", 2, cache_dir=tmp_path / "cache")
        assert pairs.names == ["a", "b"] and pairs.lr_files == [None, None]
        assert pairs.hr_size(0) == (30, 26)
        lr, hr_a = pairs.load(0)
        np.testing.assert_array_equal(lr, imresize(hr["a"][:30, :26], 0.5))
        np.testing.assert_array_equal(hr_a, hr["a"][:30])
        assert_dataset_matches_load(pairs)
        assert sorted(os.listdir(tmp_path / "data" / "Tiny" / "HR")) == ["a.png", "b.png"]
        assert len(os.listdir(tmp_path / "cache" / "lr_x2")) == 2
    finally:
        os.chmod(tmp_path / "data" / "Tiny" / "HR", 0o755)
    with pytest.raises(DatasetError, match="Missing"):
        benchmark(tmp_path / "data", "Missing", 2)


def test_image_folder_odd_inputs_recursive_and_cache_keyed_by_file(tmp_path, caplog):
    folder = tmp_path / "photos"
    base = rgb(40, 36)
    save(f"{folder}/plain.png", base)
    save(f"{folder}/gray.png", base[..., 0])
    save(f"{folder}/rgba.png", np.dstack([base, base[..., :1]]))
    Image.fromarray(base).quantize(32).save(folder / "palette.png")
    tf.io.write_file(str(folder / "deep16.png"), tf.io.encode_png(base.astype(np.uint16) * 257))
    save(f"{folder}/sub/photo.JPG", base)
    save(f"{folder}/sub/odd.bmp", rgb(41, 37))  # not a multiple of the scale: cropped
    save(f"{folder}/.hidden/skip.png", base)
    save(f"{folder}/._appledouble.png", base)
    (folder / "notes.txt").write_text("not an image")
    cache = tmp_path / "cache"
    pairs = image_folder(folder, 2, cache_dir=cache)
    assert pairs.names == ["deep16", "gray", "palette", "plain", "rgba", "sub/odd", "sub/photo"]
    assert pairs.name == "photos x2"
    assert_dataset_matches_load(pairs)
    lr, hr = pairs.load(pairs.names.index("deep16"))
    np.testing.assert_array_equal(hr, base)  # 16-bit x * 257 rounds back exactly
    assert pairs.hr_size(pairs.names.index("sub/odd")) == (40, 36)
    gray_lr, gray_hr = pairs.load(pairs.names.index("gray"))
    assert (gray_hr[..., 0] == gray_hr[..., 2]).all() and gray_lr.shape == (20, 18, 3)
    # the cache is keyed by path + mtime + size: a changed file gets a new LR
    made = sorted(os.listdir(cache / "lr_x2"))
    save(f"{folder}/plain.png", 255 - base)
    os.utime(folder / "plain.png", ns=(1, 10**18))
    pairs = image_folder(folder, 2, cache_dir=cache)
    np.testing.assert_array_equal(pairs.load(pairs.names.index("plain"))[0], imresize(255 - base, 0.5))
    assert len(os.listdir(cache / "lr_x2")) == len(made) + 1


def test_empty_missing_and_corrupt_folders_fail_naming_them(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(DatasetError, match="empty"):
        image_folder(tmp_path / "empty", 2, cache_dir=tmp_path / "c")
    with pytest.raises(DatasetError, match="nowhere"):
        image_folder(tmp_path / "nowhere", 2)
    save(f"{tmp_path}/bad/good.png", rgb(20, 20))
    Image.fromarray(rgb(64, 64)).save(tmp_path / "bad" / "cut.png")
    data = (tmp_path / "bad" / "cut.png").read_bytes()
    (tmp_path / "bad" / "cut.png").write_bytes(data[:300])
    pairs = image_folder(tmp_path / "bad", 2, cache_dir=tmp_path / "c")
    assert pairs.hr_size(0) == (64, 64)  # header only, no decoding
    with pytest.raises(ImageError, match="cut.png"):
        pairs.load(0)
    with pytest.raises(ImageError, match="cut.png"):
        pairs.dataset()


def test_samples_are_bundled_colour_photos_with_two_held_back(tmp_path):
    train = samples(2, "train", cache_dir=tmp_path)
    valid = samples(2, "valid", cache_dir=tmp_path)
    assert len(train) == 6 and valid.names == ["chelsea", "rocket"]
    assert len(samples(2, "train_valid", cache_dir=tmp_path)) == 8
    assert not set(train.names) & set(valid.names)
    assert valid.hr_size(0) == (300, 450)
    assert_dataset_matches_load(valid)
    lr, hr = valid.load(1)
    assert lr.shape == (213, 320, 3) and hr.std() > 20


def test_open_pairs_sources(tmp_path, benchmark_dir):
    make_div2k(tmp_path / "div", [801])
    assert open_pairs("samples", 3, "valid", cache_dir=tmp_path).name == "samples valid x3"
    assert open_pairs(f"benchmark:{benchmark_dir}:Set5", 2).name == "Set5 x2"
    assert open_pairs(f"benchmark:{benchmark_dir}/Set14/", 4).names[2] == "bridge"
    save(f"{tmp_path}/own/a.png", rgb(8, 8))
    assert open_pairs(f"folder:{tmp_path}/own", 2, cache_dir=tmp_path / "c").names == ["a"]
    with pytest.raises(DatasetError, match="0001.png"):
        open_pairs(f"div2k:{tmp_path}/div", 2, "train")
    with pytest.raises(DatasetError, match="DIV2K_valid_LR_unknown"):
        open_pairs(f"div2k_unknown:{tmp_path}/div", 2, "valid")
    for bad in ("imagenet", "div2k", "folder:", "tfds:coco/x2", "tfds:div2k/bicubic_x3"):
        with pytest.raises(DatasetError, match="data source"):
            open_pairs(bad, 2)
    with pytest.raises(DatasetError) as error:
        open_pairs("nonsense:x", 2)
    assert "nonsense:x" in str(error.value) and "benchmark:<root>:<Set>" in str(error.value)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to resolve a name or open a connection is recorded and refused."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_tfds_without_archives_fails_fast_offline(tmp_path, no_network):
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "DIV2K_train_HR.zip").write_bytes(b"")  # present: not listed as missing
    with pytest.raises(DatasetError) as error:
        tfds_div2k("bicubic_x2", "train", data_dir=tmp_path / "tfds", manual_dir=manual)
    message = str(error.value)
    for name in ("DIV2K_valid_HR.zip", "DIV2K_train_LR_bicubic_X2.zip", "DIV2K_valid_LR_bicubic_X2.zip"):
        assert name in message
    assert "DIV2K_train_HR.zip" not in message and str(manual) in message
    assert no_network == []  # failed before any network access, so no retries (no timing: the suite's rule)
    with pytest.raises(DatasetError, match=os.path.join("tfds", "downloads", "manual")):
        open_pairs("tfds:div2k", 4, tfds_data_dir=str(tmp_path / "tfds"))
    assert no_network == []


def test_tfds_prepared_dataset_loads_offline(tmp_path, no_network, monkeypatch):
    import tensorflow_datasets as tfds

    files = {}
    for part, ids in (("train", [1, 2, 3]), ("valid", [801])):
        for image_id in ids:
            hr = save(f"{tmp_path}/src/{part}_hr/{image_id:04d}.png", rgb(21, 20 + image_id % 5))
            lr = save(f"{tmp_path}/src/{part}_lr/{image_id:04d}x2.png", rgb(10, 10 + image_id % 5 // 2))
            files[image_id] = (lr, hr)

    def local_splits(self, dl_manager):  # stands in for the 5 GB download
        return {
            split: self._generate_examples(
                lr_path=f"{tmp_path}/src/{part}_lr", hr_path=f"{tmp_path}/src/{part}_hr"
            )
            for split, part in (("train", "train"), ("validation", "valid"))
        }

    data_dir = tmp_path / "tfds"
    builder = tfds.builder("div2k/bicubic_x2", data_dir=data_dir)
    with monkeypatch.context() as patch:
        patch.setattr(type(builder), "_split_generators", local_splits)
        builder.download_and_prepare()
    pairs = tfds_div2k("div2k/bicubic_x2", "train", data_dir=data_dir, manual_dir=tmp_path / "none")
    assert len(pairs) == 3 and pairs.scale == 2 and "tfds" in pairs.name
    loaded = [pairs.load(i) for i in range(3)]
    for lr, hr in loaded:  # TFDS keeps its own (hashed) order: match by content
        source = next(f for f in files.values() if f[0].shape == lr.shape and (f[0] == lr).all())
        np.testing.assert_array_equal(hr, source[1][: lr.shape[0] * 2, : lr.shape[1] * 2])
    assert [pairs.hr_size(i) for i in range(3)] == [hr.shape[:2] for _, hr in loaded]
    assert_dataset_matches_load(pairs)
    assert len(open_pairs("tfds:div2k/bicubic_x2", 2, "train_valid", tfds_data_dir=str(data_dir))) == 4
    assert no_network == []
