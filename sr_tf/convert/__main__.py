"""`python -m sr_tf.convert --from=edsr_pytorch|btsrn_release --input=PATH --model=NAME --scale=S
--output=OUT.keras [--export=DIR [--tflite]]`

Converts weights written by the original code into an sr_tf training network (`.keras`, which
every command's --model accepts) and, with --export, its inference SavedModel (and TFLite). It
prints what it read, runs the converted network on a test image and checks that the written
file reproduces it before the final rename; nothing is written when anything fails.
"""
from absl import app, flags

from sr_tf.cli import command_main
from sr_tf.convert.command import convert_command

SOURCES = ("edsr_pytorch", "btsrn_release")
flags.DEFINE_enum("from", None, SOURCES, "What wrote the weights: the official EDSR-PyTorch code or the BTSRN release.")
flags.DEFINE_string("input", None, "The .pt state_dict (EDSR-PyTorch) or TF1 checkpoint prefix (BTSRN release).")
flags.DEFINE_string("model", None, "edsr_baseline, edsr, mdsr_baseline, mdsr (EDSR-PyTorch) or btsrn (default for "
                    "the release).")
flags.DEFINE_list("scale", None, "The scale; for MDSR the checkpoint's branches in order, e.g. 2,3,4.")
flags.DEFINE_float("res_scale", None, "EDSR residual scaling (default: the model's, EDSR 0.1).")
flags.DEFINE_string("output", None, "The .keras file to write.")
flags.DEFINE_string("export", None, "Also export the inference SavedModel to this folder.")
flags.DEFINE_bool("tflite", False, "With --export, also write model.tflite inside it.")
FLAGS = flags.FLAGS


def command():
    try:
        scales = [int(s) for s in FLAGS.scale]
    except ValueError:
        raise app.UsageError(f"--scale takes integers such as 2 or 2,3,4, got {','.join(FLAGS.scale)}")
    for line in convert_command(FLAGS["from"].value, FLAGS.input, FLAGS.model, scales, FLAGS.output, FLAGS.export,
                                FLAGS.tflite, FLAGS.res_scale):
        print(line)


main = command_main(command)


def run():
    flags.mark_flags_as_required(["from", "input", "scale", "output"])
    app.run(main)


if __name__ == "__main__":
    run()
