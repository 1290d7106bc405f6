"""The command layer: every `python -m sr_tf.<name>` / `sr-tf-<name>` program, on top of the library.

Each command is a module here with a `main(argv=None) -> exit status` (tests call it in-process).
No library package imports this one. `python -m sr_tf.<name>` runs a one-line shim that calls
`cli.run(name)`; the console scripts `sr-tf-<name>` are `sr_tf.commands:<name>_script`.
"""

import functools

# The commands by name: module sr_tf.commands.<name>, console script sr-tf-<name>, `python -m sr_tf.<name>`.
COMMANDS = ("train", "evaluate", "upscale", "figure", "export", "convert", "models")


def __getattr__(name):
    """`sr_tf.commands:<command>_script`, the console scripts of setup.py, one per COMMANDS entry."""
    command = name[: -len("_script")] if name.endswith("_script") else None
    if command not in COMMANDS:
        raise AttributeError(f"module 'sr_tf.commands' has no attribute {name!r}")
    from sr_tf.commands import cli

    return functools.partial(cli.run, command)
