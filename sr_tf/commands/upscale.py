"""`python -m sr_tf.upscale --model=M --input=<image or folder> --output=<file or folder> [--scale=s]`

Upscales one image, or every image under a folder (recursively, keeping the sub-folders), to PNG.
Any mode `read_image` reads goes in (palette is expanded to RGB, alpha is dropped, 16-bit is
reduced to 8-bit); PNG comes out, written atomically: RGB, or grayscale for a grayscale file (the
full-range BT.601 luma, 0.299 R + 0.587 G + 0.114 B, of the RGB SR of its replicated gray). An
unreadable file is reported and skipped, and the command exits with status 1 at the end if any
file failed; an output that cannot be written stops it at once (status 1), Ctrl-C too (130).
"""

import sys

from absl import flags

from sr_tf.commands import cli, inference_flags

COMMAND = cli.Command(
    "sr_tf.upscale",
    __doc__,
    required=("model", "input", "output"),
    groups={**inference_flags.GROUPS, "scale": "model", "input": "data", "output": "data"},
)
FLAGS = COMMAND.flags
inference_flags.define_inference_flags(FLAGS, precision="auto")
flags.DEFINE_string("input", None, "An image file or a folder of images.", flag_values=FLAGS)
flags.DEFINE_string(
    "output",
    None,
    "The output PNG file (or an existing folder) for a file, a folder for a folder.",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "scale", None, "The scale (needed when the model has several, e.g. MDSR or bicubic).", flag_values=FLAGS
)


def upscale_command(values=FLAGS):
    from sr_tf.inference.predictor import load_predictor
    from sr_tf.inference.upscaling import pick_scale, plan_jobs, upscale_files

    jobs = plan_jobs(values.input, values.output)
    options = inference_flags.options_from_flags(values)
    predictor = load_predictor(values.model, options)
    scale = pick_scale(predictor, values.scale)
    failures = upscale_files(predictor, jobs, scale, options)
    print(
        f"upscaled {len(jobs) - len(failures)} of {len(jobs)} image(s) by x{scale} into {values.output} "
        f"({predictor.runtime})"
    )
    for source, message in failures:
        print(f"failed: {source}: {message}", file=sys.stderr)
    return cli.ERROR_EXIT if failures else 0


def main(argv=None):
    return COMMAND.main(upscale_command, argv)


if __name__ == "__main__":
    cli.run_main(main)
