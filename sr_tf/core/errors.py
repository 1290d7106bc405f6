"""The errors any layer may raise that a command turns into one line and an exit status
(sr_tf.commands.cli): a flag it cannot use (2), an output it cannot write (1), Ctrl-C (130)."""


class UsageError(ValueError):
    """A flag value (or combination) the command cannot use; the message names the flag."""


class OutputError(ValueError):
    """An output that cannot be written (a read-only place, a path under a file, no space left);
    the message names the path the user gave, not a temporary one, and the reason."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with a message that says what was done and how to go on."""
