"""Dataset readers. Each returns a `PairSet`: (LR, HR) uint8 RGB pairs at one scale, where HR is
cropped top-left to exactly LR size x scale.

`div2k` (extracted official folders), `tfds_div2k` (tensorflow-datasets `div2k/<config>`),
`benchmark` (`<root>/<Set>/HR`, `<root>/<Set>/LR_bicubic/X<s>`), `image_folder` (any folder of HR
photos) and `samples` (scikit-image's bundled colour photographs).
"""

import os

from absl import logging

from sr_tf.data.images import IMAGE_EXTENSIONS, is_inside, list_images
from sr_tf.data.pairs import DatasetError, FilePairSet, default_cache_dir

SPLITS = ("train", "valid", "train_valid")
DIV2K_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
DIV2K_IDS = {"train": range(1, 801), "valid": range(801, 901), "train_valid": range(1, 901)}
DIV2K_TRACKS = ("bicubic", "unknown")
# scikit-image's bundled colour photographs (shipped inside the wheel, no download).
SAMPLE_FILES = {
    "train": (
        "astronaut.png",
        "coffee.png",
        "hubble_deep_field.jpg",
        "ihc.png",
        "motorcycle_left.png",
        "retina.jpg",
    ),
    "valid": ("chelsea.png", "rocket.jpg"),
}


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
    ids = list(DIV2K_IDS[split] if ids is None else ids)
    root = _div2k_root(root, _div2k_zips(ids, scale, track))
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


def _div2k_zips(ids, scale, track):
    """The official zips that hold images `ids` at `scale`: HR and LR, train and / or valid."""
    parts = sorted({"train" if i <= 800 else "valid" for i in ids})
    return [f"DIV2K_{p}_HR.zip" for p in parts] + [
        _div2k_archive(f"DIV2K_{p}_LR_{track}/X{scale}") for p in parts
    ]


def _div2k_root(root, zips):
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DatasetError(
            f"DIV2K folder not found: {root}. DIV2K comes from {DIV2K_URL}: download {', '.join(zips)} "
            f"and unzip them all into {root} (README, Data). Or train on other images: "
            "--train_data=folder:<your photos> "
            "(10 % held out for validation) or --train_data=tfds:div2k, and validate with "
            "--val_data=benchmark:<root>:<Set> (e.g. Set5) or --val_data=folder:<dir>"
        )
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
        f"{archives} from {DIV2K_URL} into {root}"
    )


def _div2k_archive(folder):
    parts = folder.split("/")  # e.g. DIV2K_train_LR_bicubic/X2 -> DIV2K_train_LR_bicubic_X2.zip
    return "_".join(parts) + ".zip"


def tfds_div2k(config, split="train", data_dir=None, manual_dir=None):
    """TFDS `div2k/<config>` (e.g. bicubic_x2) as a PairSet; see `sr_tf.data.tfds_div2k`."""
    from sr_tf.data.tfds_div2k import load_div2k  # (with TensorFlow, which the data sources do not need)

    return load_div2k(config, split, data_dir=data_dir, manual_dir=manual_dir)


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
            set_name,
            scale,
            len(absent),
            lr_dir,
            ", ".join(absent[:5]),
        )
    return FilePairSet(f"{set_name} x{scale}", scale, names, hr_files, lr_files, cache_dir)


def image_folder(folder, scale, cache_dir=None):
    """Every image under `folder`, searched recursively (hidden files and folders skipped), as HR;
    LR made with the MATLAB-exact imresize and cached. Names are paths relative to `folder`
    without the extension."""
    folder = os.fspath(folder)
    cache_dir = cache_dir or default_cache_dir()
    hr_files = [f for f in _list_images(folder, recursive=True) if not is_inside(f, cache_dir)]
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

    return [e.lstrip(".") for e in IMAGE_EXTENSIONS]


def _list_images(folder, recursive):
    if not os.path.isdir(folder):
        raise DatasetError(f"image folder not found: {folder}")
    found = list_images(folder, recursive)
    if not found:
        raise DatasetError(f"no images ({', '.join(_extensions())}) in folder {folder}")
    return found


def _existing(path):
    return path if os.path.isfile(path) else None


def _unique_names(relative_paths):
    stems = [os.path.splitext(p)[0].replace(os.sep, "/") for p in relative_paths]
    clash = {s for s in stems if stems.count(s) > 1}
    return [p.replace(os.sep, "/") if s in clash else s for s, p in zip(stems, relative_paths)]
