"""`python -m sr_tf.export --model=<network> --output=<dir> [--format=saved_model|tflite|onnx] \
[--quantize=int8]`

Exports a training run's latest checkpoint, a .keras training network or pretrained:<name>:
  --format=saved_model  an inference SavedModel (with --tflite also the full-image model.tflite
                        inside it), uint8 image in, uint8 SR out; the default
  --format=tflite       <dir>/model.tflite: the network alone, float32; sr_tf runs the model's
                        inference head (padding, bicubic residual) around it through LiteRT
  --format=onnx         <dir>/model.onnx: the same for ONNX Runtime (extra `onnx`)
  --quantize=int8       the network in int8, calibrated on --calibration_data: <dir>/model.onnx
                        (percentile ranges; OpenVINO or ONNX Runtime), or with --format=tflite
                        <dir>/model.tflite (min-max ranges; LiteRT, for phones). The PSNR change
                        on images it was not calibrated on is printed, and nothing is written
                        when the loss exceeds --max_psnr_loss
It reloads what it wrote, checks it against the Keras network and says how close it came; it
fails, writing nothing, otherwise. Every folder it writes works as --model in evaluate, upscale
and figure. An MDSR network gives one export per scale in <dir>/x<s> unless --scale picks one.
"""

from absl import flags

from sr_tf.commands import cli

COMMAND = cli.Command(
    "sr_tf.export",
    __doc__,
    required=("run", "output"),
    groups={
        "run": "model",
        "model": "model",
        "scale": "model",
        "output": "run",
        "tflite": "run",
        "format": "run",
        "quantize": "run",
        "calibration_data": "data",
        "max_psnr_loss": "run",
    },
)
FLAGS = COMMAND.flags
flags.DEFINE_string(
    "run",
    None,
    "A training run directory (latest checkpoint), a .keras training network or pretrained:<name>.",
    flag_values=FLAGS,
)
flags.DEFINE_alias("model", "run", flag_values=FLAGS)
flags.DEFINE_string(
    "output",
    None,
    "The SavedModel folder to write (an earlier sr_tf export there is replaced).",
    flag_values=FLAGS,
)
flags.DEFINE_bool("tflite", False, "Also write <output>/model.tflite (builtin ops only).", flag_values=FLAGS)
flags.DEFINE_integer(
    "scale", None, "The scale to export (MDSR; default all, in <output>/x<s>).", flag_values=FLAGS
)
flags.DEFINE_enum(
    "format",
    "saved_model",
    ["saved_model", "tflite", "onnx"],
    "What to write: an inference SavedModel, or the network as model.tflite / model.onnx (see above).",
    flag_values=FLAGS,
)
flags.DEFINE_enum(
    "quantize",
    "none",
    ["none", "int8"],
    "int8: write the network in int8, as model.onnx "
    "(default; OpenVINO / ONNX Runtime) or with --format=tflite as model.tflite (LiteRT, mobile), "
    "checked by its PSNR change.",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "calibration_data",
    "samples",
    "Images that calibrate int8 (a data source; its train split, or "
    "9 in 10 images; the rest check the PSNR change).",
    flag_values=FLAGS,
)
flags.DEFINE_float(
    "max_psnr_loss",
    0.1,
    "int8: the largest PSNR loss (dB) against the float network that is accepted.",
    flag_values=FLAGS,
)


def export_command(
    run,
    output,
    tflite=False,
    scale=None,
    file_format="saved_model",
    quantize="none",
    calibration_data="samples",
    max_psnr_loss=0.1,
):
    from sr_tf import models
    from sr_tf.core.files import check_writable
    from sr_tf.export import export_scales

    if quantize == "int8" and file_format == "saved_model":
        file_format = "onnx"  # int8 ONNX (percentile calibration) unless --format=tflite asks for int8 TFLite
    if tflite and file_format != "saved_model":
        raise cli.UsageError("--tflite adds a TFLite file to a SavedModel; with --format=tflite drop it")
    if max_psnr_loss < 0:
        raise cli.UsageError(f"--max_psnr_loss must be >= 0, got {max_psnr_loss}")
    check_writable(output)
    network = models.open_network(run)
    name, scales = models.describe(network)["model"], models.scales_of(network)
    if scale is not None:
        if scale not in scales:
            raise ValueError(f"--scale={scale}: {run} holds {name} for {', '.join(f'x{s}' for s in scales)}")
        scales = (scale,)
    what = "" if file_format == "saved_model" else f" as {'int8 ' if quantize == 'int8' else ''}{file_format}"
    for exported in export_scales(
        network, output, file_format, tflite, quantize, calibration_data, max_psnr_loss, scales=scales
    ):
        print(f"exported {name} x{exported.scale}{what} to {exported.path}")
        for line in exported.lines:
            print(f"  {line}")


def main(argv=None):
    return COMMAND.main(
        lambda values: export_command(
            values.run,
            values.output,
            values.tflite,
            values.scale,
            values.format,
            values.quantize,
            values.calibration_data,
            values.max_psnr_loss,
        ),
        argv,
    )


if __name__ == "__main__":
    cli.run_main(main)
