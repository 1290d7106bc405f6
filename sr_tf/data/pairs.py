"""Pairs of LR and HR images at one scale: `PairSet` and the file-backed `FilePairSet`.

Missing LR images are made from the top-left modcrop of the HR image with the MATLAB-exact
`imresize` and cached as PNG files under `cache_dir` (default `$SR_TF_CACHE`, else
`~/.cache/sr_tf`), keyed by the HR file's path, modification time, size and the scale. Files that
TF's PNG decoder cannot read exactly (JPEG, 16-bit, palette, alpha, ...) are converted once with
`read_image` into the same cache, so `dataset()` can read and decode every file inside tf.data.
"""

import hashlib
import os

from absl import logging

from sr_tf.core.lazy import tf
from sr_tf.data.images import ImageError, image_size, is_plain_png, read_image, write_png

_LR_VERSION = "matlab-bicubic-1"  # part of the cache key of generated LR files


class DatasetError(ValueError):
    """A dataset folder, layout or spec that cannot be used; the message names it."""


def default_cache_dir():
    return os.environ.get("SR_TF_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "sr_tf")


class PairSet:
    """(LR, HR) pairs at one scale. Subclasses implement `load`, `hr_size` and `dataset`."""

    def __init__(self, name, scale, names):
        self.name = name
        self.scale = int(scale)
        self.names = list(names)

    def __len__(self):
        return len(self.names)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}: {len(self)} images>"

    def load(self, i):
        """(lr, hr) uint8 numpy RGB arrays of image i; hr is exactly lr size x scale."""
        raise NotImplementedError

    def hr_size(self, i):
        """(height, width) of the cropped HR image i."""
        raise NotImplementedError

    def dataset(self, indices=None, shuffle=False, seed=None):
        """tf.data of (lr, hr) uint8 [h, w, 3] / [h*s, w*s, 3] full images, in order unless `shuffle`.

        `indices` selects images (default all); `shuffle` reshuffles the image order every pass
        before decoding (with `seed` for a repeatable order).
        """
        raise NotImplementedError

    def _indices(self, indices):
        return list(range(len(self))) if indices is None else [int(i) for i in indices]


class FilePairSet(PairSet):
    """Pairs of image files; an LR entry of None means 'make it from HR with imresize' (cached)."""

    def __init__(self, name, scale, names, hr_files, lr_files, cache_dir=None):
        super().__init__(name, scale, names)
        self.hr_files = [os.fspath(f) for f in hr_files]
        self.lr_files = [None if f is None else os.fspath(f) for f in lr_files]
        self.cache_dir = cache_dir or default_cache_dir()

    def subset(self, indices, name):
        """The pairs at `indices` as a FilePairSet of their own."""

        def pick(values):
            return [values[i] for i in indices]

        return FilePairSet(
            name, self.scale, pick(self.names), pick(self.hr_files), pick(self.lr_files), self.cache_dir
        )

    def load(self, i):
        if self.lr_files[i] is None:
            lr = read_image(self._generated_lr(i))
        else:
            lr = read_image(self.lr_files[i])
        hr = read_image(self.hr_files[i])
        return lr, self._crop_hr(i, hr, lr.shape)

    def hr_size(self, i):
        height, width = image_size(self.hr_files[i])
        if self.lr_files[i] is None:
            return height - height % self.scale, width - width % self.scale
        lr_height, lr_width = image_size(self.lr_files[i])
        self._check_hr_size(i, (height, width), (lr_height, lr_width))
        return lr_height * self.scale, lr_width * self.scale

    def dataset(self, indices=None, shuffle=False, seed=None):
        indices = self._indices(indices)
        if not indices:
            raise DatasetError(f"{self.name}: no images selected")
        lr_files, hr_files = zip(*(self.plain_files(i) for i in indices))
        ds = tf.data.Dataset.from_tensor_slices((list(lr_files), list(hr_files)))
        if shuffle:
            ds = ds.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
        scale = self.scale
        return ds.map(lambda lr, hr: decode_png_pair(lr, hr, scale), num_parallel_calls=tf.data.AUTOTUNE)

    def plain_files(self, i):
        """(lr, hr) paths of 8-bit gray/RGB PNGs with the pixels `load(i)` gives (converted if needed)."""
        lr = self._generated_lr(i) if self.lr_files[i] is None else self._plain(self.lr_files[i])
        return lr, self._plain(self.hr_files[i])

    def _plain(self, path):
        if path.lower().endswith(".png") and is_plain_png(path):
            return path
        cached = self._cache_path("rgb", path, "")
        if not os.path.isfile(cached):
            write_png(cached, read_image(path))
        return cached

    def _generated_lr(self, i):
        hr_file = self.hr_files[i]
        cached = self._cache_path(f"lr_x{self.scale}", hr_file, f"{_LR_VERSION}x{self.scale}")
        if not os.path.isfile(cached):
            logging.log_every_n_seconds(
                logging.INFO,
                "%s: making LR images with imresize into %s (e.g. %s)",
                10,
                self.name,
                os.path.dirname(cached),
                hr_file,
            )
            write_png(cached, make_lr(read_image(hr_file), self.scale, hr_file))
        return cached

    def _cache_path(self, kind, path, salt):
        stat = os.stat(path)
        identity = f"{os.path.abspath(path)}|{stat.st_mtime_ns}|{stat.st_size}|{salt}"
        key = hashlib.sha1(identity.encode()).hexdigest()[:16]
        stem = os.path.splitext(os.path.basename(path))[0]
        return os.path.join(self.cache_dir, kind, f"{stem}-{key}.png")

    def _check_hr_size(self, i, hr_shape, lr_shape):
        if hr_shape[0] < lr_shape[0] * self.scale or hr_shape[1] < lr_shape[1] * self.scale:
            raise DatasetError(
                f"{self.name}: HR {self.hr_files[i]} is {hr_shape[1]}x{hr_shape[0]}, smaller than "
                f"{self.scale} x its LR {self.lr_files[i]} ({lr_shape[1]}x{lr_shape[0]})"
            )

    def _crop_hr(self, i, hr, lr_shape):
        self._check_hr_size(i, hr.shape, lr_shape)
        return hr[: lr_shape[0] * self.scale, : lr_shape[1] * self.scale]


def make_lr(hr, scale, source="image"):
    """LR = MATLAB-exact bicubic imresize of the top-left modcrop of `hr` by 1/scale."""
    height, width = hr.shape[0] - hr.shape[0] % scale, hr.shape[1] - hr.shape[1] % scale
    if height == 0 or width == 0:
        raise ImageError(f"{source} ({hr.shape[1]}x{hr.shape[0]}) is smaller than the scale {scale}")
    from sr_tf.data.imresize import imresize  # (with TensorFlow, which the data sources do not need)

    lr = imresize(hr[:height, :width], 1.0 / scale)
    if lr.shape[:2] != (height // scale, width // scale):
        raise AssertionError(f"imresize gave {lr.shape} for {hr[:height, :width].shape} / {scale}")
    return lr


def decode_png_pair(lr_file, hr_file, scale):
    """Reads and decodes an LR / HR PNG pair inside tf.data; HR cropped to LR size x scale."""
    lr = tf.io.decode_png(tf.io.read_file(lr_file), channels=3)
    hr = tf.io.decode_png(tf.io.read_file(hr_file), channels=3)
    return crop_hr_to_lr(lr, hr, scale, (lr_file, hr_file))


def crop_hr_to_lr(lr, hr, scale, what=()):
    """HR cropped top-left to LR size x scale; fails (naming `what`) when HR is smaller."""
    target = tf.shape(lr)[:2] * scale
    check = tf.debugging.Assert(
        tf.reduce_all(tf.shape(hr)[:2] >= target), ["HR smaller than LR x scale:", *what], summarize=4
    )
    with tf.control_dependencies([check]):
        hr = hr[: target[0], : target[1]]
    lr.set_shape([None, None, 3])
    hr.set_shape([None, None, 3])
    return lr, hr


HELD_OUT_SHARE = 0.1  # of a folder without validation images, held out to validate on
MIN_IMAGES_TO_HOLD_OUT = 5  # fewer images: validation runs on the training images (and says so)


def held_out_split(pairs):
    """(train, held_out) of a FilePairSet that has no validation split: every k-th image by name
    (10 %, at least one), deterministically. held_out is None when there are too few images."""
    count = len(pairs)
    if count < MIN_IMAGES_TO_HOLD_OUT:
        return pairs, None
    held = max(1, round(count * HELD_OUT_SHARE))
    order = sorted(range(count), key=lambda i: pairs.names[i])
    step = count / held
    held_indices = sorted(order[int(k * step + step / 2)] for k in range(held))
    train_indices = [i for i in range(count) if i not in set(held_indices)]
    return (
        pairs.subset(train_indices, f"{pairs.name} (training part)"),
        pairs.subset(held_indices, f"{pairs.name} (held out)"),
    )
