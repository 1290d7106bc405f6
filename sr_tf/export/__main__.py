"""`python -m sr_tf.export`: runs the export command (sr_tf.commands.export)."""

if __name__ == "__main__":
    from sr_tf.commands.cli import run

    run("export")
