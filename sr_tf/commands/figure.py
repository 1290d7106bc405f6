"""`python -m sr_tf.figure --model=M --hr=<image> --scale=s --crop=y,x,size [--crop=...] [--compare=M2]
--output=fig.png`

The EDSR paper's Fig. 5 style comparison for chosen crops of an HR image: bicubic,
|bicubic - GT| summed over RGB, the model's SR, |SR - GT| (and the same two for every --compare
model) and the ground truth. The LR input is made from the HR image with MATLAB-exact bicubic
downscaling (or given with --lr).
"""

from absl import flags

from sr_tf.commands import cli, inference_flags

COMMAND = cli.Command(
    "sr_tf.figure",
    __doc__,
    required=("model", "hr", "crop", "output"),
    groups={
        **inference_flags.GROUPS,
        "scale": "model",
        "compare": "model",
        "label": "model",
        "hr": "data",
        "lr": "data",
        "crop": "data",
        "output": "run",
    },
)
FLAGS = COMMAND.flags
inference_flags.define_inference_flags(FLAGS)
flags.DEFINE_string("hr", None, "The ground-truth (HR) image.", flag_values=FLAGS)
flags.DEFINE_string(
    "lr", None, "The LR image (default: made from --hr with MATLAB-exact bicubic).", flag_values=FLAGS
)
flags.DEFINE_integer(
    "scale", None, "The scale (needed when the model has several, e.g. MDSR or bicubic).", flag_values=FLAGS
)
flags.DEFINE_multi_string(
    "crop", None, "A crop y,x,size in HR pixels; repeat for more rows.", flag_values=FLAGS
)
flags.DEFINE_string("output", None, "The PNG file to write.", flag_values=FLAGS)
flags.DEFINE_string(
    "label", None, "The name shown for --model's panels (default: the model name).", flag_values=FLAGS
)
flags.DEFINE_multi_string(
    "compare",
    [],
    "Another model to show beside --model, same forms as --model; repeat for more.",
    flag_values=FLAGS,
)


def figure_command(values=FLAGS):
    import dataclasses

    from sr_tf.core.files import check_writable
    from sr_tf.data.images import read_image
    from sr_tf.inference.figures import make_figure, parse_crop
    from sr_tf.inference.options import DEFAULTS
    from sr_tf.inference.predictor import load_predictor
    from sr_tf.inference.upscaling import pick_scale

    crops = [parse_crop(c) for c in values.crop]
    check_writable(values.output)
    options = inference_flags.options_from_flags(values)
    predictor = load_predictor(values.model, options)
    scale = pick_scale(predictor, values.scale)
    # --precision is --model's: the --compare models run at the default (exact) precision.
    compared = dataclasses.replace(options, precision=DEFAULTS.precision)
    others = [load_predictor(spec, compared) for spec in values.compare]
    hr = read_image(values.hr)
    lr = read_image(values.lr) if values.lr else None
    path = make_figure(predictor, hr, scale, crops, values.output, lr, options, values.label, others)
    print(f"figure: {path}")


def main(argv=None):
    return COMMAND.main(figure_command, argv)


if __name__ == "__main__":
    cli.run_main(main)
