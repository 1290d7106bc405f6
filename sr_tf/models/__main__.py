"""`python -m sr_tf.models`: runs the models command (sr_tf.commands.models)."""

if __name__ == "__main__":
    from sr_tf.commands.cli import run

    run("models")
