"""Data: MATLAB-exact imresize, image reading, pair sets and their readers, data source strings, and
the tf.data patch pipeline.

    images.py / imresize.py   reading and writing images; MATLAB's bicubic imresize
    pairs.py                  PairSet / FilePairSet: LR-HR pairs at one scale, LR made and cached
    readers.py, tfds_div2k.py div2k, tfds_div2k, benchmark, image_folder, samples
    sources.py                open_pairs(source, scale, split): the data sources the commands take
    pipeline.py               training patches (the release's grid or random crops), augmented
"""

from sr_tf.data.pairs import DatasetError, FilePairSet, PairSet, held_out_split, make_lr
from sr_tf.data.readers import benchmark, div2k, image_folder, samples, tfds_div2k
from sr_tf.data.sources import SOURCE_HELP, open_pairs

__all__ = [
    "SOURCE_HELP",
    "DatasetError",
    "FilePairSet",
    "PairSet",
    "benchmark",
    "div2k",
    "held_out_split",
    "image_folder",
    "make_lr",
    "open_pairs",
    "samples",
    "tfds_div2k",
]
