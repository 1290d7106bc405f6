"""Flags shared by the inference commands (sr_tf.evaluate, sr_tf.upscale, sr_tf.figure), defined
once so the commands can live in one process. Importing this module only defines flags."""
from absl import flags

flags.DEFINE_string("model", None, "bicubic, pretrained:<name> (python -m sr_tf.models lists them), an sr_tf "
                    "SavedModel, a training run directory or a .keras network.")
flags.DEFINE_bool("self_ensemble", False, "Average the 8 flips/transposes of each input (EDSR+, BTSRN test time).")
flags.DEFINE_integer("cpu_replicas", 0, "Split the CPU into N logical devices; self-ensemble spreads over them.")
flags.DEFINE_integer("tile", 0, "Tile the LR image in tiles of this many pixels (0: only when over --max_megapixels).")
flags.DEFINE_float("max_megapixels", 1.0, "Tile automatically when one network call would output more than this.")

