import collections
import logging

import numpy as np
import pytest
import tensorflow as tf

from sr_tf.data import DatasetError, FilePairSet, image_folder, samples
from sr_tf.data.dihedral import dihedral
from sr_tf.data.images import write_png
from sr_tf.data.pipeline import (
    grid_patches_per_image,
    patch_geometry,
    patches_per_epoch,
    training_dataset,
)
from sr_tf.training.recipes import patch_settings


def coordinate_pair(folder, name, lr_h, lr_w, scale, salt=0):
    """LR whose pixels encode their own position (R = y, G = x) and HR = LR with each pixel an
    s x s block, so an HR patch matches its LR patch only when the crop is exactly aligned and
    both got the same transform."""
    y, x = np.mgrid[:lr_h, :lr_w]
    lr = np.stack([y, x, (7 * y + 13 * x + salt) % 256], -1).astype(np.uint8)
    hr = lr.repeat(scale, 0).repeat(scale, 1)
    write_png(folder / "HR" / f"{name}.png", hr)
    write_png(folder / "LR" / f"{name}x{scale}.png", lr)
    return folder / "LR" / f"{name}x{scale}.png", folder / "HR" / f"{name}.png"


def coordinate_set(folder, sizes, scale):
    """A PairSet of coordinate pairs with the given LR sizes."""
    files = [coordinate_pair(folder, f"im{i}", h, w, scale, salt=i) for i, (h, w) in enumerate(sizes)]
    names = [f"im{i}" for i in range(len(sizes))]
    return FilePairSet("coords", scale, names, [hr for _, hr in files], [lr for lr, _ in files])


def blocks_match(lr, hr, scale):
    return np.array_equal(np.repeat(np.repeat(lr, scale, -3), scale, -2), hr)


def take(ds, batches):
    return [(lr.numpy(), hr.numpy()) for lr, hr in ds.take(batches)]


def test_patch_settings_per_family():
    assert patch_settings("btsrn") == {"mode": "grid", "hr_patch": 108, "border": 12, "stride": 84}
    assert patch_settings("edsr") == patch_settings("mdsr") == {"mode": "random", "lr_patch": 48}
    assert patch_settings("edsr_baseline") == patch_settings("mdsr_baseline") == patch_settings("edsr")
    assert patch_geometry(3, "grid") == (("grid", 3, 36, 108, 12, 84))
    assert patch_geometry(4, "random") == (("random", 4, 48, 192, 0, None))
    assert patch_geometry(4, "random", hr_patch=108).lr_patch == 27
    with pytest.raises(ValueError, match="multiple"):
        patch_geometry(8, "grid")  # 108 / 8 is not a whole LR patch
    with pytest.raises(ValueError, match="mode"):
        patch_geometry(2, "tiles")


def test_grid_counts_match_the_release_formula():
    for h in range(100, 400, 7):
        for w in (131, 132, 215, 216, 300):
            expected = (max(0, (h - 132) // 84 + 1) if h >= 132 else 0) * (
                (w - 132) // 84 + 1 if w >= 132 else 0
            )
            assert grid_patches_per_image(h, w) == expected
    assert grid_patches_per_image(1356, 2040) == 15 * 23  # a DIV2K image: 345 patches
    assert grid_patches_per_image(64, 64, hr_patch=32, border=4, stride=8) == 4 * 4
    assert grid_patches_per_image(300, 300, hr_patch=96) == ((300 - 24 - 96) // 72 + 1) ** 2  # stride p - 2b


def test_grid_epoch_is_every_aligned_patch_once(tmp_path):
    scale = 2
    pairs = coordinate_set(tmp_path, [(108, 150), (70, 66), (60, 60)], scale)  # HR 216x300, 140x132, 120x120
    assert [grid_patches_per_image(*pairs.hr_size(i)) for i in range(3)] == [2 * 3, 1, 0]
    assert patches_per_epoch(pairs) == 7
    ds = training_dataset(pairs, 1, mode="grid", augment=False, repeat=False, seed=5, shuffle_buffer=4)
    patches = take(ds, 100)
    assert len(patches) == 7
    starts = set()
    for lr, hr in patches:
        assert lr.shape == (1, 54, 54, 3) and hr.shape == (1, 108, 108, 3) and lr.dtype == np.uint8
        assert blocks_match(lr, hr, scale)
        y, x, code = (int(v) for v in lr[0, 0, 0])
        starts.add(((code - 7 * y - 13 * x) % 256, y, x))  # (image, LR row, LR column) of the corner
    grid = {(0, 6 + 42 * i, 6 + 42 * j) for i in range(2) for j in range(3)}  # border 12/2, stride 84/2
    assert starts == grid | {(1, 6, 6)}


@pytest.mark.parametrize("scale", [3, 4])
def test_grid_alignment_at_other_scales(tmp_path, scale):
    pairs = coordinate_set(tmp_path, [(300 // scale, 216 // scale)], scale)
    ds = training_dataset(pairs, 2, mode="grid", seed=1, repeat=False)
    patches = take(ds, 10)
    assert len(patches) == grid_patches_per_image(*pairs.hr_size(0)) // 2 == 3
    for lr, hr in patches:
        assert lr.shape == (2, 108 // scale, 108 // scale, 3) and blocks_match(lr, hr, scale)


def test_random_crops_are_aligned_uniform_on_the_lr_grid(tmp_path):
    scale = 3
    pairs = coordinate_set(tmp_path, [(60, 70)], scale)
    ds = training_dataset(pairs, 8, mode="random", lr_patch=16, seed=2)
    ys, xs = [], []
    for lr, hr in take(ds, 40):
        assert lr.shape == (8, 16, 16, 3) and hr.shape == (8, 48, 48, 3)
        for one_lr, one_hr in zip(lr, hr):
            assert blocks_match(one_lr, one_hr, scale)
            ys.append(one_lr[..., 0].min())  # the crop's top row, whatever the transform
            xs.append(one_lr[..., 1].min())
    assert set(ys) == set(range(60 - 16 + 1)) and set(xs) == set(range(70 - 16 + 1))


def test_all_eight_transforms_occur_evenly_and_equally_on_lr_and_hr(tmp_path):
    pairs = coordinate_set(tmp_path, [(12, 12)], 2)
    lr_full, _ = pairs.load(0)
    transformed = [dihedral(lr_full, k).numpy() for k in range(8)]
    ds = training_dataset(pairs, 32, mode="random", lr_patch=12, seed=3)
    counts = collections.Counter()
    for lr, hr in take(ds, 25):
        assert blocks_match(lr, hr, 2)
        for patch in lr:
            matches = [k for k in range(8) if np.array_equal(transformed[k], patch)]
            assert len(matches) == 1
            counts[matches[0]] += 1
    assert sorted(counts) == list(range(8))
    assert all(70 <= n <= 130 for n in counts.values()), counts  # 800 draws, 100 expected each
    # mirrored patches occur (the release's flip bug gave rotations only)
    assert counts[1] + counts[2] + counts[4] + counts[7] > 300


def test_a_seed_repeats_the_stream_and_other_seeds_differ(tmp_path):
    pairs = coordinate_set(tmp_path, [(40, 50), (45, 40), (60, 60)], 2)
    first = take(training_dataset(pairs, 4, lr_patch=16, seed=7), 5)
    again = take(training_dataset(pairs, 4, lr_patch=16, seed=7), 5)
    other = take(training_dataset(pairs, 4, lr_patch=16, seed=8), 5)
    no_cache = take(training_dataset(pairs, 4, lr_patch=16, seed=7, cache=None), 5)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(first, again))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, other))
    assert len(no_cache) == 5
    grid = [take(training_dataset(pairs, 2, mode="grid", hr_patch=40, border=4, seed=1), 6) for _ in range(2)]
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(*grid))


def test_file_cache_and_no_cache_give_aligned_batches(tmp_path):
    pairs = coordinate_set(tmp_path / "data", [(40, 50), (45, 40)], 2)
    prefix = tmp_path / "cache" / "train"
    for cache in (str(prefix), None):
        ds = training_dataset(pairs, 4, lr_patch=16, seed=1, cache=cache, repeat=False, shuffle_buffer=0)
        batches = take(ds, 10)
        assert len(batches) == 0  # 2 images, one patch each per pass, batch 4: the remainder is dropped
        ds = training_dataset(pairs, 4, lr_patch=16, seed=1, cache=cache)
        assert all(blocks_match(lr, hr, 2) for lr, hr in take(ds, 3))
    assert any(p.name.startswith("train.") for p in (tmp_path / "cache").iterdir())


def test_drop_remainder_shapes_are_static(tmp_path):
    pairs = coordinate_set(tmp_path, [(40, 50)], 2)
    ds = training_dataset(pairs, 6, lr_patch=10, seed=1)
    assert ds.element_spec[0].shape == (6, 10, 10, 3) and ds.element_spec[1].shape == (6, 20, 20, 3)
    assert ds.element_spec[0].dtype == tf.uint8
    grid = training_dataset(pairs, 3, mode="grid", hr_patch=20, border=2, repeat=False, seed=1)
    assert grid.element_spec[1].shape == (3, 20, 20, 3)
    per_pass = grid_patches_per_image(80, 100, hr_patch=20, border=2, stride=16)
    assert sum(1 for _ in grid) == per_pass // 3


def test_small_images_are_skipped_with_a_warning_and_none_left_is_an_error(tmp_path, caplog):
    pairs = coordinate_set(tmp_path, [(40, 50), (20, 60), (50, 23)], 2)
    caplog.set_level(logging.WARNING)
    ds = training_dataset(pairs, 2, lr_patch=24, seed=1)
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "im1" in warning and "im2" in warning and "im0" not in warning
    for lr, _ in take(ds, 5):
        assert (lr[..., 2] == (7 * lr[..., 0].astype(int) + 13 * lr[..., 1]) % 256).all()  # image 0 only
    with pytest.raises(DatasetError, match="coords"):
        training_dataset(pairs, 2, mode="grid", seed=1)  # none reaches 132 HR pixels


def test_validation_is_full_images_in_order(tmp_path):
    pairs = coordinate_set(tmp_path, [(10, 12), (7, 9)], 3)
    out = [(lr.numpy(), hr.numpy()) for lr, hr in pairs.dataset().batch(1)]  # unshuffled: every image, whole
    assert [lr.shape for lr, _ in out] == [(1, 10, 12, 3), (1, 7, 9, 3)]
    for i, (lr, hr) in enumerate(out):
        expected_lr, expected_hr = pairs.load(i)
        np.testing.assert_array_equal(lr[0], expected_lr)
        np.testing.assert_array_equal(hr[0], expected_hr)


def test_mirrored_strategy_gets_per_replica_halves(tmp_path):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    pairs = coordinate_set(tmp_path, [(40, 50)], 2)
    ds = training_dataset(pairs, 8, lr_patch=12, seed=1)
    lr, hr = next(iter(strategy.experimental_distribute_dataset(ds)))
    halves = strategy.experimental_local_results(lr)
    assert [h.shape for h in halves] == [(4, 12, 12, 3)] * 2
    assert [h.shape for h in strategy.experimental_local_results(hr)] == [(4, 24, 24, 3)] * 2
    for one_lr, one_hr in zip(halves, strategy.experimental_local_results(hr)):
        assert blocks_match(one_lr.numpy(), one_hr.numpy(), 2)


@pytest.mark.parametrize("mode", ["random", "grid"])
def test_iterator_checkpoint_restores_the_next_batch(tmp_path, mode):
    pairs = coordinate_set(tmp_path / "data", [(70, 80), (66, 90)], 2)

    def make():
        return training_dataset(pairs, 4, mode=mode, lr_patch=None if mode == "grid" else 20, seed=4)

    iterator = iter(make())
    for _ in range(3):
        next(iterator)
    path = tf.train.Checkpoint(iterator=iterator).save(str(tmp_path / "ckpt" / "it"))
    expected = [next(iterator) for _ in range(2)]
    restored = iter(make())
    tf.train.Checkpoint(iterator=restored).restore(path).assert_consumed()
    for want in expected:
        got = next(restored)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_samples_feed_both_families(tmp_path):
    pairs = samples(2, "valid", cache_dir=tmp_path)
    grid = training_dataset(pairs, 4, **patch_settings("btsrn"), seed=1, shuffle_buffer=16)
    lr, hr = next(iter(grid))
    assert lr.shape == (4, 54, 54, 3) and hr.shape == (4, 108, 108, 3)
    random = training_dataset(pairs, 4, **patch_settings("edsr"), seed=1)
    lr, hr = next(iter(random))
    assert lr.shape == (4, 48, 48, 3) and hr.shape == (4, 96, 96, 3)
    assert patches_per_epoch(pairs) == 3 * 4 + 4 * 7  # chelsea 300x450, rocket 426x640


def test_image_folder_from_photos_trains(tmp_path):
    rng = np.random.default_rng(0)
    for i, size in enumerate([(140, 150), (60, 60)]):
        write_png(tmp_path / "photos" / f"p{i}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    pairs = image_folder(tmp_path / "photos", 2, cache_dir=tmp_path / "cache")
    lr, hr = next(iter(training_dataset(pairs, 2, **patch_settings("btsrn"), seed=0)))
    assert lr.shape == (2, 54, 54, 3) and hr.shape == (2, 108, 108, 3)
