"""sr_tf's performance on this machine, measured in one process: peak, inference, training, tiling, XLA.

    flock /tmp/sr_tf_bench.lock python tools/benchmark.py --json=benchmark.json
    python tools/benchmark.py --parts=peak,inference --models=btsrn:2
    python tools/benchmark.py --quick            # tiny models and sizes: checks the tool, not the machine

Parts (--parts, default all):
  peak       GFLOP/s of a 3x3 128->128 convolution (1x256x256x128, SAME) and of a 4096x4096 matmul,
             fp32 and bf16, each inside a tf.function.
  inference  sr_tf's uint8 -> uint8 full-image inference model (`build_inference_model`) in a
             tf.function with a fixed input signature, on a random LR image: seconds, output
             megapixels per second, GFLOP/s and its share of the conv peak, fp32 and mixed_bfloat16.
  training   steps/s of the project's train step (`make_train_step`) fed by the real tf.data
             pipeline against the same step fed by one cached batch.
  tiling     BTSRN x4 tiled upscaling (`Predictor.upscale`) of a 2040x1356 and a 1020x678 LR image,
             each in a child process: seconds and peak resident memory (VmHWM), at the predictor's
             default tile budget (1 output megapixel per network call; --tiling_max_megapixels).
  xla        the fp32 inference models with tf.function(jit_compile=True) against without.
  activation (only on request) BTSRN x2 built with sr_tf's UnfusedLeakyReLU against the same network
             built with keras.layers.LeakyReLU (the graph before it, where grappler's remapper
             failed and dropped its conv fusions), interleaved: inference and a training step.

Times are `time.perf_counter` around calls after warm-up; "best" is the fastest call, "median" the
median. FLOPs are counted from the traced graph: 2 x multiply-accumulates of every Conv2D and
Conv2DBackpropInput (transposed conv) node at the benchmarked input size (so BTSRN's 15-pixel
padding and the bicubic layer's fixed convolutions count), never elementwise ops. Models have random
weights (speed does not depend on the values). The other processes' share of the CPU during each part
is read from /proc/stat: on a shared machine, read the numbers with it.
"""

import contextlib
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

from absl import app, flags

PARTS = ("peak", "inference", "training", "tiling", "xla", "activation")
DEFAULT_PARTS = PARTS[:5]


def define_flags():
    """The command's flags (defined only when run as a command, so tests can import this file)."""
    flags.DEFINE_list(
        "parts", list(DEFAULT_PARTS), f"Parts to run: {', '.join(PARTS)} (activation only on request)."
    )
    flags.DEFINE_bool("quick", False, "Tiny models, sizes and repetitions (a smoke test of the tool).")
    flags.DEFINE_string("json", None, "Also write the results to this JSON file.")
    flags.DEFINE_list(
        "models",
        ["btsrn:2", "btsrn:3", "btsrn:4", "edsr_baseline:2"],
        "Inference / XLA models as name:scale.",
    )
    flags.DEFINE_list("precisions", ["fp32", "bf16"], "Inference precisions: fp32, bf16 (mixed_bfloat16).")
    flags.DEFINE_integer("lr_size", None, "Inference LR image side (default 256; 24 with --quick).")
    flags.DEFINE_integer("repeats", None, "Timed calls per measurement (default 7; 2 with --quick).")
    flags.DEFINE_integer("warmup", None, "Untimed calls before timing (default 2; 1 with --quick).")
    flags.DEFINE_string("train_data", "samples", "Training data source for the training part.")
    flags.DEFINE_integer(
        "train_steps",
        None,
        "Timed training steps per feed and round (default 4, three rounds; 1 with --quick).",
    )
    flags.DEFINE_list("tiling_sizes", None, "LR sizes WxH of the tiling part (default 2040x1356,1020x678).")
    flags.DEFINE_list(
        "tiling_max_megapixels",
        None,
        "Tile budgets to measure, output megapixels per network call (default: the predictor's "
        "default, 1; 0.02 with --quick).",
    )
    flags.DEFINE_string("tiling_child", None, "Internal: run one tiled upscale of this WxH in this process.")


FLAGS = flags.FLAGS

# Tiny model options of --quick.
TINY_OPTIONS = {
    "btsrn": dict(low_blocks=1, high_blocks=1, width=8, bottleneck=4),
    "edsr_baseline": dict(num_blocks=1, num_features=8),
}
# The training part: (model, scale, global batch) as the release / EDSR paper train them.
TRAINING_SETUPS = [("btsrn", 2, 32), ("edsr_baseline", 2, 16)]
POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16"}
TARGETS = {
    "fp32_percent_of_peak": 85.0,
    "bf16_speedup": 1.8,
    "pipeline_ratio": 0.95,
    "tiling_peak_gb": 4.0,
    "tiling_linearity": 1.15,
}


# ------------------------------------------------------------------------------- measuring


def interleaved(fns, args, warmup, repeats):
    """{name: best, median and every call's seconds} of several functions called in turn, so that
    all see the same machine: `warmup` untimed calls each, then `repeats` timed rounds.

    TF runs eager calls synchronously on CPU, so a call returns when its result is computed.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn(*args)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(*args)
            times[name].append(time.perf_counter() - start)
    return {
        name: {"best_s": min(t), "median_s": statistics.median(t), "times_s": [round(x, 4) for x in t]}
        for name, t in times.items()
    }


def time_calls(fn, args, warmup, repeats):
    """Best and median seconds of `repeats` calls of fn(*args) after `warmup` calls."""
    return interleaved({"fn": fn}, args, warmup, repeats)["fn"]


def cpu_ticks():
    """(busy, total) jiffies of the whole machine from /proc/stat, or None off Linux."""
    try:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def own_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime


@contextlib.contextmanager
def cpu_share(record):
    """Writes into `record` the share of all CPU time that other processes used meanwhile (0..1)."""
    before, own_before = cpu_ticks(), own_cpu_seconds()
    yield
    after, own_after = cpu_ticks(), own_cpu_seconds()
    if before and after:
        hertz = os.sysconf("SC_CLK_TCK")
        busy, total = after[0] - before[0], after[1] - before[1]
        others = busy - (own_after - own_before) * hertz
        record["other_cpu_share"] = round(max(0.0, others) / total, 3) if total else None


def conv_gflop(graph):
    """GFLOP of the convolutions of a traced graph: 2 x MACs of Conv2D and Conv2DBackpropInput."""
    macs = 0
    for op in graph.get_operations():
        if op.type == "Conv2D":  # output [n, h, w, out] x kernel [kh, kw, in, out] / out
            kernel = op.inputs[1].shape
            macs += op.outputs[0].shape.num_elements() * kernel[0] * kernel[1] * kernel[2]
        elif (
            op.type == "Conv2DBackpropInput"
        ):  # a transposed conv: input [n, h, w, in], kernel [kh, kw, out, in]
            kernel = op.inputs[1].shape
            macs += op.inputs[2].shape.num_elements() * kernel[0] * kernel[1] * kernel[2]
    return 2 * macs / 1e9


def dtype_census(graph):
    """How many convolutions run in bfloat16, and the Cast ops of the traced graph: all of them,
    and those of activations (the rest cast weights when they are read, a few KB each)."""
    import tensorflow as tf

    convs = [op for op in graph.get_operations() if op.type in ("Conv2D", "Conv2DBackpropInput")]
    casts = [op for op in graph.get_operations() if op.type == "Cast"]
    return {
        "convolutions": len(convs),
        "bf16_convolutions": sum(op.get_attr("T") == tf.bfloat16 for op in convs),
        "casts": len(casts),
        "activation_casts": sum(op.inputs[0].op.type not in ("ReadVariableOp", "Const") for op in casts),
    }


@contextlib.contextmanager
def precision(name):
    """Builds models under the Keras policy of `name` ('fp32' or 'bf16'); restores float32 after."""
    import keras

    keras.mixed_precision.set_global_policy(POLICIES[name])
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def parse_model(text):
    name, _, scale = text.partition(":")
    if not scale.isdigit():
        raise ValueError(f"--models: {text!r} is not name:scale (e.g. btsrn:2)")
    return name, int(scale)


def parse_size(text):
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise ValueError(f"--tiling_sizes: {text!r} is not WxH (e.g. 2040x1356)")
    return int(width), int(height)


def random_image(shape, seed=0):
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


# ------------------------------------------------------------------------------------ peak


# name -> (input channels, output channels, kernel size). conv3x3_128 is the machine's conv peak
# (the reference); the others are the shapes the models use most, for what limits them.
CONV_KERNELS = {
    "conv3x3_128": (128, 128, 3),
    "conv3x3_64": (64, 64, 3),  # EDSR-baseline's body
    "conv3x3_64to128": (64, 128, 3),  # BTSRN's 3x3 ('filt')
    "conv1x1_128to64": (128, 64, 1),  # BTSRN's 1x1 ('proj')
}


def peak(settings):
    """GFLOP/s of SAME convolutions (1 x side x side) and of a square matmul, fp32 and bf16."""
    import tensorflow as tf

    side, size = settings["peak_conv_side"], settings["peak_matmul_size"]
    conv = tf.function(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"))
    matmul = tf.function(tf.matmul)
    results = {}
    for dtype_name, dtype in (("fp32", tf.float32), ("bf16", tf.bfloat16)):
        cases = []
        for kernel, (c_in, c_out, k) in CONV_KERNELS.items():
            x = tf.cast(tf.random.stateless_normal([1, side, side, c_in], [0, 1]), dtype)
            w = tf.cast(tf.random.stateless_normal([k, k, c_in, c_out], [0, 2]) * 0.03, dtype)
            cases.append((kernel, conv, (x, w), 2 * side * side * c_in * c_out * k * k / 1e9))
        a = tf.cast(tf.random.stateless_normal([size, size], [0, 3]), dtype)
        cases.append(("matmul", matmul, (a, a), 2 * size**3 / 1e9))
        for kernel, fn, args, gflop in cases:
            timing = time_calls(fn, args, settings["warmup"], settings["repeats"])
            results.setdefault(kernel, {})[dtype_name] = {
                "gflop": round(gflop, 3),
                **timing,
                "best_gflops": round(gflop / timing["best_s"], 1),
                "median_gflops": round(gflop / timing["median_s"], 1),
            }
    for kernel, (c_in, c_out, k) in CONV_KERNELS.items():
        results[kernel]["shape"] = {"input": [1, side, side, c_in], "kernel": [k, k, c_in, c_out]}
    results["matmul"]["shape"] = [size, size]
    return results


# ------------------------------------------------------------------------------- inference


def inference_function(name, scale, options, precision_name, lr_shape, jit_compile=False):
    """A tf.function (fixed uint8 input signature) of sr_tf's uint8 -> uint8 inference model."""
    import tensorflow as tf

    from sr_tf import models

    with precision(precision_name):
        network = models.build_model(name, scale, **options)
        model = models.build_inference_model(network, name, scale)
    signature = [tf.TensorSpec((1, *lr_shape, 3), tf.uint8, name="lr")]
    return tf.function(
        lambda lr: model(lr, training=False), input_signature=signature, jit_compile=jit_compile
    )


def time_inference(fn, lr_shape, settings):
    """Timing, FLOPs and dtype census of an inference tf.function on a random LR image."""
    graph = fn.get_concrete_function().graph
    gflop = conv_gflop(graph)
    lr = random_image((1, *lr_shape, 3))
    timing = time_calls(fn, (lr,), settings["warmup"], settings["repeats"])
    return {
        "gflop": round(gflop, 3),
        **timing,
        "best_gflops": round(gflop / timing["best_s"], 1),
        "median_gflops": round(gflop / timing["median_s"], 1),
        **dtype_census(graph),
    }


def inference(settings, peak_results=None):
    """Each model's inference time and GFLOP/s, fp32 and bf16, and the bf16 speed-up."""
    import keras

    lr_shape = (settings["lr_size"], settings["lr_size"])
    rows = []
    for name, scale in settings["models"]:
        for precision_name in settings["precisions"]:
            keras.utils.set_random_seed(0)
            fn = inference_function(name, scale, settings["options"].get(name, {}), precision_name, lr_shape)
            row = {"model": name, "scale": scale, "precision": precision_name, "lr_shape": list(lr_shape)}
            row.update(time_inference(fn, lr_shape, settings))
            megapixels = lr_shape[0] * lr_shape[1] * scale * scale / 1e6
            row["output_megapixels"] = megapixels
            row["best_mp_per_s"] = round(megapixels / row["best_s"], 3)
            row["median_mp_per_s"] = round(megapixels / row["median_s"], 3)
            if peak_results:
                conv_peak = peak_results["conv3x3_128"][precision_name]
                row["best_percent_of_peak"] = round(100 * row["best_gflops"] / conv_peak["best_gflops"], 1)
                row["median_percent_of_peak"] = round(
                    100 * row["median_gflops"] / conv_peak["median_gflops"], 1
                )
            rows.append(row)
            keras.backend.clear_session()
    return {"rows": rows, "bf16_speedup": bf16_speedups(rows)}


def bf16_speedups(rows):
    """fp32 seconds / bf16 seconds per model (best and median)."""
    by_key = {(r["model"], r["scale"], r["precision"]): r for r in rows}
    speedups = []
    for (name, scale, precision_name), fp32 in by_key.items():
        bf16 = by_key.get((name, scale, "bf16"))
        if precision_name == "fp32" and bf16:
            speedups.append(
                {
                    "model": name,
                    "scale": scale,
                    "best": round(fp32["best_s"] / bf16["best_s"], 3),
                    "median": round(fp32["median_s"] / bf16["median_s"], 3),
                }
            )
    return speedups


# -------------------------------------------------------------------------------- training


def train_step_for(name, scale, batch_size, options):
    """The project's train step (make_train_step) for a fresh network and the recipe's optimizer."""
    import tensorflow as tf

    from sr_tf import models
    from sr_tf.training import recipes
    from sr_tf.training.step import make_train_step

    recipe = models.get_spec(name).recipe("release")
    strategy = tf.distribute.get_strategy()
    network = models.build_model(name, scale, **options)
    optimizer = recipes.make_optimizer(recipe, recipe.learning_rate)
    optimizer.build(network.trainable_variables)
    return make_train_step(strategy, network, optimizer, name, recipe.loss, scale, batch_size)


def training(settings):
    """Steps/s of the real pipeline against one cached batch, in alternating rounds."""
    import keras

    from sr_tf.data import pipeline, sources
    from sr_tf.training import recipes

    rows = []
    for name, scale, batch_size in settings["training_setups"]:
        keras.utils.set_random_seed(0)
        pairs = sources.open_pairs(settings["train_data"], scale, "train")
        patches = recipes.patch_settings(name)
        dataset = pipeline.training_dataset(pairs, batch_size, **patches, seed=0, cache="memory")
        step = train_step_for(name, scale, batch_size, settings["options"].get(name, {}))
        feeds = {"pipeline": iter(dataset), "cached_batch": iter(dataset.take(1).cache().repeat())}
        seconds = {feed: 0.0 for feed in feeds}
        for iterator in feeds.values():  # tracing, pipeline buffers
            for _ in range(settings["warmup"]):
                float(step(iterator))
        rounds, steps = settings["training_rounds"], settings["train_steps"]
        for _ in range(rounds):  # alternate, so that slow spells of the machine hit both feeds
            for feed, iterator in feeds.items():
                start = time.perf_counter()
                for _ in range(steps):
                    float(step(iterator))
                seconds[feed] += time.perf_counter() - start
        rates = {feed: rounds * steps / seconds[feed] for feed in feeds}
        rows.append(
            {
                "model": name,
                "scale": scale,
                "batch_size": batch_size,
                **patches,
                "steps_timed": rounds * steps,
                "pipeline_steps_per_s": round(rates["pipeline"], 4),
                "cached_steps_per_s": round(rates["cached_batch"], 4),
                "ratio": round(rates["pipeline"] / rates["cached_batch"], 3),
            }
        )
        keras.backend.clear_session()
    return {"rows": rows}


# ---------------------------------------------------------------------------------- tiling


def read_status_kib(field):
    """A memory field (VmRSS, VmHWM: peak resident) of this process in KiB, None off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def tiled_upscale_once(width, height, options, max_megapixels):
    """In this process: BTSRN x4 upscales a random width x height LR image with the project's
    tiling. Returns seconds, the tile plan and peak resident memory before and after."""
    import keras

    from sr_tf import models
    from sr_tf.inference import tiling
    from sr_tf.inference.options import DEFAULT_MAX_MEGAPIXELS, InferenceOptions
    from sr_tf.inference.predictor import network_predictor

    scale = 4
    keras.utils.set_random_seed(0)
    predictor = network_predictor(models.build_model("btsrn", scale, **options), "btsrn", scale, "benchmark")
    budget = DEFAULT_MAX_MEGAPIXELS if max_megapixels is None else max_megapixels
    overlap = predictor.radii[scale]
    tile = tiling.auto_tile(height, width, scale, overlap, budget)
    lr = random_image((height, width, 3))
    options = InferenceOptions(max_megapixels=budget)
    predictor.upscale(lr[: min(height, 64), : min(width, 64)], scale, options)  # trace once
    before_kib = read_status_kib("VmHWM")
    start = time.perf_counter()
    sr = predictor.upscale(lr, scale, options)
    seconds = time.perf_counter() - start
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's resident size at fork time.
    peak_kib = read_status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tiles = len(tiling.plan_tiles(height, width, tile, overlap)) if tile else 1
    return {
        "lr_size": [width, height],
        "output_megapixels": sr.shape[0] * sr.shape[1] / 1e6,
        "seconds": seconds,
        "tile": tile,
        "overlap": overlap,
        "tiles": tiles,
        "max_megapixels": budget,
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "peak_rss_before_upscale_mb": round(before_kib / 1024, 1) if before_kib else None,
    }


def tiling_part(settings):
    """One child process per budget and size (peak memory only grows within a process)."""
    runs = []
    for budget in settings["tiling_max_megapixels"]:
        rows = []
        for width, height in settings["tiling_sizes"]:
            command = [
                sys.executable,
                os.path.abspath(__file__),
                f"--tiling_child={width}x{height}",
                f"--tiling_max_megapixels={budget}",
            ]
            if settings["quick"]:
                command.append("--quick")
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"the tiling child {' '.join(command)} failed:\n{done.stderr[-3000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["seconds_per_megapixel"] = row["seconds"] / row["output_megapixels"]
            rows.append(row)
        run = {"max_megapixels": budget, "rows": rows}
        if len(rows) >= 2:
            # > 1: the first (larger) image costs more per output pixel than the second.
            run["seconds_per_megapixel_ratio"] = round(
                rows[0]["seconds_per_megapixel"] / rows[1]["seconds_per_megapixel"], 3
            )
        runs.append(run)
    return {"model": "btsrn", "scale": 4, "precision": "fp32", "runs": runs}


# ------------------------------------------------------------------------------------- XLA


def xla(settings):
    """fp32 inference with and without jit_compile=True, where XLA compiles the model."""
    import keras
    import tensorflow as tf

    lr_shape = (settings["lr_size"], settings["lr_size"])
    lr = random_image((1, *lr_shape, 3))
    rows = []
    for name, scale in settings["models"]:
        options = settings["options"].get(name, {})
        row = {"model": name, "scale": scale, "precision": "fp32"}
        keras.utils.set_random_seed(0)
        graph_fn = inference_function(name, scale, options, "fp32", lr_shape)
        keras.utils.set_random_seed(0)
        xla_fn = inference_function(name, scale, options, "fp32", lr_shape, jit_compile=True)
        try:
            start = time.perf_counter()
            xla_out = xla_fn(lr)
            row["xla_first_call_s"] = round(time.perf_counter() - start, 3)
        except (tf.errors.OpError, ValueError) as error:
            row.update(compiles=False, error=str(error).splitlines()[0][:300])
            rows.append(row)
            continue
        row["compiles"] = True
        row["max_abs_difference"] = int(
            abs(xla_out.numpy().astype(int) - graph_fn(lr).numpy().astype(int)).max()
        )
        timings = interleaved(
            {"graph": graph_fn, "xla": xla_fn}, (lr,), settings["warmup"], settings["repeats"]
        )
        for kind, timing in timings.items():
            row[f"{kind}_best_s"] = timing["best_s"]
            row[f"{kind}_median_s"] = timing["median_s"]
        row["xla_speedup"] = round(row["graph_median_s"] / row["xla_median_s"], 3)
        row["faster"] = "xla" if row["xla_speedup"] > 1 else "graph"
        rows.append(row)
        keras.backend.clear_session()
    return {"rows": rows}


# ------------------------------------------------------------------------------ activation


@contextlib.contextmanager
def keras_leaky_relu():
    """Builds BTSRN with keras.layers.LeakyReLU activations, as sr_tf did before UnfusedLeakyReLU."""
    import keras

    from sr_tf.models import blocks, btsrn

    def plain_lrelu(x):
        return keras.layers.LeakyReLU(negative_slope=blocks.LEAKY_SLOPE)(x)

    original = blocks.lrelu
    blocks.lrelu = btsrn.lrelu = plain_lrelu
    try:
        yield
    finally:
        blocks.lrelu = btsrn.lrelu = original


def activation_part(settings):
    """BTSRN x2 with UnfusedLeakyReLU against keras.layers.LeakyReLU: inference and training."""
    import keras
    import numpy as np
    import tensorflow as tf

    options = settings["options"].get("btsrn", {})
    lr_shape = (settings["lr_size"], settings["lr_size"])
    lr = random_image((1, *lr_shape, 3))
    rows = []
    for precision_name in settings["precisions"]:
        keras.utils.set_random_seed(0)
        with keras_leaky_relu():
            before = inference_function("btsrn", 2, options, precision_name, lr_shape)
        keras.utils.set_random_seed(0)
        after = inference_function("btsrn", 2, options, precision_name, lr_shape)
        difference = np.abs(before(lr).numpy().astype(int) - after(lr).numpy().astype(int)).max()
        timing = interleaved(
            {"keras": before, "unfused": after}, (lr,), settings["warmup"], settings["repeats"]
        )
        rows.append(
            {
                "what": "inference",
                "precision": precision_name,
                "max_abs_difference": int(difference),
                **{f"{k}_{m}": v[m] for k, v in timing.items() for m in ("best_s", "median_s")},
                "speedup_median": round(timing["keras"]["median_s"] / timing["unfused"]["median_s"], 3),
            }
        )
        keras.backend.clear_session()

    _, scale, batch_size = settings["training_setups"][0]
    lr_batch = tf.constant(random_image((batch_size, 108 // scale, 108 // scale, 3)))
    hr_batch = tf.constant(random_image((batch_size, 108, 108, 3), seed=1))
    steps = {}
    for name in ("keras", "unfused"):
        keras.utils.set_random_seed(0)
        with keras_leaky_relu() if name == "keras" else contextlib.nullcontext():
            step = train_step_for("btsrn", scale, batch_size, options)
        batches = iter(tf.data.Dataset.from_tensors((lr_batch, hr_batch)).repeat())
        steps[name] = lambda step=step, batches=batches: float(step(batches))
    timing = interleaved(steps, (), settings["warmup"], settings["train_steps"] * settings["training_rounds"])
    rows.append(
        {
            "what": "training step",
            "precision": "fp32",
            "batch_size": batch_size,
            **{f"{k}_{m}": v[m] for k, v in timing.items() for m in ("best_s", "median_s")},
            "speedup_median": round(timing["keras"]["median_s"] / timing["unfused"]["median_s"], 3),
        }
    )
    return {"model": "btsrn", "scale": 2, "rows": rows}


# ------------------------------------------------------------------------------ the report


def machine_info():
    import keras
    import numpy as np
    import tensorflow as tf

    cpu = {}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU family", "Model", "CPU(s)", "Thread(s) per core"):
                cpu[key.strip()] = value.strip()
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or "default",
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads() or "default",
        "thread_environment": {
            k: v
            for k, v in os.environ.items()
            if k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
        },
        "load_average_start": list(os.getloadavg()),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def settings_from_flags():
    quick = FLAGS.quick
    unknown = sorted(set(FLAGS.parts) - set(PARTS))
    if unknown:
        raise app.UsageError(f"--parts: unknown part(s) {unknown}; choose from {', '.join(PARTS)}")
    bad = sorted(set(FLAGS.precisions) - set(POLICIES))
    if bad:
        raise app.UsageError(f"--precisions: unknown {bad}; choose from fp32, bf16")
    try:
        model_list = [parse_model(m) for m in FLAGS.models]
        sizes = [
            parse_size(s)
            for s in FLAGS.tiling_sizes or (["96x64", "48x32"] if quick else ["2040x1356", "1020x678"])
        ]
    except ValueError as error:
        raise app.UsageError(str(error)) from error

    try:
        budgets = [float(b) for b in FLAGS.tiling_max_megapixels or (["0.02"] if quick else ["1"])]
    except ValueError as error:
        raise app.UsageError(f"--tiling_max_megapixels: {error}") from error

    def pick(value, full, small):
        return value if value is not None else (small if quick else full)

    return {
        "parts": list(FLAGS.parts),
        "quick": quick,
        "models": model_list,
        "precisions": list(FLAGS.precisions),
        "options": TINY_OPTIONS if quick else {},
        "lr_size": pick(FLAGS.lr_size, 256, 24),
        "repeats": pick(FLAGS.repeats, 7, 2),
        "warmup": pick(FLAGS.warmup, 2, 1),
        "peak_conv_side": 32 if quick else 256,
        "peak_matmul_size": 256 if quick else 4096,
        "train_data": FLAGS.train_data,
        "training_setups": [(n, s, 4) for n, s, _ in TRAINING_SETUPS] if quick else TRAINING_SETUPS,
        "train_steps": pick(FLAGS.train_steps, 4, 1),
        "training_rounds": 1 if quick else 3,
        "tiling_sizes": sizes,
        "tiling_max_megapixels": budgets,
    }


def run(settings):
    """Runs the chosen parts in order; returns the results dictionary."""
    results = {
        "machine": machine_info(),
        "settings": {k: v for k, v in settings.items() if k != "options"}
        | {"model_options": settings["options"]},
    }
    measure = {
        "peak": lambda: peak(settings),
        "inference": lambda: inference(settings, results.get("peak")),
        "training": lambda: training(settings),
        "tiling": lambda: tiling_part(settings),
        "xla": lambda: xla(settings),
        "activation": lambda: activation_part(settings),
    }
    for part in PARTS:  # in this order, whatever the order of --parts
        if part in settings["parts"]:
            with cpu_share(record := {}):
                results[part] = measure[part]()
            results[part].update(record)
    results["machine"]["load_average_end"] = list(os.getloadavg())
    results["targets"] = targets(results)
    return results


def targets(results):
    """The issue's targets, each with the measured value and whether it is met."""
    checks = []

    def check(name, value, target, at_least=True):
        met = value >= target if at_least else value <= target
        checks.append(
            {"target": name, "value": value, "goal": f"{'>=' if at_least else '<='} {target}", "met": met}
        )

    for row in results.get("inference", {}).get("rows", []):
        if row["precision"] == "fp32" and "best_percent_of_peak" in row:
            check(
                f"{row['model']} x{row['scale']} fp32 % of conv peak (best)",
                row["best_percent_of_peak"],
                TARGETS["fp32_percent_of_peak"],
            )
    for speedup in results.get("inference", {}).get("bf16_speedup", []):
        check(
            f"{speedup['model']} x{speedup['scale']} bf16 speed-up (best)",
            speedup["best"],
            TARGETS["bf16_speedup"],
        )
    for row in results.get("training", {}).get("rows", []):
        check(
            f"{row['model']} x{row['scale']} pipeline / cached steps/s",
            row["ratio"],
            TARGETS["pipeline_ratio"],
        )
    for run in results.get("tiling", {}).get("runs", []):
        for row in run["rows"]:
            check(
                f"tiling {row['lr_size'][0]}x{row['lr_size'][1]} ({run['max_megapixels']} MP tiles) "
                "peak RSS (GB)",
                round(row["peak_rss_mb"] / 1024, 2),
                TARGETS["tiling_peak_gb"],
                at_least=False,
            )
        if "seconds_per_megapixel_ratio" in run:  # linear time: the large image costs no more per pixel
            check(
                f"tiling ({run['max_megapixels']} MP tiles) s/MP of the first size / the second",
                run["seconds_per_megapixel_ratio"],
                TARGETS["tiling_linearity"],
                at_least=False,
            )
    return checks


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def report(results):
    """The results as markdown tables."""
    out = []
    machine = results["machine"]
    out.append(
        f"Machine: {machine['cpu'].get('Model name', '?')} (family {machine['cpu'].get('CPU family', '?')}, "
        f"model {machine['cpu'].get('Model', '?')}), {machine['cores']} cores; TF {machine['tensorflow']}, "
        f"Keras {machine['keras']}; "
        f"load average {machine['load_average_start']} -> {machine['load_average_end']}"
    )
    if "peak" in results:
        p = results["peak"]
        rows = [
            (
                kernel,
                dtype,
                v["gflop"],
                f"{v['best_s']:.4f}",
                f"{v['median_s']:.4f}",
                v["best_gflops"],
                v["median_gflops"],
            )
            for kernel in (*CONV_KERNELS, "matmul")
            for dtype, v in p[kernel].items()
            if dtype in POLICIES
        ]
        out += [
            "",
            f"Peak (other processes' CPU share {p.get('other_cpu_share')})",
            table(["kernel", "dtype", "GFLOP", "best s", "median s", "best GFLOP/s", "median GFLOP/s"], rows),
        ]
    if "inference" in results:
        inf = results["inference"]
        rows = [
            (
                f"{r['model']} x{r['scale']}",
                r["precision"],
                r["gflop"],
                f"{r['best_s']:.3f}",
                f"{r['median_s']:.3f}",
                r["best_mp_per_s"],
                r["best_gflops"],
                r.get("best_percent_of_peak", "-"),
                f"{r['bf16_convolutions']}/{r['convolutions']}",
                f"{r['activation_casts']}/{r['casts']}",
            )
            for r in inf["rows"]
        ]
        out += [
            "",
            f"Inference, {results['settings']['lr_size']}^2 LR, uint8 -> uint8 "
            f"(other processes' CPU share {inf.get('other_cpu_share')})",
            table(
                [
                    "model",
                    "precision",
                    "GFLOP",
                    "best s",
                    "median s",
                    "MP/s (best)",
                    "GFLOP/s (best)",
                    "% conv peak",
                    "bf16 convs",
                    "activation/all casts",
                ],
                rows,
            ),
        ]
        rows = [(f"{s['model']} x{s['scale']}", s["best"], s["median"]) for s in inf["bf16_speedup"]]
        if rows:
            out += ["", table(["model", "bf16 speed-up (best)", "(median)"], rows)]
    if "training" in results:
        tr = results["training"]
        rows = [
            (
                f"{r['model']} x{r['scale']}",
                r["batch_size"],
                r["steps_timed"],
                r["pipeline_steps_per_s"],
                r["cached_steps_per_s"],
                r["ratio"],
            )
            for r in tr["rows"]
        ]
        out += [
            "",
            f"Training (other processes' CPU share {tr.get('other_cpu_share')})",
            table(["model", "batch", "steps", "pipeline steps/s", "cached batch steps/s", "ratio"], rows),
        ]
    if "tiling" in results:
        tl = results["tiling"]
        rows = [
            (
                run["max_megapixels"],
                f"{r['lr_size'][0]}x{r['lr_size'][1]}",
                f"{r['output_megapixels']:.1f}",
                r["tile"],
                r["tiles"],
                f"{r['seconds']:.1f}",
                f"{r['seconds_per_megapixel']:.3f}",
                r["peak_rss_before_upscale_mb"],
                r["peak_rss_mb"],
            )
            for run in tl["runs"]
            for r in run["rows"]
        ]
        ratios = ", ".join(
            f"{run['max_megapixels']} MP tiles: {run.get('seconds_per_megapixel_ratio')}"
            for run in tl["runs"]
        )
        out += [
            "",
            f"Tiled BTSRN x4, fp32 (other processes' CPU share {tl.get('other_cpu_share')}; "
            f"s/MP of the first size / the second: {ratios})",
            table(
                [
                    "tile budget (MP)",
                    "LR",
                    "output MP",
                    "tile",
                    "tiles",
                    "seconds",
                    "s/MP",
                    "peak RSS before (MB)",
                    "peak RSS (MB)",
                ],
                rows,
            ),
        ]
    if "xla" in results:
        rows = []
        for r in results["xla"]["rows"]:
            if r["compiles"]:
                rows.append(
                    (
                        f"{r['model']} x{r['scale']}",
                        "yes",
                        f"{r['graph_median_s']:.3f}",
                        f"{r['xla_median_s']:.3f}",
                        r["xla_speedup"],
                        r["faster"],
                        r["xla_first_call_s"],
                    )
                )
            else:
                rows.append((f"{r['model']} x{r['scale']}", "no: " + r["error"][:80], "", "", "", "", ""))
        out += [
            "",
            f"XLA, fp32 (other processes' CPU share {results['xla'].get('other_cpu_share')})",
            table(
                [
                    "model",
                    "compiles",
                    "graph median s",
                    "XLA median s",
                    "XLA speed-up",
                    "faster",
                    "XLA first call s",
                ],
                rows,
            ),
        ]
    if "activation" in results:
        act = results["activation"]
        rows = [
            (
                r["what"],
                r["precision"],
                f"{r['keras_best_s']:.3f}",
                f"{r['keras_median_s']:.3f}",
                f"{r['unfused_best_s']:.3f}",
                f"{r['unfused_median_s']:.3f}",
                r["speedup_median"],
                r.get("max_abs_difference", ""),
            )
            for r in act["rows"]
        ]
        out += [
            "",
            f"BTSRN x2: keras LeakyReLU (before) vs UnfusedLeakyReLU (other processes' CPU share "
            f"{act.get('other_cpu_share')})",
            table(
                [
                    "what",
                    "precision",
                    "before best s",
                    "before median s",
                    "after best s",
                    "after median s",
                    "speed-up (median)",
                    "max |uint8 diff|",
                ],
                rows,
            ),
        ]
    if results.get("targets"):
        rows = [
            (t["target"], t["value"], t["goal"], "met" if t["met"] else "MISSED") for t in results["targets"]
        ]
        out += ["", "Targets", table(["target", "value", "goal", ""], rows)]
    return "\n".join(out)


def write_json(path, results):
    """Writes atomically (a temporary file in the same folder, then a rename)."""
    from sr_tf.core.files import write_text_atomically

    write_text_atomically(path, json.dumps(results, indent=2) + "\n")


def main(argv):
    del argv
    from sr_tf.core.console import drop_tensorflow_noise

    drop_tensorflow_noise()  # before TensorFlow loads

    if FLAGS.tiling_child:
        width, height = parse_size(FLAGS.tiling_child)
        options = TINY_OPTIONS["btsrn"] if FLAGS.quick else {}
        budget = float(FLAGS.tiling_max_megapixels[0]) if FLAGS.tiling_max_megapixels else None
        print(json.dumps(tiled_upscale_once(width, height, options, budget)))
        return
    settings = settings_from_flags()
    results = run(settings)
    print(report(results))
    if FLAGS.json:
        write_json(FLAGS.json, results)


if __name__ == "__main__":
    define_flags()
    app.run(main)
