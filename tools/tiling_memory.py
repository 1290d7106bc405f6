"""Peak memory of whole-image versus tiled inference as the image grows.

    python tools/tiling_memory.py [--model=edsr_baseline] [--scale=2] [--sizes=128,256,512] [--tile=96]

Each measurement runs in a fresh process (peak resident memory, ru_maxrss, only grows within a
process): a randomly initialised network upscales a random LR image of size x size, whole and
then in tiles, and the process reports its peak. Tiled and whole outputs are also compared.
"""

import json
import subprocess
import sys

from absl import app, flags

flags.DEFINE_string("model", "edsr_baseline", "Model name (default options).")
flags.DEFINE_integer("scale", 2, "Scale.")
flags.DEFINE_list("sizes", ["128", "256", "512"], "LR image sizes (square).")
flags.DEFINE_integer("tile", 96, "Tile size (LR pixels) of the tiled runs.")
flags.DEFINE_string("child", None, "Internal: run one measurement, 'size,tile'.")

FLAGS = flags.FLAGS


def measure(model, scale, size, tile):
    """Upscales one random image; returns peak RSS (MiB) and a checksum of the output."""
    import resource

    import keras
    import numpy as np

    from sr_tf import models
    from sr_tf.inference.options import InferenceOptions
    from sr_tf.inference.predictor import network_predictor

    keras.utils.set_random_seed(0)
    predictor = network_predictor(models.build_model(model, scale), model, scale, model)
    lr = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = predictor.upscale(lr, scale, InferenceOptions(tile=tile, max_megapixels=0))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "peak_mib": round(peak_mib),
        "checksum": int(out.astype(np.int64).sum()),
        "radius": predictor.radii[scale],
    }


def main(argv):
    del argv
    if FLAGS.child:
        size, tile = (int(v) for v in FLAGS.child.split(","))
        print(json.dumps(measure(FLAGS.model, FLAGS.scale, size, tile)))
        return
    print(f"{FLAGS.model} x{FLAGS.scale}: peak resident memory (MiB) of one process per run")
    print(f"| LR size | output MP | whole image | tiled (tile {FLAGS.tile:d}) | same uint8 output |")
    print("|---|---|---|---|---|")
    for size in (int(s) for s in FLAGS.sizes):
        results = []
        for tile in (0, FLAGS.tile):
            command = [
                sys.executable,
                __file__,
                f"--model={FLAGS.model}",
                f"--scale={FLAGS.scale}",
                f"--child={size},{tile}",
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        megapixels = (size * FLAGS.scale) ** 2 / 1e6
        same = results[0]["checksum"] == results[1]["checksum"]
        print(
            f"| {size}x{size} | {megapixels:.2f} | {results[0]['peak_mib']} | {results[1]['peak_mib']} "
            f"| {same} |"
        )


if __name__ == "__main__":
    app.run(main)
