"""Dataset readers. Each returns a `PairSet`: (LR, HR) uint8 RGB pairs at one scale, where HR is
cropped top-left to exactly LR size x scale.

Readers: `div2k` (extracted official folders), `tfds_div2k` (tensorflow-datasets `div2k/<config>`),
`benchmark` (`<root>/<Set>/HR`, `<root>/<Set>/LR_bicubic/X<s>`), `image_folder` (any folder of HR
photos) and `samples` (scikit-image's bundled colour photographs). `open_pairs(spec, ...)` parses
the spec strings the command-line tools take (see `SPEC_HELP`).

Missing LR images are made from the top-left modcrop of the HR image with the MATLAB-exact
`imresize` and cached as PNG files under `cache_dir` (default `$SR_TF_CACHE`, else
`~/.cache/sr_tf`), keyed by the HR file's path, modification time, size and the scale. Files that
TF's PNG decoder cannot read exactly (JPEG, 16-bit, palette, alpha, ...) are converted once with
`read_image` into the same cache, so `dataset()` can read and decode every file inside tf.data.
"""
import hashlib
import os

import tensorflow as tf
from absl import logging

from sr_tf.data.images import (
    ImageError,
    has_image_extension,
    image_size,
    is_plain_png,
    read_image,
    write_png,
)

SPLITS = ("train", "valid", "train_valid")
DIV2K_IDS = {"train": range(1, 801), "valid": range(801, 901), "train_valid": range(1, 901)}
DIV2K_TRACKS = ("bicubic", "unknown")
# scikit-image's bundled colour photographs (shipped inside the wheel, no download).
SAMPLE_FILES = {
    "train": ("astronaut.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png",
              "motorcycle_left.png", "retina.jpg"),
    "valid": ("chelsea.png", "rocket.jpg"),
}
_LR_VERSION = "matlab-bicubic-1"  # part of the cache key of generated LR files

SPEC_HELP = """data specs:
  samples                      scikit-image's bundled colour photos (train: 6, valid: 2)
  div2k:<root>                 extracted DIV2K (<root>/DIV2K_train_HR, .../DIV2K_train_LR_bicubic/X<s>, ...)
  div2k_unknown:<root>         the same with the 'unknown' degradation LR folders
  tfds:div2k[/<config>]        tensorflow-datasets div2k, e.g. tfds:div2k/bicubic_x2 (default bicubic_x<s>)
  benchmark:<root>:<Set>       <root>/<Set>/HR + LR_bicubic/X<s> (also benchmark:<root>/<Set>)
  folder:<dir>                 every image under <dir> (recursive) as HR; LR made by imresize"""


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
                logging.INFO, "%s: making LR images with imresize into %s (e.g. %s)", 10,
                self.name, os.path.dirname(cached), hr_file,
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
    from sr_tf.data.imresize import imresize

    height, width = hr.shape[0] - hr.shape[0] % scale, hr.shape[1] - hr.shape[1] % scale
    if height == 0 or width == 0:
        raise ImageError(f"{source} ({hr.shape[1]}x{hr.shape[0]}) is smaller than the scale {scale}")
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


# ----------------------------------------------------------------------------------------------
# Readers


def div2k(root, scale, split="train", track="bicubic", ids=None):
    """DIV2K from the official extracted folders under `root` (or `root`/DIV2K).

    split: train (0001-0800), valid (0801-0900) or train_valid (0001-0900, the release's `_tv` lists);
    `ids` overrides the range (e.g. range(801, 811)). Each image is looked up in the folder of its
    own part first and then in the other one, so validation images merged into the train folders
    (as EDSR-PyTorch expects) are found too.
    """
    if split not in SPLITS:
        raise DatasetError(f"DIV2K split {split!r}: choose one of {', '.join(SPLITS)}")
    if track not in DIV2K_TRACKS:
        raise DatasetError(f"DIV2K track {track!r}: choose one of {', '.join(DIV2K_TRACKS)}")
    root = _div2k_root(root)
    ids = list(DIV2K_IDS[split] if ids is None else ids)
    hr_files, lr_files, missing = [], [], []
    for image_id in ids:
        parts = ("train", "valid") if image_id <= 800 else ("valid", "train")
        hr_names = [f"DIV2K_{part}_HR/{image_id:04d}.png" for part in parts]
        lr_names = [f"DIV2K_{part}_LR_{track}/X{scale}/{image_id:04d}x{scale}.png" for part in parts]
        for names, files in ((hr_names, hr_files), (lr_names, lr_files)):
            path = _first_file(root, names)
            files.append(path)
            if path is None:
                missing.append(names[0])
    if missing:
        raise DatasetError(_div2k_missing_message(root, missing, len(ids)))
    name = f"DIV2K {split} x{scale}" + ("" if track == "bicubic" else f" {track}")
    return FilePairSet(name, scale, [f"{i:04d}" for i in ids], hr_files, lr_files)


def _div2k_root(root):
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DatasetError(f"DIV2K folder not found: {root}")
    nested = os.path.join(root, "DIV2K")
    has_layout = any(name.startswith("DIV2K_") for name in os.listdir(root))
    return nested if not has_layout and os.path.isdir(nested) else root


def _first_file(root, candidates):
    for relative in candidates:
        path = os.path.join(root, relative)
        if os.path.isfile(path):
            return path
    return None


def _div2k_missing_message(root, missing, total):
    folders = sorted({os.path.dirname(m) for m in missing})
    archives = ", ".join(_div2k_archive(folder) for folder in folders)
    return (
        f"DIV2K at {root}: {len(missing)} of the {2 * total} files needed are missing, e.g. "
        f"{os.path.join(root, missing[0])}. Missing from folder(s) {', '.join(folders)}: extract "
        f"{archives} from data.vision.ee.ethz.ch/cvl/DIV2K/ into {root}"
    )


def _div2k_archive(folder):
    parts = folder.split("/")  # e.g. DIV2K_train_LR_bicubic/X2 -> DIV2K_train_LR_bicubic_X2.zip
    return "_".join(parts) + ".zip"


def tfds_div2k(config, split="train", data_dir=None, manual_dir=None):
    """TFDS `div2k/<config>` (e.g. bicubic_x2) as a PairSet; see `sr_tf.data.tfds_div2k`."""
    from sr_tf.data import tfds_div2k as tfds_reader

    return tfds_reader.load_div2k(config, split, data_dir=data_dir, manual_dir=manual_dir)


def benchmark(root, set_name, scale, cache_dir=None):
    """A benchmark set in the standard layout: `<root>/<Set>/HR/<name>.png` and
    `<root>/<Set>/LR_bicubic/X<s>/<name>x<s>.png`. LR files that are absent are made with the
    MATLAB-exact imresize from the top-left modcrop and cached under `cache_dir`."""
    hr_dir = os.path.join(os.fspath(root), set_name, "HR")
    hr_files = _list_images(hr_dir, recursive=False)
    lr_dir = os.path.join(os.fspath(root), set_name, "LR_bicubic", f"X{scale}")
    names = [os.path.splitext(os.path.basename(f))[0] for f in hr_files]
    lr_files = [_existing(os.path.join(lr_dir, f"{name}x{scale}.png")) for name in names]
    absent = [name for name, lr in zip(names, lr_files) if lr is None]
    if absent:
        logging.info(
            "%s x%d: %d LR file(s) not in %s (%s); making them with the MATLAB-exact imresize",
            set_name, scale, len(absent), lr_dir, ", ".join(absent[:5]),
        )
    return FilePairSet(f"{set_name} x{scale}", scale, names, hr_files, lr_files, cache_dir)


def image_folder(folder, scale, cache_dir=None):
    """Every image under `folder`, searched recursively (hidden files and folders skipped), as HR;
    LR made with the MATLAB-exact imresize and cached. Names are paths relative to `folder`
    without the extension."""
    folder = os.fspath(folder)
    cache_dir = cache_dir or default_cache_dir()
    hr_files = [f for f in _list_images(folder, recursive=True) if not _inside(f, cache_dir)]
    if not hr_files:
        raise DatasetError(f"no images ({', '.join(_extensions())}) in folder {folder} (outside the cache)")
    names = _unique_names([os.path.relpath(f, folder) for f in hr_files])
    title = os.path.basename(os.path.normpath(folder)) or folder
    return FilePairSet(f"{title} x{scale}", scale, names, hr_files, [None] * len(hr_files), cache_dir)


def samples(scale, split="train", cache_dir=None):
    """scikit-image's bundled colour photographs; `valid` holds back chelsea and rocket."""
    import skimage

    if split not in SPLITS:
        raise DatasetError(f"samples split {split!r}: choose one of {', '.join(SPLITS)}")
    files = SAMPLE_FILES["train"] + SAMPLE_FILES["valid"] if split == "train_valid" else SAMPLE_FILES[split]
    data_dir = os.path.join(os.path.dirname(skimage.__file__), "data")
    paths = [os.path.join(data_dir, f) for f in files]
    absent = [p for p in paths if not os.path.isfile(p)]
    if absent:
        raise DatasetError(f"scikit-image {skimage.__version__} lacks bundled sample file(s) {absent}")
    names = [os.path.splitext(f)[0] for f in files]
    return FilePairSet(f"samples {split} x{scale}", scale, names, paths, [None] * len(paths), cache_dir)


def _extensions():
    from sr_tf.data.images import IMAGE_EXTENSIONS

    return [e.lstrip(".") for e in IMAGE_EXTENSIONS]


def _list_images(folder, recursive):
    if not os.path.isdir(folder):
        raise DatasetError(f"image folder not found: {folder}")
    found = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        found += [os.path.join(here, f) for f in sorted(files) if not f.startswith(".") and has_image_extension(f)]
    if not found:
        raise DatasetError(f"no images ({', '.join(_extensions())}) in folder {folder}")
    return found


def _existing(path):
    return path if os.path.isfile(path) else None


def _inside(path, folder):
    folder = os.path.abspath(folder)
    return os.path.commonpath([os.path.abspath(path), folder]) == folder


def _unique_names(relative_paths):
    stems = [os.path.splitext(p)[0].replace(os.sep, "/") for p in relative_paths]
    clash = {s for s in stems if stems.count(s) > 1}
    return [p.replace(os.sep, "/") if s in clash else s for s, p in zip(stems, relative_paths)]


# ----------------------------------------------------------------------------------------------
# Spec strings for command-line flags


def open_pairs(spec, scale, split="train", *, cache_dir=None, tfds_data_dir=None, tfds_manual_dir=None):
    """The PairSet a spec string names (see SPEC_HELP). `split` applies to samples, div2k and tfds;
    benchmark and folder specs always give the whole set."""
    kind, _, value = str(spec).partition(":")
    if kind != "tfds":
        value = os.path.expanduser(value)
    if kind == "samples" and not value:
        return samples(scale, split, cache_dir)
    if kind in ("div2k", "div2k_unknown") and value:
        return div2k(value, scale, split, track="unknown" if kind == "div2k_unknown" else "bicubic")
    if kind == "tfds" and value:
        return tfds_div2k(_tfds_config(spec, value, scale), split, tfds_data_dir, tfds_manual_dir)
    if kind == "benchmark" and value:
        root, set_name = _benchmark_parts(value)
        return benchmark(root, set_name, scale, cache_dir)
    if kind == "folder" and value:
        return image_folder(value, scale, cache_dir)
    raise DatasetError(f"data spec {spec!r} not understood.\n{SPEC_HELP}")


def _tfds_config(spec, value, scale):
    name, _, config = value.partition("/")
    if name != "div2k":
        raise DatasetError(f"data spec {spec!r}: only tfds:div2k[/<config>] is supported")
    config = config or f"bicubic_x{scale}"
    if not config.endswith(f"_x{scale}"):
        raise DatasetError(f"data spec {spec!r}: config {config!r} does not match scale x{scale}")
    return config


def _benchmark_parts(value):
    root, sep, set_name = value.rpartition(":")
    if not sep:
        root, set_name = os.path.split(os.path.normpath(value))
    return root, set_name
