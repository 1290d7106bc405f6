"""Upscaling image files: one file or a folder tree to PNG, skipping (and reporting) bad files.

A file read as grayscale is upscaled as RGB (its gray replicated) and written as grayscale: the
gray value of the SR is its full-range BT.601 luma (sr_tf.evaluation.metrics.gray_values),
rounded. A failed write stops the run (the next would fail too); Ctrl-C says how many images
were written.
"""

import os
import sys

from absl import logging

from sr_tf.core.errors import Interrupted, OutputError, UsageError
from sr_tf.core.files import check_writable


def plan_jobs(input_path, output_path):
    """[(source, target PNG)]: a file to a file (or into an existing folder), a folder to a folder.
    Checks that the output can be written before any work (OutputError naming it otherwise);
    flags that do not fit each other are a UsageError."""
    from sr_tf.data.images import list_images

    input_path, output_path = os.fspath(input_path), os.fspath(output_path)
    if os.path.isdir(input_path):
        if os.path.isfile(output_path):
            raise UsageError(
                f"--input={input_path} is a folder, so --output={output_path} must be a folder too"
            )
        sources = list_images(input_path, skip=output_path)
        if not sources:
            raise ValueError(f"no images in folder {input_path}")
        jobs = [
            (src, os.path.join(output_path, os.path.splitext(os.path.relpath(src, input_path))[0] + ".png"))
            for src in sources
        ]
    elif not os.path.isfile(input_path):
        raise ValueError(f"--input={input_path}: no such file or folder")
    elif os.path.isdir(output_path):
        stem = os.path.splitext(os.path.basename(input_path))[0]
        jobs = [(input_path, os.path.join(output_path, stem + ".png"))]
    elif not output_path.lower().endswith(".png"):
        raise UsageError(f"--output={output_path}: the output is PNG, give it a .png name (or a folder)")
    else:
        jobs = [(input_path, output_path)]
    check_writable(output_path)
    return jobs


def upscale_files(predictor, jobs, scale, options=None, progress=True):
    """Upscales every (source, target) job as `options` (InferenceOptions) say; returns
    [(source, error message)] of the files that could not be read. A failed write raises
    OutputError and Ctrl-C raises Interrupted, both saying how many images were written.
    `progress`: a bar over the images, or over the tiles of a single image."""
    from tqdm import tqdm

    from sr_tf.core.console import logs_above_bars
    from sr_tf.data.images import ImageError, is_grayscale_file, read_image, write_png

    failures, written = [], 0
    bar = tqdm(jobs, unit="image", disable=not progress or len(jobs) < 2, file=sys.stderr)
    try:
        with bar, logs_above_bars():
            for source, target in bar:
                bar.set_postfix_str(os.path.basename(source), refresh=False)
                try:
                    lr = read_image(source)
                    sr = predictor.upscale(lr, scale, options, progress=progress and len(jobs) == 1)
                    write_png(target, gray_image(sr) if is_grayscale_file(source) else sr)
                    written += 1
                except OutputError:
                    raise
                except (ImageError, ValueError, OSError) as error:
                    logging.error("skipped %s: %s", source, error)
                    failures.append((source, str(error)))
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {written} of {len(jobs)} image(s) written") from None
    except OutputError as error:
        raise OutputError(f"{error} ({written} of {len(jobs)} image(s) written)") from None
    return failures


def gray_image(rgb):
    """The uint8 gray image of an RGB SR: its gray values (metrics.gray_values, float64), rounded half up."""
    import numpy as np

    from sr_tf.evaluation.metrics import gray_values

    return np.clip(np.floor(gray_values(rgb) + 0.5), 0, 255).astype(np.uint8)


def pick_scale(predictor, scale):
    """--scale, checked against the model's scales (UsageError naming the flag otherwise)."""
    if scale is not None:
        if scale not in predictor.scales:
            raise UsageError(
                f"--scale={scale}: {predictor.source} upscales by "
                f"{', '.join(f'x{s}' for s in predictor.scales)}"
            )
        return scale
    if len(predictor.scales) != 1:
        raise UsageError(
            f"--scale is needed: {predictor.source} upscales by "
            f"{', '.join(f'x{s}' for s in predictor.scales)}"
        )
    return predictor.scales[0]
