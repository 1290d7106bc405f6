"""What every command shares: its own flag set, parsing, --help by group, quiet logs, short errors.

Each command module makes one `Command`, defines its flags on `command.flags` (its own absl
FlagValues, so commands with the same flag names can run one after another in one process, as the
tests do) and has `main(argv=None) -> exit status`. Usage errors print the reason alone and a hint
to --help (status 2); a ValueError from the work (ModelError, DatasetError, ImageError, RunError,
ExportError, OutputError: their messages name the input or output) or an OSError prints one line
(status 1); Ctrl-C prints one line saying what was done (status 130), never a traceback.
"""

import importlib
import importlib.util
import logging as python_logging
import os
import sys
import textwrap

from absl import flags, logging

from sr_tf.core.errors import UsageError  # noqa: F401  (commands raise cli.UsageError)

USAGE_EXIT = 2
ERROR_EXIT = 1
INTERRUPTED_EXIT = 130  # 128 + SIGINT, as shells report Ctrl-C
GROUP_ORDER = ("model", "data", "protocol", "recipe", "devices", "run", "logging")
OTHER_GROUP = "other"  # shown as "other flags:"


class _LibraryInfoFilter(python_logging.Filter):
    """Drops INFO (and DEBUG) records logged by TensorFlow's, Keras' or TensorBoard's own code."""

    LIBRARIES = ("tensorflow", "keras", "tf_keras", "tensorboard")

    def __init__(self):
        super().__init__()
        self.roots = None  # the libraries' folders, found (not imported) at the first record

    def filter(self, record):
        if record.levelno >= python_logging.WARNING:
            return True
        if self.roots is None:
            specs = [importlib.util.find_spec(name) for name in self.LIBRARIES]
            self.roots = tuple(
                os.path.join(folder, "")
                for spec in specs
                if spec and spec.submodule_search_locations
                for folder in spec.submodule_search_locations
            )
        return not record.pathname.startswith(self.roots)


LIBRARY_INFO_FILTER = _LibraryInfoFilter()


def configure_logging(given, default=logging.WARNING):
    """absl logging at the level `given` (--verbosity) or else `default`; TensorFlow's, Keras' and
    TensorBoard's own INFO lines (SavedModel writing, tracing, checkpoint timing) only when a level
    is given, sr_tf's INFO lines (training progress) whenever the level shows them."""
    flags.FLAGS.mark_as_parsed()  # absl's own logging flags keep their defaults
    logging.use_absl_handler()
    logging.set_verbosity(default if given is None else given)
    python_logging.getLogger("tensorflow").setLevel(
        python_logging.WARNING if given is None else logging.ABSL_TO_STANDARD.get(given, python_logging.INFO)
    )
    handler = logging.get_absl_handler()
    if given is None:
        handler.addFilter(LIBRARY_INFO_FILTER)
    else:
        handler.removeFilter(LIBRARY_INFO_FILTER)


class Command:
    """One command: name, help text, its own flags, and the flags it cannot run without.

    `groups` maps flag names to --help groups (others go under 'other'); `verbosity` is the
    absl log level when --verbosity is not given (training shows INFO progress, the others only
    warnings); `errors` are the exception types reported in one line besides ValueError.
    """

    def __init__(self, name, doc, required=(), groups=None, verbosity=logging.WARNING, epilog="", errors=()):
        self.name, self.doc, self.required = name, doc, tuple(required)
        self.groups, self.verbosity, self.epilog, self.errors = (
            dict(groups or {}),
            verbosity,
            epilog,
            tuple(errors),
        )
        self.flags = flags.FlagValues()
        flags.DEFINE_bool(
            "help", False, "Show the flags by group and exit.", short_name="?", flag_values=self.flags
        )
        flags.DEFINE_integer(
            "verbosity",
            None,
            "Log level: 0 shows INFO lines (TensorFlow's included), -1 "
            "warnings only (default: the command's).",
            short_name="v",
            flag_values=self.flags,
        )
        self.groups.update(help="logging", verbosity="logging")

    def main(self, action, argv=None):
        """Parses argv (sys.argv by default; --flagfile included) and runs action(flag_values);
        returns the exit status (action's return value, or 0)."""
        values = self.flags
        values.unparse_flags()
        try:
            rest = values(list(sys.argv if argv is None else argv))
            if values.help:
                print(self.help_text())
                return 0
            if len(rest) > 1:
                raise UsageError(f"unexpected arguments: {' '.join(rest[1:])}")
            missing = [f"--{name}" for name in self.required if values[name].value is None]
            if missing:
                raise UsageError(f"{', '.join(missing)} must be given")
        except (flags.Error, UsageError) as error:
            return self.usage_error(error)
        self._configure_logging()
        try:
            return action(values) or 0
        except UsageError as error:
            return self.usage_error(error)
        except KeyboardInterrupt as error:
            return interrupted(self.name, error)
        except (ValueError, OSError, *self.errors) as error:
            print(f"{self.name}: error: {error}", file=sys.stderr)
            return ERROR_EXIT

    def usage_error(self, error):
        """The reason alone (not the whole flag list) and a hint; status 2."""
        print(f"{self.name}: error: {error}\nTry --help for the flags.", file=sys.stderr)
        return USAGE_EXIT

    def _configure_logging(self):
        configure_logging(self.flags["verbosity"].value, self.verbosity)

    def help_text(self):
        """The module's docstring, then every flag under its group, then the epilog."""
        by_group = {}
        for name in sorted({self.flags[key].name for key in self.flags}):
            by_group.setdefault(self.groups.get(name, OTHER_GROUP), []).append(self.flags[name])
        order = [g for g in GROUP_ORDER if g in by_group] + sorted(set(by_group) - set(GROUP_ORDER))
        lines = [textwrap.dedent(self.doc).strip(), ""]
        for group in order:
            lines.append(f"{group} flags:")
            for flag in by_group[group]:
                default = "" if flag.default is None else f" (default: {flag.default_as_str})"
                short = f" (-{flag.short_name})" if flag.short_name else ""
                lines.append(
                    flags.text_wrap(
                        f"--{flag.name}{short}: {flag.help}{default}", indent="      ", firstline_indent="  "
                    )
                )
            lines.append("")
        if self.epilog:
            lines.append(self.epilog)
        return "\n".join(lines).rstrip()


def interrupted(name, error):
    """Ctrl-C: one line (the work's own, e.g. "interrupted: 2 of 5 images written"), status 130."""
    print(f"{name}: {error or 'interrupted'}", file=sys.stderr)
    return INTERRUPTED_EXIT


def run_main(main):
    """Runs a command's main as the program: TensorFlow's start-up noise dropped first (see
    sr_tf.core.console), main's return value the exit status. `python -m` ends with this."""
    from sr_tf.core import console

    console.drop_tensorflow_noise()
    try:
        status = main()
        sys.stdout.flush()
    except KeyboardInterrupt as error:  # before the command's own handler is in (loading TensorFlow)
        status = interrupted("sr_tf", error)
    except BrokenPipeError:  # the reader went away (`... --help | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = ERROR_EXIT
    sys.exit(status)


def run(name):
    """A command as the program (`python -m sr_tf.<name>`, `sr-tf-<name>`): the command module (and
    TensorFlow) loads inside run_main, after the noise filter went in."""
    run_main(lambda: importlib.import_module(f"sr_tf.commands.{name}").main())
