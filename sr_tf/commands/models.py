"""`python -m sr_tf.models`: prints the model zoo, each model and scale with its parameter count."""

from sr_tf.commands import cli

COMMAND = cli.Command("sr_tf.models", __doc__)


def models_command(values=COMMAND.flags):
    from sr_tf.models import zoo_table

    print(f"{'model':<15} {'scale':<10} {'parameters':>12}")
    for name, scale, params in zoo_table():
        scale_text = "x" + ",".join(map(str, scale)) if isinstance(scale, tuple) else f"x{scale}"
        print(f"{name:<15} {scale_text:<10} {params:>12,}")
    print()
    print(pretrained_table())


def pretrained_table():
    """The shipped networks (use as --model=pretrained:<name>), with their Set5 / Set14 PSNR."""
    from sr_tf.models import PRETRAINED

    if not PRETRAINED:
        return "pretrained networks: none shipped in this version"
    lines = [
        f"{'pretrained:<name>':<22} {'Set5':>7} {'Set14':>7}  trained",
        *(
            f"{item.name:<22} {item.set5_psnr:>7.2f} {item.set14_psnr:>7.2f}  {item.trained}"
            for item in PRETRAINED.values()
        ),
        "PSNR in dB: Y channel, scale pixels shaved, no self-ensemble (docs/pretrained.md)",
    ]
    return "\n".join(lines)


def main(argv=None):
    return COMMAND.main(models_command, argv)


if __name__ == "__main__":
    cli.run_main(main)
