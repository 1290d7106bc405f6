"""Evaluating a predictor on sets of (LR, HR) pairs: mean PSNR / SSIM, the table, the JSON file."""

import json
import os
from typing import NamedTuple

import numpy as np
from absl import logging

from sr_tf.data import readers
from sr_tf.data.images import is_grayscale_file
from sr_tf.evaluation import metrics


def hr_is_grayscale(pairs, i):
    """True when image i's HR file is single-channel (evaluated on its gray values, see metrics)."""
    hr_files = getattr(pairs, "hr_files", None)
    return bool(hr_files) and is_grayscale_file(hr_files[i])


class ImagePair(NamedTuple):
    """One image to score: its name, the uint8 LR and HR, and whether HR is a grayscale file."""

    name: str
    lr: np.ndarray
    hr: np.ndarray
    gray: bool


def image_count(pairs, max_images=0):
    """How many images of a PairSet are scored: the first `max_images` (0: all)."""
    return len(pairs) if not max_images else min(max_images, len(pairs))


def load_images(pairs, count):
    """The first `count` images of a PairSet as ImagePairs, loaded one at a time."""
    for i in range(count):
        lr, hr = pairs.load(i)
        yield ImagePair(f"{pairs.name} {pairs.names[i]}", lr, hr, hr_is_grayscale(pairs, i))


def score_images(predictor, images, scale, protocol, options=None, ssim=True):
    """(uint8 SR, PSNR, SSIM or None without `ssim`) of each ImagePair, one at a time: upscaled
    by `predictor` as `options` say (sr_tf.inference.options.InferenceOptions: self-ensemble,
    tiling, ...; None: the predictor's defaults) and compared with its HR image under `protocol`."""
    for image in images:
        sr = predictor.upscale(image.lr, scale, options)
        psnr = metrics.psnr(sr, image.hr, protocol, image.gray)
        similarity = metrics.ssim(sr, image.hr, protocol, image.gray) if ssim else None
        logging.debug(
            "%s: PSNR %.3f dB%s%s",
            image.name,
            psnr,
            "" if similarity is None else f", SSIM {similarity:.4f}",
            " (gray file)" if image.gray else "",
        )
        yield sr, psnr, similarity


def evaluate(predictor, pairs, scale, protocol, options=None, max_images=0):
    """{"psnr": mean dB, "ssim": mean, "images": n} of `predictor` at `scale` on a PairSet: each
    image upscaled to uint8 as `options` say and compared under `protocol` (score_images); the
    means are over images, as in the papers.
    """
    count = image_count(pairs, max_images)
    if count == 0:
        raise ValueError(f"{pairs.name}: no images to evaluate")
    images = load_images(pairs, count)
    psnrs, ssims = zip(
        *[(psnr, ssim) for _, psnr, ssim in score_images(predictor, images, scale, protocol, options)]
    )
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "images": count}


def is_div2k_folder(folder):
    """True when `folder` (or folder/DIV2K) holds the official DIV2K_* folders."""
    for candidate in (folder, os.path.join(folder, "DIV2K")):
        if os.path.isdir(candidate) and any(name.startswith("DIV2K_") for name in os.listdir(candidate)):
            return True
    return False


def open_sets(folder, set_names, scale):
    """{set name: PairSet} at `scale`: DIV2K validation for a DIV2K folder, else the benchmark sets."""
    if is_div2k_folder(folder):
        return {"DIV2K": readers.div2k(folder, scale, split="valid")}
    return {name: readers.benchmark(folder, name, scale) for name in set_names}


def evaluate_all(predictor, folder, set_names, scales, options=None, overrides=None, max_images=0):
    """(results, protocols): {set: {"x<s>": scores}} and {(set, scale): Protocol} for every set and
    scale, the images upscaled as `options` say (see evaluate); the protocol is chosen by dataset
    (DIV2K or benchmark), `overrides` (metrics.ProtocolOverrides) change it."""
    overrides = overrides or metrics.ProtocolOverrides()
    results, protocols = {}, {}
    for scale in scales:
        predictor.check_scale(scale)
        for set_name, pairs in open_sets(folder, set_names, scale).items():
            protocol = overrides.protocol_for(pairs, scale)
            protocols[(set_name, scale)] = protocol
            score = evaluate(predictor, pairs, scale, protocol, options, max_images)
            results.setdefault(set_name, {})[f"x{scale}"] = score
            logging.info(
                "%s x%d: PSNR %.3f dB, SSIM %.4f over %d images",
                set_name,
                scale,
                score["psnr"],
                score["ssim"],
                score["images"],
            )
    return results, protocols


def format_table(results, protocols):
    """A papers-style table: one row per set, one PSNR / SSIM column per scale, then the protocols.

    `results`: {set: {"x<s>": {"psnr", "ssim", "images"}}}; `protocols`: {(set, scale): Protocol}.
    """
    scales = sorted({int(key[1:]) for row in results.values() for key in row})
    lines = [
        "| set | " + " | ".join(f"x{s} PSNR / SSIM" for s in scales) + " |",
        "|---|" + "---|" * len(scales),
    ]
    for set_name, row in results.items():
        cells = []
        for s in scales:
            score = row.get(f"x{s}")
            cells.append(f"{score['psnr']:.3f} / {score['ssim']:.4f}" if score else "-")
        lines.append(f"| {set_name} | " + " | ".join(cells) + " |")
    lines.append("")
    for set_name in results:
        by_scale = {s: p for (name, s), p in protocols.items() if name == set_name}
        lines.append(f"protocol {set_name}: {metrics.describe(by_scale)}")
    return "\n".join(lines)


def write_results_json(path, results):
    """Writes {set: {"x<s>": {"psnr", "ssim", "images"}}} atomically (temp file + rename)."""
    from sr_tf.core.files import write_text_atomically

    path = os.path.abspath(os.fspath(path))
    write_text_atomically(path, json.dumps(results, indent=2) + "\n")
    return path
