"""`python -m sr_tf.figure --model=M --hr=<image> --scale=s --crop=y,x,size [--crop=...] --output=fig.png`

The EDSR paper's Fig. 5 style comparison for chosen crops of an HR image: bicubic,
|bicubic - GT| summed over RGB, the model's SR, |SR - GT| and the ground truth. The LR input is
made from the HR image with MATLAB-exact bicubic downscaling (or given with --lr).
"""
from absl import app, flags

from sr_tf.cli import command_main
from sr_tf import cli_flags

flags.DEFINE_string("hr", None, "The ground-truth (HR) image.")
flags.DEFINE_string("lr", None, "The LR image (default: made from --hr with MATLAB-exact bicubic).")
flags.DEFINE_integer("scale", None, "The scale (needed when the model has several, e.g. MDSR or bicubic).")
flags.DEFINE_multi_string("crop", None, "A crop y,x,size in HR pixels; repeat for more rows.")
flags.DEFINE_string("output", None, "The PNG file to write.")
flags.DEFINE_string("label", None, "The name shown for the SR panels (default: the model name).")
flags.adopt_module_key_flags(cli_flags)

FLAGS = flags.FLAGS


def figure_command():
    from sr_tf.data.images import read_image
    from sr_tf.inference.figures import make_figure, parse_crop
    from sr_tf.inference.predictor import load_predictor
    from sr_tf.inference.upscaling import pick_scale

    crops = [parse_crop(c) for c in FLAGS.crop]
    predictor = load_predictor(FLAGS.model)
    scale = pick_scale(predictor, FLAGS.scale)
    hr = read_image(FLAGS.hr)
    lr = read_image(FLAGS.lr) if FLAGS.lr else None
    path = make_figure(predictor, hr, scale, crops, FLAGS.output, lr, FLAGS.self_ensemble, FLAGS.label)
    print(f"figure: {path}")


main = command_main(figure_command)


def run():
    flags.mark_flags_as_required(["model", "hr", "crop", "output"])
    app.run(main)


if __name__ == "__main__":
    run()
