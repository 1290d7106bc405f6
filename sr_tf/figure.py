"""`python -m sr_tf.figure`: runs the figure command (sr_tf.commands.figure)."""

if __name__ == "__main__":
    from sr_tf.commands.cli import run

    run("figure")
