"""DIV2K through tensorflow-datasets (`div2k/<config>`), offline and without TFDS's retry loop.

TFDS would download the four official zips of a config (5 GB for bicubic_x2) and, with no network,
retry for minutes before failing. `load_div2k` therefore checks first: a prepared dataset under
`data_dir` is loaded as is; otherwise every registered archive must already be on disk, either in
the manual folder (`manual_dir`, default `<data_dir>/downloads/manual`) under its official name,
or in TFDS's downloads folder from an earlier download. If one is missing it fails at once with a
message naming the zips and the folder. Only then is `download_and_prepare` called, with
`DownloadConfig(manual_dir=...)`, so TFDS verifies the checksums and prepares locally.
"""

import os

import numpy as np
import tensorflow as tf

from sr_tf.data.pairs import DatasetError, PairSet, crop_hr_to_lr

TFDS_SPLITS = {"train": "train", "valid": "validation", "train_valid": "train+validation"}
DOWNLOAD_PAGE = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
_SHUFFLE_BUFFER = 32  # encoded DIV2K pairs are ~5 MB each; the pipeline shuffles again after decoding


def load_div2k(config, split="train", data_dir=None, manual_dir=None):
    """The TFDS `div2k/<config>` split (train, valid or train_valid) as a PairSet."""
    import tensorflow_datasets as tfds

    config = str(config).removeprefix("div2k/")
    if split not in TFDS_SPLITS:
        raise DatasetError(f"tfds div2k split {split!r}: choose one of {', '.join(TFDS_SPLITS)}")
    try:
        builder = tfds.builder(f"div2k/{config}", data_dir=data_dir)
    except Exception as e:  # unknown config names raise various tfds errors
        raise DatasetError(f"tfds div2k config {config!r}: {e}") from e
    if not builder.is_prepared():
        manual_dir = os.fspath(
            manual_dir or os.path.join(os.fspath(builder.data_dir_root), "downloads", "manual")
        )
        missing = missing_archives(builder, manual_dir)
        if missing:
            raise DatasetError(_missing_message(builder, manual_dir, missing))
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    return TfdsPairSet(builder, split)


def archive_names(builder):
    """The official zip names the config needs, e.g. DIV2K_train_HR.zip."""
    return [url.rsplit("/", 1)[-1] for url in builder.builder_config.download_urls.values()]


def missing_archives(builder, manual_dir):
    """Registered archives found neither in `manual_dir` nor in TFDS's downloads folder."""
    missing = []
    for url in builder.builder_config.download_urls.values():
        name = url.rsplit("/", 1)[-1]
        if not os.path.isfile(os.path.join(manual_dir, name)) and not _downloaded(builder, url):
            missing.append(name)
    return missing


def _downloaded(builder, url):
    """True if TFDS's downloads folder holds this url with its registered checksum (and .INFO file)."""
    try:
        from tensorflow_datasets.core.download import resource

        checksum = builder.url_infos[url].checksum
        name = resource.get_dl_fname(url, checksum)
    except Exception:  # internals moved or no registered checksum: treat as not downloaded
        return False
    downloads = os.path.join(os.fspath(builder.data_dir_root), "downloads")
    for folder in (os.path.join(downloads, builder.name), downloads):
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.path.isfile(path + ".INFO"):
            return True
    return False


def _missing_message(builder, manual_dir, missing):
    sizes = {url.rsplit("/", 1)[-1]: info.size for url, info in (builder.url_infos or {}).items()}
    listed = ", ".join(
        f"{name} ({sizes[name] / 2**30:.2f} GiB)" if name in sizes else name for name in missing
    )
    return (
        f"TFDS div2k/{builder.builder_config.name} is not prepared in {builder.data_dir_root} and "
        f"{len(missing)} of its {len(archive_names(builder))} archives are not on disk: {listed}. "
        f"Download them from {DOWNLOAD_PAGE} and put the zip files, unextracted and with these names, "
        f"in {manual_dir} (or pass another manual_dir); TFDS then checks and prepares them offline. "
        "sr_tf does not let TFDS download them itself. Extracted folders work with the "
        "'div2k:<root>' reader instead."
    )


class TfdsPairSet(PairSet):
    """A prepared TFDS div2k split; images are named by their position in TFDS's fixed order."""

    def __init__(self, builder, split):
        self.builder = builder
        self.tfds_split = TFDS_SPLITS[split]
        scale = int(builder.builder_config.name.rsplit("_x", 1)[1])
        count = builder.info.splits[self.tfds_split].num_examples
        super().__init__(
            f"DIV2K {split} x{scale} (tfds {builder.builder_config.name})",
            scale,
            [f"tfds_{i:04d}" for i in range(count)],
        )
        self._lr_sizes = None

    def load(self, i):
        lr, hr = next(iter(self.dataset(indices=[i])))
        return lr.numpy(), hr.numpy()

    def hr_size(self, i):
        if self._lr_sizes is None:
            self._lr_sizes = self._scan_lr_sizes()
        height, width = self._lr_sizes[i]
        return height * self.scale, width * self.scale

    def dataset(self, indices=None, shuffle=False, seed=None):
        ds = self._encoded()
        if indices is not None:
            keep = np.zeros(len(self), bool)
            keep[self._indices(indices)] = True
            keep = tf.constant(keep)
            ds = ds.enumerate().filter(lambda i, example: keep[i]).map(lambda i, example: example)
        if shuffle:
            ds = ds.shuffle(_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
        scale = self.scale
        return ds.map(lambda example: _decode(example, scale), num_parallel_calls=tf.data.AUTOTUNE)

    def _encoded(self):
        import tensorflow_datasets as tfds

        return self.builder.as_dataset(
            split=self.tfds_split,
            shuffle_files=False,
            decoders={"lr": tfds.decode.SkipDecoding(), "hr": tfds.decode.SkipDecoding()},
            read_config=tfds.ReadConfig(try_autocache=False),
        )

    def _scan_lr_sizes(self):
        """LR (height, width) of every example from the PNG header bytes (no pixel decoding)."""
        headers = self._encoded().map(lambda example: tf.strings.substr(example["lr"], 0, 24))
        sizes = []
        for header in headers.as_numpy_iterator():
            if header[:8] != b"\x89PNG\r\n\x1a\n":
                raise DatasetError(f"{self.name}: an LR image is not stored as PNG; cannot read its size")
            width, height = np.frombuffer(header[16:24], ">u4")
            sizes.append((int(height), int(width)))
        return sizes


def _decode(example, scale):
    lr = tf.io.decode_image(example["lr"], channels=3, expand_animations=False)
    hr = tf.io.decode_image(example["hr"], channels=3, expand_animations=False)
    return crop_hr_to_lr(lr, hr, scale)
