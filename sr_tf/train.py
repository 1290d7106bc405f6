"""`python -m sr_tf.train --flagfile=configs/btsrn_x2.cfg [--flag=value ...]`: train, resume, export.

Flags left unset take the model's recipe (--recipe; the numbers are in sr_tf/models/specs.py). The
flags are TrainConfig's fields (sr_tf/training/config.py). The effective flags
are written to <run_dir>/flags.cfg; rerunning the same command resumes the run.
"""
import sys

from absl import app, flags, logging

from sr_tf.training import config as train_config

FLAGS = flags.FLAGS
train_config.define_flags(FLAGS)  # one flag per TrainConfig field and per model option
flags.mark_flag_as_required("run_dir")


USAGE_EXIT = 2


def usage_error(message):
    """The reason alone (absl would print the whole flag list before it), and exit status 2."""
    print(f"sr_tf.train: error: {message}\nTry --help for the flags.", file=sys.stderr)
    raise SystemExit(USAGE_EXIT)


def config_from_flags(values=FLAGS):
    return train_config.config_from_flags(values)


def train(config):
    """Trains (or resumes) the run and, with `config.export`, exports its inference SavedModel:
    what the command does, as a library call. Returns the trainer's TrainResult."""
    from sr_tf import export, models
    from sr_tf.training import trainer

    def exporter(network, scale, folder):
        return export.export_saved_model(network, models.describe(network)["model"], scale, folder)

    return trainer.train(config, exporter=exporter)


def main(argv):
    if len(argv) > 1:
        usage_error(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        config = config_from_flags().resolved()
    except ValueError as error:
        usage_error(str(error))
    from sr_tf.training.trainer import TrainingError  # imports TensorFlow

    try:
        result = train(config)
    except (ValueError, TrainingError) as error:  # the messages name the flag, file or checkpoint
        print(f"sr_tf.train: error: {error}", file=sys.stderr)
        return 1
    for scale in sorted(result.psnr):
        print(f"x{scale}: validation PSNR {result.psnr[scale]:.2f} dB, bicubic {result.bicubic_psnr[scale]:.2f} dB "
              f"({result.psnr[scale] - result.bicubic_psnr[scale]:+.2f} dB)")
    print(f"validated on: {result.validation_images}")
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
