"""`python -m sr_tf.train --flagfile=configs/btsrn_x2.cfg [--flag=value ...]`: train, resume, export.

Flags left unset take the model's recipe (--recipe; the numbers are in sr_tf/models/specs.py). The
flags are TrainConfig's fields (sr_tf/training/config.py). The effective flags are written to
<run_dir>/flags.cfg; rerunning the same command resumes the run.
"""

import functools

from absl import logging

from sr_tf.commands import cli
from sr_tf.data import SOURCE_HELP
from sr_tf.training import config as train_config
from sr_tf.training.runs import TrainingError

COMMAND = cli.Command(
    "sr_tf.train",
    __doc__,
    required=("run_dir",),
    groups=train_config.flag_groups(),
    verbosity=logging.INFO,
    epilog=SOURCE_HELP,
    errors=(TrainingError,),
)
FLAGS = COMMAND.flags
train_config.define_flags(FLAGS)  # one flag per TrainConfig field and per model option


def config_from_flags(values=FLAGS):
    return train_config.config_from_flags(values)


def train(config):
    """Trains (or resumes) the run and, with `config.export`, exports its inference SavedModel:
    what the command does, as a library call. Returns the trainer's TrainResult."""
    from sr_tf import export
    from sr_tf.training import trainer

    return trainer.train(config, exporter=functools.partial(export.export_scales, check=False))


def train_command(values=FLAGS):
    try:
        config = config_from_flags(values).resolved()
    except ValueError as error:
        raise cli.UsageError(str(error)) from None
    from sr_tf.training.trainer import below_bicubic_hint

    result = train(config)
    for scale in sorted(result.psnr):
        print(
            f"x{scale}: validation PSNR {result.psnr[scale]:.2f} dB, "
            f"bicubic {result.bicubic_psnr[scale]:.2f} dB "
            f"({result.psnr[scale] - result.bicubic_psnr[scale]:+.2f} dB)"
        )
    print(f"validated on: {result.validation_images}")
    hint = below_bicubic_hint(config, result)
    if hint:
        print(f"note: {hint}")
    if result.saved_model:
        print(f"SavedModel: {result.saved_model}")


def main(argv=None):
    return COMMAND.main(train_command, argv)


if __name__ == "__main__":
    cli.run_main(main)
