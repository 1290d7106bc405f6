"""`python -m sr_tf.export --run=<run dir or .keras> --output=<dir> [--tflite] [--scale=s]`

Exports a training run's latest checkpoint (or a .keras training network) as an inference
SavedModel (and with --tflite a `model.tflite` inside it), reloads what it wrote, checks that it
reproduces the Keras model on a test image and says so; it fails, writing nothing, otherwise.
An MDSR network gives one SavedModel per scale in <dir>/x<s> unless --scale picks one.
"""
import os

from absl import app, flags

from sr_tf.cli import command_main

flags.DEFINE_string("run", None, "A training run directory (latest checkpoint), a .keras training network or "
                    "pretrained:<name>.")
flags.DEFINE_alias("model", "run")
flags.DEFINE_string("output", None, "The SavedModel folder to write (an earlier sr_tf export there is replaced).")
flags.DEFINE_bool("tflite", False, "Also write <output>/model.tflite (builtin ops only).")
flags.DEFINE_integer("scale", None, "The scale to export (MDSR; default all, in <output>/x<s>).")

FLAGS = flags.FLAGS


def export_command(run, output, tflite=False, scale=None):
    from sr_tf import models
    from sr_tf.export import export_checked
    from sr_tf.inference.predictor import load_training_network

    network = load_training_network(run)
    name, scales = models.describe(network)["model"], models.scales_of(network)
    if scale is not None:
        if scale not in scales:
            raise ValueError(f"--scale={scale}: {run} holds {name} for {', '.join(f'x{s}' for s in scales)}")
        scales = (scale,)
    for s in scales:
        target = output if len(scales) == 1 else os.path.join(output, f"x{s}")
        lines = export_checked(network, name, s, target, tflite)
        print(f"exported {name} x{s} to {os.path.abspath(target)}")
        for line in lines:
            print(f"  {line}")


def command():
    export_command(FLAGS.run, FLAGS.output, FLAGS.tflite, FLAGS.scale)


main = command_main(command)


def run():
    flags.mark_flags_as_required(["run", "output"])
    app.run(main)


if __name__ == "__main__":
    run()
