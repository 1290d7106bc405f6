"""Data source strings, as the commands' flags take them: `open_pairs(source, scale, split)`."""

import os

from sr_tf.data.pairs import DatasetError
from sr_tf.data.readers import benchmark, div2k, image_folder, samples, tfds_div2k

SOURCE_HELP = """data sources:
  samples                      scikit-image's bundled colour photos (train: 6, valid: 2)
  div2k:<root>                 extracted DIV2K (<root>/DIV2K_train_HR, .../DIV2K_train_LR_bicubic/X<s>, ...)
  div2k_unknown:<root>         the same with the 'unknown' degradation LR folders
  tfds:div2k[/<config>]        tensorflow-datasets div2k, e.g. tfds:div2k/bicubic_x2 (default bicubic_x<s>)
  benchmark:<root>:<Set>       <root>/<Set>/HR + LR_bicubic/X<s> (also benchmark:<root>/<Set>)
  folder:<dir>                 every image under <dir> (recursive) as HR; LR made by imresize"""


def open_pairs(source, scale, split="train", *, cache_dir=None, tfds_data_dir=None, tfds_manual_dir=None):
    """The PairSet a source string names (see SOURCE_HELP). `split` applies to samples, div2k and tfds;
    benchmark and folder sources always give the whole set."""
    kind, _, value = str(source).partition(":")
    if kind != "tfds":
        value = os.path.expanduser(value)
    if kind == "samples" and not value:
        return samples(scale, split, cache_dir)
    if kind in ("div2k", "div2k_unknown") and value:
        return div2k(value, scale, split, track="unknown" if kind == "div2k_unknown" else "bicubic")
    if kind == "tfds" and value:
        return tfds_div2k(_tfds_config(source, value, scale), split, tfds_data_dir, tfds_manual_dir)
    if kind == "benchmark" and value:
        root, set_name = _benchmark_parts(value)
        return benchmark(root, set_name, scale, cache_dir)
    if kind == "folder" and value:
        return image_folder(value, scale, cache_dir)
    raise DatasetError(f"data source {source!r} not understood.\n{SOURCE_HELP}")


def _tfds_config(source, value, scale):
    name, _, config = value.partition("/")
    if name != "div2k":
        raise DatasetError(f"data source {source!r}: only tfds:div2k[/<config>] is supported")
    config = config or f"bicubic_x{scale}"
    if not config.endswith(f"_x{scale}"):
        raise DatasetError(f"data source {source!r}: config {config!r} does not match scale x{scale}")
    return config


def _benchmark_parts(value):
    root, sep, set_name = value.rpartition(":")
    if not sep:
        root, set_name = os.path.split(os.path.normpath(value))
    return root, set_name


def has_validation_split(source):
    """Whether a source has validation images of its own (samples, DIV2K, TFDS); benchmark and
    folder sources do not."""
    return str(source).partition(":")[0] in ("samples", "div2k", "div2k_unknown", "tfds")
