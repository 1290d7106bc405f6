"""`python -m sr_tf.upscale`: runs the upscale command (sr_tf.commands.upscale)."""

if __name__ == "__main__":
    from sr_tf.commands.cli import run

    run("upscale")
