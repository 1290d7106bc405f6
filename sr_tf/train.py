"""`python -m sr_tf.train`: runs the train command (sr_tf.commands.train)."""

if __name__ == "__main__":
    from sr_tf.commands.cli import run

    run("train")
