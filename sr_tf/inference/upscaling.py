"""Upscaling image files: one file or a folder tree to PNG, skipping (and reporting) bad files."""
import os
import sys

from absl import logging


def _is_hidden(name):
    return name.startswith(".")


def _inside(path, folder):
    folder = os.path.abspath(folder)
    return os.path.commonpath([os.path.abspath(path), folder]) == folder


def list_images(folder, skip=None):
    """Image files under `folder`, recursively, sorted; hidden files and folders, and anything
    under `skip` (the output folder, when it lies inside the input folder), are left out."""
    from sr_tf.data.images import has_image_extension

    found = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _is_hidden(d) and not (skip and _inside(os.path.join(here, d), skip)))
        found += [os.path.join(here, f) for f in sorted(files) if not _is_hidden(f) and has_image_extension(f)]
    return found


def plan_jobs(input_path, output_path):
    """[(source, target PNG)]: a file to a file (or into an existing folder), a folder to a folder."""
    input_path, output_path = os.fspath(input_path), os.fspath(output_path)
    if os.path.isdir(input_path):
        if os.path.isfile(output_path):
            raise ValueError(f"--input={input_path} is a folder, so --output={output_path} must be a folder too")
        sources = list_images(input_path, skip=output_path)
        if not sources:
            raise ValueError(f"no images in folder {input_path}")
        return [(src, os.path.join(output_path, os.path.splitext(os.path.relpath(src, input_path))[0] + ".png"))
                for src in sources]
    if not os.path.isfile(input_path):
        raise ValueError(f"--input={input_path}: no such file or folder")
    if os.path.isdir(output_path):
        stem = os.path.splitext(os.path.basename(input_path))[0]
        return [(input_path, os.path.join(output_path, stem + ".png"))]
    if not output_path.lower().endswith(".png"):
        raise ValueError(f"--output={output_path}: the output is PNG, give it a .png name (or a folder)")
    return [(input_path, output_path)]


def upscale_files(predictor, jobs, scale, self_ensemble=False, strategy=None, tile=0, max_megapixels=None,
                  progress=True):
    """Upscales every (source, target) job; returns [(source, error message)] of the ones that failed."""
    from tqdm import tqdm

    from sr_tf.data.images import ImageError, read_image, write_png

    failures = []
    bar = tqdm(jobs, unit="image", disable=not progress or len(jobs) < 2, file=sys.stderr)
    for source, target in bar:
        bar.set_postfix_str(os.path.basename(source), refresh=False)
        try:
            lr = read_image(source)
            sr = predictor.upscale(lr, scale, self_ensemble=self_ensemble, strategy=strategy, tile=tile,
                                   max_megapixels=max_megapixels)
            write_png(target, sr)
        except (ImageError, ValueError, OSError) as error:
            logging.error("skipped %s: %s", source, error)
            failures.append((source, str(error)))
    return failures


def pick_scale(predictor, scale):
    if scale is not None:
        predictor.check_scale(scale)
        return scale
    if len(predictor.scales) != 1:
        raise ValueError(f"--scale is needed: {predictor.source} upscales by "
                         f"{', '.join(f'x{s}' for s in predictor.scales)}")
    return predictor.scales[0]
