"""`python -m sr_tf.export --run=<run dir or .keras> --output=<dir> [--tflite] [--scale=s]`

Exports a training run's latest checkpoint (or a .keras training network) as an inference
SavedModel (and with --tflite a `model.tflite` inside it), reloads what it wrote, checks that it
reproduces the Keras model on a test image and says so; it fails, writing nothing, otherwise.
An MDSR network gives one SavedModel per scale in <dir>/x<s> unless --scale picks one.
"""
import os

from absl import flags

from sr_tf import cli

COMMAND = cli.Command("sr_tf.export", __doc__, required=("run", "output"),
                      groups={"run": "model", "model": "model", "scale": "model", "output": "run", "tflite": "run"})
FLAGS = COMMAND.flags
flags.DEFINE_string("run", None, "A training run directory (latest checkpoint), a .keras training network or "
                    "pretrained:<name>.", flag_values=FLAGS)
flags.DEFINE_alias("model", "run", flag_values=FLAGS)
flags.DEFINE_string("output", None, "The SavedModel folder to write (an earlier sr_tf export there is replaced).",
                    flag_values=FLAGS)
flags.DEFINE_bool("tflite", False, "Also write <output>/model.tflite (builtin ops only).", flag_values=FLAGS)
flags.DEFINE_integer("scale", None, "The scale to export (MDSR; default all, in <output>/x<s>).", flag_values=FLAGS)


def export_command(run, output, tflite=False, scale=None):
    from sr_tf import models
    from sr_tf.core.files import check_writable, writing
    from sr_tf.export import export_checked
    from sr_tf.inference.predictor import load_training_network

    check_writable(output)
    network = load_training_network(run)
    name, scales = models.describe(network)["model"], models.scales_of(network)
    if scale is not None:
        if scale not in scales:
            raise ValueError(f"--scale={scale}: {run} holds {name} for {', '.join(f'x{s}' for s in scales)}")
        scales = (scale,)
    for s in scales:
        target = output if len(scales) == 1 else os.path.join(output, f"x{s}")
        with writing(target):  # a write that fails (no space left, ...): one line naming the target
            lines = export_checked(network, name, s, target, tflite)
        print(f"exported {name} x{s} to {os.path.abspath(target)}")
        for line in lines:
            print(f"  {line}")


def main(argv=None):
    return COMMAND.main(lambda values: export_command(values.run, values.output, values.tflite, values.scale), argv)


if __name__ == "__main__":
    cli.run_main(main)
