"""The tf.data training and validation pipelines over a `PairSet`.

Training: shuffled file list -> read + decode -> cache (memory, file or none) -> shuffle images ->
repeat -> patches (the BTSRN release's fixed grid, or random crops on the LR grid) -> shuffle
patches -> one of the 8 dihedral transforms per patch, the same for LR and HR -> batch with
drop_remainder (the global batch) -> prefetch. All randomness comes from seeded shuffles and
`tf.data.Dataset.random` with stateless ops, so a seed makes the stream repeatable, parallel maps
stay deterministic and the iterator can be saved with `tf.train.Checkpoint(iterator=...)`.
"""

import collections
import hashlib
import os

import tensorflow as tf
from absl import logging

from sr_tf.data.dihedral import NUM_TRANSFORMS, dihedral
from sr_tf.data.pairs import DatasetError

MODES = ("random", "grid")
GRID_BORDER = 12  # the release's grid: 12-pixel HR border, stride hr_patch - 2 * border (84 for 108)
GRID_SHUFFLE_BUFFER = 8192  # the release's shuffle_batch min_after_dequeue
RANDOM_SHUFFLE_BATCHES = 8  # random mode: patch shuffle buffer = 8 batches
_FILE_CACHE_IMAGE_BUFFER = 16  # decoded images held for shuffling after a file cache

Geometry = collections.namedtuple("Geometry", "mode scale lr_patch hr_patch border stride")


def patch_geometry(scale, mode="random", lr_patch=None, hr_patch=None, border=GRID_BORDER, stride=None):
    """Checks and completes the patch options: LR and HR sizes, and the grid's border and stride."""
    if mode not in MODES:
        raise ValueError(f"patch mode {mode!r}: choose one of {', '.join(MODES)}")
    if lr_patch is None and hr_patch is None:
        hr_patch, lr_patch = (108, None) if mode == "grid" else (None, 48)
    if hr_patch is None:
        hr_patch = lr_patch * scale
    if lr_patch is None:
        if hr_patch % scale:
            raise ValueError(f"HR patch {hr_patch} is not a multiple of the scale {scale}")
        lr_patch = hr_patch // scale
    if hr_patch != lr_patch * scale:
        raise ValueError(f"HR patch {hr_patch} != LR patch {lr_patch} x scale {scale}")
    if mode == "random":
        return Geometry(mode, scale, lr_patch, hr_patch, 0, None)
    stride = hr_patch - 2 * border if stride is None else stride
    if stride <= 0 or border < 0 or border % scale or stride % scale:
        raise ValueError(
            f"grid border {border} and stride {stride} must be >= 0 / > 0 and multiples of the scale {scale}"
        )
    return Geometry(mode, scale, lr_patch, hr_patch, border, stride)


def grid_patches_per_image(hr_h, hr_w, hr_patch=108, border=GRID_BORDER, stride=None):
    """Patches the fixed grid cuts from an HR image: floor((H-2b-p)/stride)+1 by the same for W.

    hr_patch None (or 0) means 108; stride None means hr_patch - 2 * border (84 for 108 and 12), as
    `training_dataset` does.
    """
    hr_patch = hr_patch or 108
    stride = hr_patch - 2 * border if stride is None else stride

    def along(length):
        usable = length - 2 * border
        return 0 if usable < hr_patch else (usable - hr_patch) // stride + 1

    return along(hr_h) * along(hr_w)


def patches_per_epoch(pairs, hr_patch=108, border=GRID_BORDER, stride=None):
    """Patches in one pass over the grid of every image (BTSRN's epoch); from headers, no decoding."""
    return sum(grid_patches_per_image(*pairs.hr_size(i), hr_patch, border, stride) for i in range(len(pairs)))


def fits(geometry, hr_h, hr_w):
    """Whether an HR image (already cropped to a multiple of the scale) gives at least one patch."""
    if geometry.mode == "grid":
        return grid_patches_per_image(hr_h, hr_w, geometry.hr_patch, geometry.border, geometry.stride) > 0
    return min(hr_h, hr_w) // geometry.scale >= geometry.lr_patch


def usable_indices(pairs, geometry, sizes=None):
    """Indices of the images big enough for one patch; warns naming the others, fails if none."""
    sizes = sizes or [pairs.hr_size(i) for i in range(len(pairs))]
    keep, skipped = [], []
    for i, size in enumerate(sizes):
        (keep if fits(geometry, *size) else skipped).append(i)
    need = f"{geometry.hr_patch}x{geometry.hr_patch} HR patch"
    if geometry.mode == "grid":
        need += f" plus a {geometry.border}-pixel border"
    if skipped:
        names = ", ".join(pairs.names[i] for i in skipped)
        logging.warning(
            "%s: skipping %d image(s) smaller than one %s: %s", pairs.name, len(skipped), need, names
        )
    if not keep:
        raise DatasetError(f"{pairs.name}: no image is large enough for one {need} (x{pairs.scale})")
    return keep


def training_dataset(
    pairs,
    batch_size,
    *,
    mode="random",
    lr_patch=None,
    hr_patch=None,
    border=GRID_BORDER,
    stride=None,
    seed=None,
    cache="memory",
    augment=True,
    shuffle_buffer=None,
    repeat=True,
):
    """Batches of (lr [B, p/s, p/s, 3], hr [B, p, p, 3]) uint8 patches from `pairs`.

    mode: 'grid' (every patch of the release's fixed grid: HR border crop `border`, stride `stride`,
    default hr_patch - 2 * border) or 'random' (one random crop per image visit, uniform on the LR
    grid, HR at s times its position). batch_size is the global batch (drop_remainder=True).
    cache: 'memory', a file path prefix (a tf.data file cache, for sets too big for RAM; the image
    list is appended to the name) or None (decode on every visit). seed: the same seed gives the
    same batches. shuffle_buffer: patches; default min(8192, patches per grid pass) for grid and
    8 batches for random.
    """
    geometry = patch_geometry(pairs.scale, mode, lr_patch, hr_patch, border, stride)
    sizes = [pairs.hr_size(i) for i in range(len(pairs))]
    indices = usable_indices(pairs, geometry, sizes)
    seeds = [None] * 5 if seed is None else [seed + k for k in range(5)]

    images = pairs.dataset(indices, shuffle=True, seed=seeds[0])
    images = _cached(images, cache, pairs, indices)
    if cache:
        buffer = len(indices) if cache == "memory" else min(len(indices), _FILE_CACHE_IMAGE_BUFFER)
        images = images.shuffle(buffer, seed=seeds[1], reshuffle_each_iteration=True)
    if repeat:
        images = images.repeat()

    if geometry.mode == "grid":
        patches = images.map(
            lambda lr, hr: grid_patches(lr, hr, geometry), num_parallel_calls=tf.data.AUTOTUNE
        )
        patches = patches.unbatch()
    else:
        crops = tf.data.Dataset.zip(images, tf.data.Dataset.random(seed=seeds[2]))
        patches = crops.map(
            lambda pair, r: random_patch(*pair, r, geometry), num_parallel_calls=tf.data.AUTOTUNE
        )

    buffer = _patch_buffer(shuffle_buffer, geometry, [sizes[i] for i in indices], batch_size)
    if buffer > 1:
        patches = patches.shuffle(buffer, seed=seeds[3], reshuffle_each_iteration=True)
    if augment:
        draws = tf.data.Dataset.zip(patches, tf.data.Dataset.random(seed=seeds[4]))
        patches = draws.map(random_transform, num_parallel_calls=tf.data.AUTOTUNE)

    batches = patches.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = seed is not None
    return batches.with_options(options)


def grid_patches(lr, hr, geometry):
    """All patches of the fixed grid, exactly aligned: [n, p/s, p/s, 3] and [n, p, p, 3]."""
    s = geometry.scale
    hr_patches = _grid(hr, geometry.hr_patch, geometry.border, geometry.stride)
    lr_patches = _grid(lr, geometry.lr_patch, geometry.border // s, geometry.stride // s)
    return lr_patches, hr_patches


def _grid(image, patch, border, stride):
    """Overlapping patch x patch windows of `image` inside `border`, every `stride` pixels (VALID)."""
    shape = tf.shape(image)
    inner = image[border : shape[0] - border, border : shape[1] - border]
    rows = tf.signal.frame(inner, patch, stride, axis=0)  # [rows, patch, W, 3]
    windows = tf.signal.frame(rows, patch, stride, axis=2)  # [rows, patch, cols, patch, 3]
    return tf.reshape(tf.transpose(windows, [0, 2, 1, 3, 4]), [-1, patch, patch, 3])


def random_patch(lr, hr, r, geometry):
    """A crop at a uniform position of the LR grid and the HR crop at s times it; r seeds the draw."""
    p, s = geometry.lr_patch, geometry.scale
    shape = tf.shape(lr)
    y = tf.random.stateless_uniform([], seed=tf.stack([r, 1]), maxval=shape[0] - p + 1, dtype=tf.int32)
    x = tf.random.stateless_uniform([], seed=tf.stack([r, 2]), maxval=shape[1] - p + 1, dtype=tf.int32)
    lr_patch = lr[y : y + p, x : x + p]
    hr_patch = hr[y * s : (y + p) * s, x * s : (x + p) * s]
    lr_patch.set_shape([p, p, 3])
    hr_patch.set_shape([p * s, p * s, 3])
    return lr_patch, hr_patch


def random_transform(patches, r):
    """One of the 8 dihedral transforms, drawn from r, applied to both LR and HR."""
    lr, hr = patches
    k = tf.random.stateless_uniform([], seed=tf.stack([r, 3]), maxval=NUM_TRANSFORMS, dtype=tf.int32)
    lr_out, hr_out = dihedral(lr, k), dihedral(hr, k)
    lr_out.set_shape(lr.shape)
    hr_out.set_shape(hr.shape)
    return lr_out, hr_out


def _patch_buffer(shuffle_buffer, geometry, sizes, batch_size):
    if shuffle_buffer is not None:
        return int(shuffle_buffer)
    if geometry.mode == "random":
        return RANDOM_SHUFFLE_BATCHES * batch_size
    per_pass = sum(
        grid_patches_per_image(*size, geometry.hr_patch, geometry.border, geometry.stride) for size in sizes
    )
    return min(GRID_SHUFFLE_BUFFER, per_pass)


def _cached(images, cache, pairs, indices):
    if not cache:
        return images
    if cache == "memory":
        return images.cache()
    key = hashlib.sha1(
        repr((pairs.name, pairs.scale, [pairs.names[i] for i in indices])).encode()
    ).hexdigest()[:12]
    path = f"{os.fspath(cache)}.{key}"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return images.cache(path)
