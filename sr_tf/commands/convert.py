"""`python -m sr_tf.convert --from=edsr_pytorch|btsrn_release --input=PATH --model=NAME --scale=S
--output=OUT.keras [--export=DIR [--tflite]]`

Converts weights written by the original code into an sr_tf training network (`.keras`, which
every command's --model accepts) and, with --export, its inference SavedModel (and TFLite). It
prints what it read, runs the converted network on a test image and checks that the written
file reproduces it before the final rename; nothing is written when anything fails.
"""

from absl import flags

from sr_tf.commands import cli
from sr_tf.convert.conversion import convert_checkpoint

SOURCES = ("edsr_pytorch", "btsrn_release")
COMMAND = cli.Command(
    "sr_tf.convert",
    __doc__,
    required=("from", "input", "scale", "output"),
    groups={
        "from": "data",
        "input": "data",
        "model": "model",
        "scale": "model",
        "res_scale": "model",
        "output": "run",
        "export": "run",
        "tflite": "run",
    },
)
FLAGS = COMMAND.flags
flags.DEFINE_enum(
    "from",
    None,
    SOURCES,
    "What wrote the weights: the official EDSR-PyTorch code or the BTSRN release.",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "input",
    None,
    "The .pt state_dict (EDSR-PyTorch) or TF1 checkpoint prefix (BTSRN release).",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "model",
    None,
    "edsr_baseline, edsr, mdsr_baseline, mdsr (EDSR-PyTorch) or btsrn (default for the release).",
    flag_values=FLAGS,
)
flags.DEFINE_list(
    "scale", None, "The scale; for MDSR the checkpoint's branches in order, e.g. 2,3,4.", flag_values=FLAGS
)
flags.DEFINE_float(
    "res_scale", None, "EDSR residual scaling (default: the model's, EDSR 0.1).", flag_values=FLAGS
)
flags.DEFINE_string("output", None, "The .keras file to write.", flag_values=FLAGS)
flags.DEFINE_string("export", None, "Also export the inference SavedModel to this folder.", flag_values=FLAGS)
flags.DEFINE_bool("tflite", False, "With --export, also write model.tflite inside it.", flag_values=FLAGS)


def command(values=FLAGS):
    try:
        scales = [int(s) for s in values.scale]
    except ValueError:
        raise cli.UsageError(
            f"--scale takes integers such as 2 or 2,3,4, got {','.join(values.scale)}"
        ) from None
    for line in convert_checkpoint(
        values["from"].value,
        values.input,
        values.model,
        scales,
        values.output,
        values.export,
        values.tflite,
        values.res_scale,
    ):
        print(line)


def main(argv=None):
    return COMMAND.main(command, argv)


if __name__ == "__main__":
    cli.run_main(main)
