"""`python -m sr_tf.models`: prints the model zoo, each model and scale with its parameter count."""
from absl import app


def main(argv):
    del argv
    from sr_tf.models import zoo_table

    print(f"{'model':<15} {'scale':<10} {'parameters':>12}")
    for name, scale, params in zoo_table():
        scale_text = "x" + ",".join(map(str, scale)) if isinstance(scale, tuple) else f"x{scale}"
        print(f"{name:<15} {scale_text:<10} {params:>12,}")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
