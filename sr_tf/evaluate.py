"""`python -m sr_tf.evaluate`: runs the evaluate command (sr_tf.commands.evaluate)."""

if __name__ == "__main__":
    from sr_tf.commands.cli import run

    run("evaluate")
