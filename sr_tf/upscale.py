"""`python -m sr_tf.upscale --model=M --input=<image or folder> --output=<file or folder> [--scale=s]`

Upscales one image, or every image under a folder (recursively, keeping the sub-folders), to PNG.
Any mode `read_image` reads goes in (grayscale and palette are expanded to RGB, alpha is dropped,
16-bit is reduced to 8-bit); RGB PNG comes out, written atomically. An unreadable file is reported
and skipped, and the command exits with status 1 at the end if any file failed.
"""
import sys

from absl import app, flags

from sr_tf.cli import command_main
from sr_tf import cli_flags

flags.DEFINE_string("input", None, "An image file or a folder of images.")
flags.DEFINE_string("output", None, "The output PNG file (or an existing folder) for a file, a folder for a folder.")
flags.DEFINE_integer("scale", None, "The scale (needed when the model has several, e.g. MDSR or bicubic).")
flags.adopt_module_key_flags(cli_flags)

FLAGS = flags.FLAGS


def upscale_command():
    from sr_tf.core.devices import replica_strategy
    from sr_tf.inference.predictor import load_predictor
    from sr_tf.inference.upscaling import pick_scale, plan_jobs, upscale_files

    jobs = plan_jobs(FLAGS.input, FLAGS.output)
    strategy = replica_strategy(FLAGS.cpu_replicas) if FLAGS.self_ensemble else None
    predictor = load_predictor(FLAGS.model, strategy)
    scale = pick_scale(predictor, FLAGS.scale)
    failures = upscale_files(predictor, jobs, scale, FLAGS.self_ensemble, strategy, FLAGS.tile,
                             FLAGS.max_megapixels)
    print(f"upscaled {len(jobs) - len(failures)} of {len(jobs)} image(s) by x{scale} into {FLAGS.output}")
    for source, message in failures:
        print(f"failed: {source}: {message}", file=sys.stderr)
    return 1 if failures else 0


main = command_main(upscale_command)


def run():
    flags.mark_flags_as_required(["model", "input", "output"])
    app.run(main)


if __name__ == "__main__":
    run()
