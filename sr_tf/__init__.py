"""sr_tf: single-image super-resolution (BTSRN, EDSR, MDSR) in TensorFlow 2 / Keras 3."""
import os
import sys

# Quiet TF's C++ start-up lines (CPU feature banner) unless the user chose a level.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

# `python -m <command>` imports this package (and the command's package, which may load
# TensorFlow) before the command's own code runs: the console filter goes in here, first.
# The commands, by console-script name (`sr-tf-<name>`) and `python -m` module: the one list.
COMMANDS = {"train": "sr_tf.train", "evaluate": "sr_tf.evaluate", "upscale": "sr_tf.upscale",
            "figure": "sr_tf.figure", "export": "sr_tf.export", "convert": "sr_tf.convert", "models": "sr_tf.models"}
COMMAND_MODULES = tuple(COMMANDS.values())


def _running_a_command():
    argv = getattr(sys, "orig_argv", [])
    return "-m" in argv[:-1] and argv[argv.index("-m") + 1] in COMMAND_MODULES


if _running_a_command():
    from sr_tf.core.console import drop_tensorflow_noise

    drop_tensorflow_noise()
