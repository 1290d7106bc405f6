"""What every inference command shares: an absl `main` around a library call, quiet TF logs."""
from absl import app, flags


def quiet_tensorflow_logs():
    """Keeps INFO lines (TensorFlow's SavedModel writing, tracing, ...) out of the commands'
    output unless --verbosity is given; warnings and errors still show."""
    import logging as python_logging

    from absl import logging

    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
        python_logging.getLogger("tensorflow").setLevel(python_logging.WARNING)


def command_main(command):
    """An absl `main` that runs `command()` (its return value is the exit status). Positional
    arguments are refused; a ValueError (ModelError, DatasetError, ImageError, RunError,
    ExportError: their messages name the input) ends the command with one line and status 1."""

    def main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        quiet_tensorflow_logs()
        try:
            return command() or 0
        except ValueError as error:
            raise SystemExit(f"error: {error}") from error

    return main
