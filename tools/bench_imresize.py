"""Time sr_tf's MATLAB-exact imresize (numpy and TF) against Pillow's bicubic resize.

    python tools/bench_imresize.py                      # a 2040x1356 image-like RGB image, x1/4
    python tools/bench_imresize.py --image=photo.png --scale=0.5 --runs=9

Each time is the best (and median) of --runs calls after one warm-up call, all in this run; the
ratios are to Pillow's `Image.resize(size, Image.BICUBIC, reducing_gap=None)` to the same size.
"""

import statistics
import time

from absl import app, flags

flags.DEFINE_string("image", None, "Image to resize (default: a synthetic 2040x1356 RGB image).")
flags.DEFINE_float("scale", 0.25, "Resize factor (0.25 makes a x4 LR image).")
flags.DEFINE_integer("runs", 7, "Timed calls per method, after one warm-up call.")
flags.DEFINE_integer("seed", 0, "Seed of the synthetic image.")
FLAGS = flags.FLAGS

DIV2K_SIZE = (1356, 2040)  # height, width of a typical DIV2K HR image


def synthetic_image(height=DIV2K_SIZE[0], width=DIV2K_SIZE[1], seed=0):
    """An image-like uint8 RGB array: smooth shading, hard-edged shapes and fine grain."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (max(2, height // 64), max(2, width // 64), 3)).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), np.float64)
    rows, cols = np.mgrid[0:height, 0:width]
    for _ in range(12):  # discs with sharp borders
        cy, cx, radius = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(20, height / 4)
        inside = (rows - cy) ** 2 + (cols - cx) ** 2 < radius**2
        smooth[inside] = rng.uniform(0, 255, 3)
    grain = rng.normal(0, 12, (height, width, 3))
    return np.clip(smooth + grain, 0, 255).round().astype(np.uint8)


def load_image(path):
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as error:
        raise app.UsageError(f"--image={path}: cannot read it as an image ({error})") from error


def time_calls(function, runs):
    """(best, median) seconds of `runs` calls after one warm-up call."""
    function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def benchmark(image, scale, runs):
    """{method: (best, median)} for sr_tf numpy, sr_tf TF (graph) and Pillow, same output size."""
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    from sr_tf.data.imresize import imresize, output_length, tf_imresize

    height, width = image.shape[:2]
    size = (output_length(width, scale), output_length(height, scale))
    pil_image = Image.fromarray(image)
    graph_resize = tf.function(
        lambda x: tf_imresize(x, scale),
        input_signature=[tf.TensorSpec([None, None, image.shape[2]], tf.uint8)],
    )
    tensor = tf.constant(image)
    expected = imresize(image, scale)
    if not np.array_equal(graph_resize(tensor).numpy(), expected):
        raise AssertionError("tf_imresize differs from imresize on the benchmark image")
    return {
        "sr_tf imresize (numpy)": time_calls(lambda: imresize(image, scale), runs),
        "sr_tf tf_imresize (tf.function)": time_calls(lambda: graph_resize(tensor).numpy(), runs),
        "Pillow BICUBIC": time_calls(lambda: pil_image.resize(size, Image.BICUBIC, reducing_gap=None), runs),
    }


def report(times, image_shape, scale):
    pillow_best = times["Pillow BICUBIC"][0]
    lines = [f"image {image_shape[1]}x{image_shape[0]}x{image_shape[2]} uint8, scale {scale:g}"]
    lines.append(f"{'method':34s} {'best ms':>9s} {'median ms':>10s} {'x Pillow':>9s}")
    for name, (best, median) in times.items():
        lines.append(f"{name:34s} {best * 1e3:9.1f} {median * 1e3:10.1f} {best / pillow_best:9.2f}")
    return "\n".join(lines)


def main(argv):
    del argv
    if FLAGS.scale <= 0:
        raise app.UsageError(f"--scale must be positive, got {FLAGS.scale}")
    if FLAGS.runs < 1:
        raise app.UsageError(f"--runs must be at least 1, got {FLAGS.runs}")
    image = load_image(FLAGS.image) if FLAGS.image else synthetic_image(seed=FLAGS.seed)
    print(report(benchmark(image, FLAGS.scale, FLAGS.runs), image.shape, FLAGS.scale))


if __name__ == "__main__":
    app.run(main)
