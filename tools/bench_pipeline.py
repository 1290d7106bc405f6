"""Is the tf.data pipeline fast enough? Patches per second it delivers vs what a training step eats.

    python tools/bench_pipeline.py                       # scikit-image samples, btsrn + edsr_baseline x2
    python tools/bench_pipeline.py --data=folder:~/photos --steps=5 --batches=100

For each model (real size, fp32, Adam + the model's loss, a tf.function step) it measures, in this
run: seconds per training step and the patches per second that consumes; the pipeline's patches
per second with the decoded images cached in memory and with no cache (decode on every visit);
and their ratios. The pipeline is timed alone, after --warmup batches that fill its buffers.
BTSRN: the release's grid (HR 108, border 12, stride 84), batch 32, MSE on the residual target
(HR - bicubic LR, centre crop). EDSR-baseline: random 48x48 LR crops, batch 16, L1.
"""

import time

from absl import app, flags

flags.DEFINE_string("data", "samples", "Training images, as a data source (see sr_tf.data.SOURCE_HELP).")
flags.DEFINE_integer("scale", 2, "Scale factor.")
flags.DEFINE_list("models", ["btsrn", "edsr_baseline"], "Models to time.")
flags.DEFINE_integer("steps", 3, "Timed training steps per model (after one tracing step).")
flags.DEFINE_integer("batches", 60, "Timed pipeline batches per configuration.")
flags.DEFINE_integer("warmup", 20, "Pipeline batches before timing (fills the shuffle buffers).")
flags.DEFINE_string(
    "cache_dir", None, "Where generated LR images are cached (default $SR_TF_CACHE or ~/.cache/sr_tf)."
)
FLAGS = flags.FLAGS

# model -> global batch, as the papers / release train them
SETUPS = {"btsrn": 32, "edsr_baseline": 16, "edsr": 16}


def pipeline_rate(pairs, name, batch_size, cache, batches, warmup):
    """Patches per second the training pipeline delivers (timed after `warmup` batches)."""
    from sr_tf.data.pipeline import training_dataset
    from sr_tf.training.recipes import patch_settings

    ds = training_dataset(pairs, batch_size, **patch_settings(name), cache=cache, seed=0)
    iterator = iter(ds)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def training_step(name, scale, network):
    """A tf.function step: Adam (eps 1e-8) and the model's loss on one (lr, hr) uint8 batch."""
    import keras
    import tensorflow as tf

    from sr_tf.models import get_spec

    optimizer = keras.optimizers.Adam(1e-4, epsilon=1e-8)
    is_btsrn = get_spec(name).residual

    def loss_of(lr, hr):
        if is_btsrn:  # residual over bicubic, on the network's valid centre, in [0, 1] units
            lr01, hr01 = tf.cast(lr, tf.float32) / 255, tf.cast(hr, tf.float32) / 255
            bicubic = tf.image.resize(lr01, tf.shape(hr)[1:3], "bicubic")
            output = network(lr01, training=True)
            margin = (hr.shape[1] - output.shape[1]) // 2
            target = (hr01 - bicubic)[:, margin : margin + output.shape[1], margin : margin + output.shape[2]]
            return tf.reduce_mean(tf.square(target - output))
        output = network(tf.cast(lr, tf.float32), training=True)
        return tf.reduce_mean(tf.abs(tf.cast(hr, tf.float32) - output))

    @tf.function
    def step(lr, hr):
        with tf.GradientTape() as tape:
            loss = loss_of(lr, hr)
        gradients = tape.gradient(loss, network.trainable_variables)
        optimizer.apply_gradients(zip(gradients, network.trainable_variables))
        return loss

    return step


def step_seconds(name, scale, batch, steps):
    """Median seconds per training step of the real-size model `name` on one pipeline batch."""
    import statistics

    from sr_tf.models import build_model

    lr, hr = batch
    step = training_step(name, scale, build_model(name, scale))
    step(lr, hr).numpy()  # trace and compile
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step(lr, hr).numpy()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(pairs, name, scale, steps, batches, warmup):
    """One table row: step time, consumption and pipeline rates for model `name`."""
    from sr_tf.data.pipeline import training_dataset
    from sr_tf.training.recipes import patch_settings

    batch_size = SETUPS[name]
    first = next(iter(training_dataset(pairs, batch_size, **patch_settings(name), seed=0)))
    seconds = step_seconds(name, scale, first, steps)
    row = {
        "model": name,
        "batch": batch_size,
        "patch": f"{first[0].shape[1]}->{first[1].shape[1]}",
        "step_s": seconds,
        "consumed": batch_size / seconds,
    }
    for cache in ("memory", None):
        row[f"pipeline_{cache}"] = pipeline_rate(pairs, name, batch_size, cache, batches, warmup)
    return row


def report(rows, pairs):
    lines = [
        f"data: {pairs.name}, {len(pairs)} images; pipeline timed alone, patches per second",
        f"{'model':15s} {'batch':>5s} {'LR->HR':>8s} {'step s':>7s} {'step eats/s':>11s} "
        f"{'pipe cached/s':>13s} {'ratio':>7s} {'pipe no cache/s':>15s} {'ratio':>7s}",
    ]
    for r in rows:
        lines.append(
            f"{r['model']:15s} {r['batch']:5d} {r['patch']:>8s} {r['step_s']:7.2f} {r['consumed']:11.1f} "
            f"{r['pipeline_memory']:13.0f} {r['pipeline_memory'] / r['consumed']:7.0f} "
            f"{r['pipeline_None']:15.0f} {r['pipeline_None'] / r['consumed']:7.0f}"
        )
    return "\n".join(lines)


def main(argv):
    del argv
    from sr_tf.data import DatasetError, open_pairs

    unknown = [m for m in FLAGS.models if m not in SETUPS]
    if unknown:
        raise app.UsageError(f"--models: unknown {unknown}; choose from {', '.join(SETUPS)}")
    if min(FLAGS.steps, FLAGS.batches) < 1 or FLAGS.warmup < 0:
        raise app.UsageError("--steps and --batches must be >= 1, --warmup >= 0")
    try:
        pairs = open_pairs(FLAGS.data, FLAGS.scale, "train", cache_dir=FLAGS.cache_dir)
    except DatasetError as e:
        raise app.UsageError(f"--data={FLAGS.data}: {e}") from e
    rows = [measure(pairs, m, FLAGS.scale, FLAGS.steps, FLAGS.batches, FLAGS.warmup) for m in FLAGS.models]
    print(report(rows, pairs))


if __name__ == "__main__":
    app.run(main)
