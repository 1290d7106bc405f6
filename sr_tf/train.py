"""`python -m sr_tf.train --flagfile=configs/btsrn_x2.cfg [--flag=value ...]`: train, resume, export.

Flags left unset take the model family's recipe (sr_tf/training/recipes.py). The effective flags
are written to <run_dir>/flags.cfg; rerunning the same command resumes the run.
"""
import sys

from absl import app, flags, logging

from sr_tf.models import MODEL_NAMES
from sr_tf.training.config import LOSSES, MIXED_PRECISION, PATCH_MODES, TRAIN_SPLITS, TrainConfig
from sr_tf.training.distribute import DISTRIBUTIONS

FLAGS = flags.FLAGS

flags.DEFINE_string("run_dir", None, "Directory of the run: checkpoints, logs, flags.cfg, saved_model.")
flags.DEFINE_enum("model", "btsrn", MODEL_NAMES, "Network to train.")
flags.DEFINE_list("scale", ["2"], "Upscaling factor; several (e.g. 2,3,4) for MDSR.")

# Network options (unset: the model's defaults).
flags.DEFINE_enum("block", None, ["pconv", "pixelcnn", "gated", "gated_pp"], "BTSRN residual block.")
flags.DEFINE_integer("low_blocks", None, "BTSRN blocks at low resolution (6).")
flags.DEFINE_integer("high_blocks", None, "BTSRN blocks at high resolution (4).")
flags.DEFINE_integer("width", None, "BTSRN feature channels (128).")
flags.DEFINE_integer("bottleneck", None, "BTSRN bottleneck channels (64).")
flags.DEFINE_integer("num_blocks", None, "EDSR/MDSR residual blocks.")
flags.DEFINE_integer("num_features", None, "EDSR/MDSR feature channels.")
flags.DEFINE_float("res_scale", None, "EDSR/MDSR residual scaling.")
MODEL_OPTION_FLAGS = ("block", "low_blocks", "high_blocks", "width", "bottleneck", "num_blocks", "num_features", "res_scale")

# Data.
flags.DEFINE_string("train_data", "samples", "Training images (see README: samples, div2k:, tfds:, folder:, ...).")
flags.DEFINE_enum("train_split", "train", TRAIN_SPLITS, "Split of --train_data to train on (release: train_valid).")
flags.DEFINE_string("val_data", None, "Validation images; default: the validation split of --train_data.")
flags.DEFINE_integer("val_images", 0, "Validate on the first N validation images only (0: all).")
flags.DEFINE_string("cache", "memory", "Decoded-image cache: memory, none, or a file path prefix.")

# Recipe (unset: the model family's recipe).
flags.DEFINE_integer("batch_size", None, "Global batch size, split across replicas.")
flags.DEFINE_enum("patch_mode", None, PATCH_MODES, "grid: the release's fixed patch grid; random: random crops.")
flags.DEFINE_integer("hr_patch", None, "HR patch size (BTSRN: 108).")
flags.DEFINE_integer("lr_patch", None, "LR patch size (EDSR/MDSR: 48).")
flags.DEFINE_integer("epochs", None, "Epochs (BTSRN: 16 passes over the patch grid).")
flags.DEFINE_integer("steps", None, "Training steps; overrides --epochs (EDSR/MDSR: 300000).")
flags.DEFINE_float("max_minutes", None, "Stop once the training steps took this many minutes (a time budget).")
flags.DEFINE_float("learning_rate", None, "Initial learning rate.")
flags.DEFINE_float("lr_decay_factor", None, "Learning-rate factor per decay period (BTSRN 0.618, EDSR 0.5).")
flags.DEFINE_integer("lr_decay_every", None, "Steps per decay period; 0 = one epoch (BTSRN), EDSR 200000.")
flags.DEFINE_enum("loss", None, LOSSES, "mse_residual (BTSRN) or l1 (EDSR/MDSR).")
flags.DEFINE_integer("seed", 0, "Seed of weights, patches and MDSR scale choice.")

# Devices and precision.
flags.DEFINE_enum("distribution", "default", DISTRIBUTIONS, "tf.distribute strategy.")
flags.DEFINE_integer("cpu_replicas", 0, "Split the CPU into N logical devices (MirroredStrategy on a CPU machine).")
flags.DEFINE_enum("mixed_precision", "none", MIXED_PRECISION, "bf16 (fast on AVX512-BF16 CPUs) or fp16 with loss scaling.")

# Bookkeeping.
flags.DEFINE_integer("checkpoint_every", 500, "Steps between checkpoints.")
flags.DEFINE_integer("keep_checkpoints", 3, "Checkpoints kept.")
flags.DEFINE_bool("checkpoint_input", True, "Save the input iterators in checkpoints (exact resume).")
flags.DEFINE_integer("log_every", 50, "Steps between progress lines and TensorBoard scalars.")
flags.DEFINE_integer("validate_every", 1000, "Steps between validations.")
flags.DEFINE_string("warm_start", None, "A run directory (e.g. EDSR x2) whose matching weights start this run.")
flags.DEFINE_bool("export", True, "Export the full-image inference SavedModel at the end.")

flags.mark_flag_as_required("run_dir")


def config_from_flags(values=FLAGS):
    try:
        scale = tuple(int(s) for s in values.scale)
    except ValueError:
        raise app.UsageError(f"--scale takes integers such as 2 or 2,3,4, got {','.join(values.scale)}")
    options = {name: values[name].value for name in MODEL_OPTION_FLAGS if values[name].value is not None}
    fields = ("train_data", "train_split", "val_data", "val_images", "cache", "batch_size", "patch_mode", "hr_patch",
              "lr_patch", "epochs", "steps", "max_minutes", "learning_rate", "lr_decay_factor", "lr_decay_every", "loss",
              "seed", "distribution", "cpu_replicas", "mixed_precision", "checkpoint_every",
              "keep_checkpoints", "checkpoint_input", "log_every", "validate_every", "warm_start", "export")
    return TrainConfig(
        run_dir=values.run_dir, model=values.model, scale=scale, model_options=options,
        **{name: values[name].value for name in fields},
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    config = config_from_flags()
    from sr_tf.training.trainer import TrainingError, train  # imports TensorFlow

    try:
        config = config.resolved()
    except ValueError as error:
        raise app.UsageError(str(error))
    try:
        result = train(config)
    except (ValueError, TrainingError) as error:  # the messages name the flag, file or checkpoint
        print(f"sr_tf.train: error: {error}", file=sys.stderr)
        return 1
    for scale in sorted(result.psnr):
        print(f"x{scale}: validation PSNR {result.psnr[scale]:.2f} dB, bicubic {result.bicubic_psnr[scale]:.2f} dB "
              f"({result.psnr[scale] - result.bicubic_psnr[scale]:+.2f} dB)")
    if result.saved_model:
        print(f"SavedModel: {result.saved_model}")
    return 0


class _QuietCheckpointSaver:
    """Drops TF's per-save 'Sharding callback duration' INFO line from the progress output."""

    def filter(self, record):
        return not record.pathname.endswith("functional_saver.py")


def run():
    logging.get_absl_handler().addFilter(_QuietCheckpointSaver())
    app.run(main)


if __name__ == "__main__":
    run()
