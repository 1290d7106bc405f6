"""Flags shared by the inference commands (sr_tf.evaluate, sr_tf.upscale, sr_tf.figure), defined
once; each command defines them on its own flag set."""
from absl import flags

GROUPS = {"model": "model", "self_ensemble": "model", "cpu_replicas": "devices", "tile": "devices",
          "max_megapixels": "devices", "precision": "devices"}
PRECISIONS = ("auto", "fp32", "bf16", "int8")  # sr_tf.inference.accelerated.PRECISIONS, without importing it


def define_inference_flags(values, precision="fp32"):
    flags.DEFINE_string("model", None, "bicubic, pretrained:<name> (python -m sr_tf.models lists them), an sr_tf "
                        "SavedModel, a training run directory or a .keras network.", flag_values=values)
    flags.DEFINE_bool("self_ensemble", False, "Average the 8 flips/transposes of each input (EDSR+, BTSRN test "
                      "time).", flag_values=values)
    flags.DEFINE_integer("cpu_replicas", 0, "Split the CPU into N logical devices; self-ensemble spreads over them.",
                         flag_values=values)
    flags.DEFINE_integer("tile", 0, "Tile the LR image in tiles of this many pixels (0: only when over "
                         "--max_megapixels).", flag_values=values)
    flags.DEFINE_float("max_megapixels", 1.0, "Tile automatically when one network call would output more than "
                       "this.", flag_values=values)
    flags.DEFINE_enum("precision", precision, list(PRECISIONS), "How a network (pretrained:, .keras, run "
                      "directory) runs: fp32 TensorFlow, exact; bf16 OpenVINO (extra 'fast'; Set5 within 0.011 dB); "
                      "int8 quantized once and cached, OpenVINO (extra 'fast'; BTSRN x2 -0.03 dB, EDSR-baseline "
                      "-0.19 dB); auto: bf16 when OpenVINO is installed and the CPU has bf16, else fp32. Exported "
                      "files run as written. See docs/performance.md.",
                      flag_values=values)
