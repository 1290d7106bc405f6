"""`python -m sr_tf.convert`: runs the convert command (sr_tf.commands.convert)."""

if __name__ == "__main__":
    from sr_tf.commands.cli import run

    run("convert")
