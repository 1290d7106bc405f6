"""Train BTSRN's four residual blocks (or whole networks) for the same time budget and compare them.

    python tools/compare_blocks.py --budget_minutes=10 --logdir=runs/blocks       # the paper's Fig. 4
    python tools/compare_blocks.py --quick --logdir=runs/blocks_quick             # a few minutes on 2 cores
    python tools/compare_blocks.py --models=btsrn,edsr_baseline --budget_minutes=15 --logdir=runs/race \
        --benchmark_dir=../shared/data/benchmark                                  # accuracy per budget

Block comparison: every variant is BTSRN x<scale> with --low_blocks + --high_blocks residual blocks
of --width channels and a --bottleneck (the paper's Fig. 4 uses 128 / 32), one per --blocks entry,
all trained on the same data with the same seed, recipe and time budget. With --models the
variants are whole networks at their full size, each with its own recipe (flags such as
--learning_rate, when given, apply to every variant).

Each variant is trained by `python -m sr_tf.train` in a process of its own (so peak memory is its
own and no TF state is shared) as the run <logdir>/<variant>. It stops once its training steps
took --budget_minutes; start-up, validation and checkpoints are not counted. The tool then writes
  <logdir>/<variant>.log          the training output
  <logdir>/_hparams/<variant>     an HParams session: block, parameters, s/step, peak memory, PSNR
  <logdir>/comparison.md, .json   the table, the command, the settings and the machine
  <logdir>/psnr_by_time.png       validation PSNR against minutes of training, one line per variant
and prints the table. `tensorboard --logdir=<logdir>` overlays the runs (validation/psnr_x2
against steps, psnr_x2_by_seconds against seconds of training, train/loss, train/steps_per_second).
With --benchmark_dir every variant (and bicubic) is also scored on --sets with the evaluation
protocol (Y channel, `scale` pixels shaved). A variant whose run already holds results.json is
reused, not retrained; delete its run directory to train it again.
"""
import dataclasses
import datetime
import json
import os
import pathlib
import shlex
import subprocess
import sys

from absl import app, flags

BLOCKS = ("pconv", "pixelcnn", "gated", "gated_pp")
HPARAMS_DIR = "_hparams"
PLOT_FILE = "psnr_by_time.png"
NO_STEP_LIMIT = 100_000_000  # the budget, not a step count, ends every run

flags.DEFINE_float("budget_minutes", None, "Minutes of training steps per variant (the same for every variant).")
flags.DEFINE_string("logdir", None, "Folder of the comparison: one training run per variant, tables, plot.")
flags.DEFINE_list("blocks", list(BLOCKS), "BTSRN residual blocks to compare.")
flags.DEFINE_list("models", [], "Compare these networks at full size instead, e.g. btsrn,edsr_baseline.")
flags.DEFINE_integer("width", 128, "Block comparison: BTSRN feature channels (paper Fig. 4: 128).")
flags.DEFINE_integer("bottleneck", 32, "Block comparison: channels after the input 1x1 convolution (Fig. 4: 32).")
flags.DEFINE_integer("low_blocks", 6, "Block comparison: blocks at low resolution.")
flags.DEFINE_integer("high_blocks", 4, "Block comparison: blocks at high resolution.")
# Data and recipe, the same for every variant; unset recipe flags take each model's recipe.
flags.DEFINE_string("train_data", "samples", "Training images (a data spec: samples, folder:<dir>, div2k:<root>, ...).")
flags.DEFINE_string("val_data", None, "Validation images; default: the validation split of --train_data.")
flags.DEFINE_integer("val_images", 0, "Validate on the first N validation images only (0: all).")
flags.DEFINE_integer("scale", 2, "Upscaling factor.")
flags.DEFINE_integer("batch_size", None, "Batch size (default: the recipe's, BTSRN 32, EDSR 16).")
flags.DEFINE_integer("hr_patch", None, "HR patch size (default: the recipe's, BTSRN 108).")
flags.DEFINE_enum("patch_mode", None, ["grid", "random"], "Patches (default: the recipe's, BTSRN grid, EDSR random).")
flags.DEFINE_integer("seed", 0, "Seed of weights and patches.")
flags.DEFINE_float("learning_rate", None, "Initial learning rate (default: the recipe's, BTSRN 1e-3, EDSR 1e-4).")
flags.DEFINE_float("lr_decay_factor", None, "Learning-rate factor per decay period (BTSRN 0.618, EDSR 0.5).")
flags.DEFINE_integer("lr_decay_every", None, "Steps per decay period; 0 = one epoch (BTSRN), EDSR 200000.")
flags.DEFINE_integer("steps", None, "Stop a variant after this many steps (default: no limit, the budget decides).")
flags.DEFINE_integer("validate_every", 20, "Steps between validations (the points of the PSNR curves).")
flags.DEFINE_integer("log_every", 5, "Steps between loss and steps/s points.")
flags.DEFINE_string("benchmark_dir", None, "Also score every variant on --sets of this benchmark folder.")
flags.DEFINE_list("sets", ["Set5", "Set14"], "Benchmark sets scored with --benchmark_dir.")
flags.DEFINE_bool("quick", False, "A few minutes on 2 cores: narrow, short networks, small patches, 1 validation image, "
                  "0.5 minutes per variant (flags given explicitly still win).")
FLAGS = flags.FLAGS

QUICK = dict(budget_minutes=0.5, width=32, bottleneck=8, low_blocks=2, high_blocks=1, hr_patch=48, batch_size=8,
             patch_mode="random", val_images=1, validate_every=10)
RECIPE_FLAGS = ("batch_size", "hr_patch", "patch_mode", "learning_rate", "lr_decay_factor", "lr_decay_every")


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str  # the run's folder and the label in tables and plots
    model: str
    options: dict


@dataclasses.dataclass
class Comparison:
    logdir: pathlib.Path
    budget_minutes: float
    variants: list
    scale: int = 2
    train_flags: dict = dataclasses.field(default_factory=dict)  # sr_tf.train flag -> value, for every variant
    benchmark_dir: str = None
    sets: tuple = ("Set5", "Set14")


# -- what to train ------------------------------------------------------------------------------

def block_variants(blocks, width, bottleneck, low_blocks, high_blocks):
    unknown = sorted(set(blocks) - set(BLOCKS))
    if unknown:
        raise ValueError(f"--blocks: unknown block(s) {unknown}; choose from {', '.join(BLOCKS)}")
    shape = dict(width=width, bottleneck=bottleneck, low_blocks=low_blocks, high_blocks=high_blocks)
    return [Variant(block, "btsrn", dict(block=block, **shape)) for block in blocks]


def model_variants(names):
    from sr_tf.models import MODEL_NAMES, family

    for name in names:
        if name not in MODEL_NAMES or family(name) == "mdsr":
            raise ValueError(f"--models: {name!r} is not a single-scale model ({', '.join(MODEL_NAMES[:3])})")
    return [Variant(name, name, {}) for name in names]


def train_command(comparison, variant):
    """The `python -m sr_tf.train` command line that trains one variant."""
    flags_ = {
        "run_dir": comparison.logdir / variant.name,
        "model": variant.model,
        "scale": comparison.scale,
        **variant.options,
        "steps": NO_STEP_LIMIT,
        **comparison.train_flags,
        "max_minutes": comparison.budget_minutes,
        "checkpoint_every": NO_STEP_LIMIT,  # one checkpoint, at the end
    }
    return [sys.executable, "-m", "sr_tf.train", *(f"--{k}={v}" for k, v in flags_.items() if v is not None),
            "--noexport"]


# -- training -----------------------------------------------------------------------------------

def train_variant(comparison, variant):
    """Trains one variant in its own process (unless its run finished before); returns results.json."""
    run_dir = comparison.logdir / variant.name
    results_file = run_dir / "results.json"
    if results_file.is_file():
        print(f"{variant.name}: reusing the finished run {run_dir}", flush=True)
        return json.loads(results_file.read_text())
    log_file = comparison.logdir / f"{variant.name}.log"
    command = train_command(comparison, variant)
    print(f"{variant.name}: training for {comparison.budget_minutes:g} min (log: {log_file})", flush=True)
    with open(log_file, "w") as log:
        log.write(shlex.join(command) + "\n")
        log.flush()
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=environment).returncode
    if status != 0 or not results_file.is_file():
        tail = "".join(log_file.read_text().splitlines(keepends=True)[-15:])
        raise RuntimeError(f"training {variant.name} failed (exit status {status}); see {log_file}:\n{tail}")
    return json.loads(results_file.read_text())


def count_parameters(variant, scale):
    import keras

    from sr_tf import models

    count = models.count_trainable(models.build_model(variant.model, scale, **variant.options))
    keras.backend.clear_session()
    return count


def benchmark_scores(run_dir, benchmark_dir, sets, scale):
    """{set: PSNR} of a run's latest checkpoint (or 'bicubic') with the sets' evaluation protocol."""
    from sr_tf.evaluation import predictor, scoring

    results, _ = scoring.evaluate_all(predictor.load_predictor(str(run_dir)), benchmark_dir, list(sets), [scale])
    return {name: results[name][f"x{scale}"]["psnr"] for name in sets}


# -- reading TensorBoard logs back ----------------------------------------------------------------

def read_scalars(event_dir, tag):
    """[(step, value)] of a scalar written with tf.summary.scalar, read back from the event files."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    accumulator = event_accumulator.EventAccumulator(str(event_dir), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    if tag not in accumulator.Tags()["tensors"]:
        return []
    return [(event.step, float(tensor_util.make_ndarray(event.tensor_proto))) for event in accumulator.Tensors(tag)]


def psnr_by_seconds(comparison, variant):
    return read_scalars(comparison.logdir / variant.name / "logs" / "validation", f"psnr_x{comparison.scale}_by_seconds")


# -- outputs ------------------------------------------------------------------------------------

def summary_row(comparison, variant, results, parameters, scores=None):
    key = f"x{comparison.scale}"
    psnr, bicubic = results["psnr"][key], results["bicubic_psnr"][key]
    row = {
        "variant": variant.name,
        "model": variant.model,
        "block": variant.options.get("block", "pconv" if variant.model == "btsrn" else "-"),
        "parameters": parameters,
        "steps": results["step"],
        "train_seconds": results["train_seconds"],
        "seconds_per_step": results["train_seconds"] / max(results["step"], 1),
        "peak_memory_mb": results["peak_memory_mb"],
        "psnr": psnr,
        "bicubic_psnr": bicubic,
        "psnr_gain": psnr - bicubic,
    }
    if scores:
        row["benchmark_psnr"] = scores
    return row


def write_hparams_sessions(comparison, rows):
    """One HParams session per variant under <logdir>/_hparams: the block (or model), its parameters
    as hyper-parameters; step time, peak memory, steps and PSNR as metrics (scalars of the session)."""
    import shutil

    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    root = comparison.logdir / HPARAMS_DIR
    shutil.rmtree(root, ignore_errors=True)  # ours alone; rewritten whole so sessions are never stale
    metrics = hparams_metrics(comparison, rows)
    with tf.summary.create_file_writer(str(root)).as_default():
        hp.hparams_config(
            hparams=[hp.HParam("variant"), hp.HParam("model"), hp.HParam("block"), hp.HParam("parameters"),
                     hp.HParam("budget_minutes")],
            metrics=[hp.Metric(tag, display_name=label) for tag, label in metrics],
        )
    for row in rows:
        writer = tf.summary.create_file_writer(str(root / row["variant"]))
        with writer.as_default(step=row["steps"]):
            hp.hparams({"variant": row["variant"], "model": row["model"], "block": row["block"],
                        "parameters": row["parameters"], "budget_minutes": comparison.budget_minutes},
                       trial_id=row["variant"])
            for tag, _ in metrics:
                tf.summary.scalar(tag, metric_value(row, tag))
        writer.close()
    return root


def hparams_metrics(comparison, rows):
    """(scalar tag, column title) of every HParams metric."""
    s = comparison.scale
    metrics = [("seconds_per_step", "step time (s/step)"), ("peak_memory_mb", "peak memory (MB)"),
               ("steps", "steps"), (f"psnr_x{s}", f"final PSNR x{s} (dB)"),
               (f"psnr_gain_x{s}", f"PSNR gain over bicubic x{s} (dB)")]
    for name in rows[0].get("benchmark_psnr", {}):
        metrics.append((f"{name.lower()}_psnr_x{s}", f"{name} PSNR x{s} (dB)"))
    return metrics


def metric_value(row, tag):
    if tag.startswith("psnr_gain_"):
        return row["psnr_gain"]
    if tag.startswith("psnr_x"):
        return row["psnr"]
    if tag.endswith(tuple(f"_psnr_x{s}" for s in range(2, 9))):
        return next(v for k, v in row["benchmark_psnr"].items() if tag.startswith(k.lower() + "_"))
    return row[tag]


def markdown_table(comparison, rows, bicubic_scores=None):
    s = comparison.scale
    sets = list(rows[0].get("benchmark_psnr", {}))
    header = ["variant", "parameters", "steps", "s/step", "peak memory (MB)", f"PSNR x{s} (dB)", "gain over bicubic (dB)"]
    header += [f"{name} x{s} (dB)" for name in sets]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["variant"], f"{row['parameters']:,}", str(row["steps"]), f"{row['seconds_per_step']:.3f}",
                 f"{row['peak_memory_mb']:,.0f}", f"{row['psnr']:.3f}", f"{row['psnr_gain']:+.3f}"]
        cells += [f"{row['benchmark_psnr'][name]:.3f}" for name in sets]
        lines.append("| " + " | ".join(cells) + " |")
    bicubic = rows[0]["bicubic_psnr"]
    cells = ["bicubic", "-", "-", "-", "-", f"{bicubic:.3f}", "+0.000"]
    cells += [f"{bicubic_scores[name]:.3f}" for name in sets] if sets else []
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_psnr_by_time(comparison, curves, bicubic_psnr, path):
    """Validation PSNR against minutes of training, one line per variant, bicubic as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6.4, 4.0), dpi=100)
    for name, points in curves.items():
        if points:
            axes.plot([t / 60 for t, _ in points], [v for _, v in points], marker="o", markersize=3, label=name)
    axes.axhline(bicubic_psnr, color="gray", linestyle="--", label="bicubic")
    axes.set_xlabel("minutes of training steps")
    axes.set_ylabel(f"validation PSNR x{comparison.scale} (dB)")
    axes.set_title(f"Same budget ({comparison.budget_minutes:g} min per variant)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    temporary = path.with_name(path.stem + ".tmp" + path.suffix)
    figure.savefig(temporary)
    pyplot.close(figure)
    os.replace(temporary, path)
    return path


def machine():
    """CPU model, cores, TensorFlow version and load average, for the record."""
    import platform

    import tensorflow as tf

    model = platform.processor() or "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": model, "cores": os.cpu_count(), "tensorflow": tf.__version__,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def write_text_atomically(path, text):
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_report(comparison, rows, table, command, machine_before, machine_after, bicubic_scores):
    settings = {"budget_minutes": comparison.budget_minutes, "scale": comparison.scale, **comparison.train_flags}
    report = {"command": command, "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "machine_before": machine_before, "machine_after": machine_after, "settings": settings,
              "variants": {v.name: {"model": v.model, "options": v.options} for v in comparison.variants},
              "rows": rows, "bicubic_benchmark_psnr": bicubic_scores}
    write_text_atomically(comparison.logdir / "comparison.json", json.dumps(report, indent=2) + "\n")
    flags_text = " ".join(f"--{k}={v}" for k, v in settings.items() if v is not None)
    markdown = (
        f"# Same-budget comparison ({report['date']})\n\n{table}\n\n"
        f"- command: `{command}`\n"
        f"- settings: `{flags_text}`\n"
        f"- machine: {machine_before['cpu']}, {machine_before['cores']} cores, TensorFlow {machine_before['tensorflow']}; "
        f"load average {machine_before['load_average']} before, {machine_after['load_average']} after\n"
        "- s/step: training seconds / steps (the first step's tracing included); peak memory: peak resident "
        "memory of the training process (TF runtime, data and validation included)\n"
    )
    write_text_atomically(comparison.logdir / "comparison.md", markdown)


def run_comparison(comparison, command=""):
    """Trains every variant for the same budget, then writes the table, HParams sessions and plot."""
    comparison.logdir.mkdir(parents=True, exist_ok=True)
    machine_before = machine()
    results = {v.name: train_variant(comparison, v) for v in comparison.variants}
    machine_after = machine()
    rows, bicubic_scores = [], None
    if comparison.benchmark_dir:
        bicubic_scores = benchmark_scores("bicubic", comparison.benchmark_dir, comparison.sets, comparison.scale)
    for variant in comparison.variants:
        scores = None
        if comparison.benchmark_dir:
            scores = benchmark_scores(comparison.logdir / variant.name, comparison.benchmark_dir, comparison.sets,
                                      comparison.scale)
        rows.append(summary_row(comparison, variant, results[variant.name], count_parameters(variant, comparison.scale),
                                scores))
    write_hparams_sessions(comparison, rows)
    curves = {v.name: psnr_by_seconds(comparison, v) for v in comparison.variants}
    plot_psnr_by_time(comparison, curves, rows[0]["bicubic_psnr"], comparison.logdir / PLOT_FILE)
    table = markdown_table(comparison, rows, bicubic_scores)
    write_report(comparison, rows, table, command, machine_before, machine_after, bicubic_scores)
    return rows, table


# -- the command --------------------------------------------------------------------------------

def apply_quick_defaults():
    """--quick: QUICK values for every flag not given on the command line."""
    for name, value in QUICK.items():
        if not FLAGS[name].present:
            FLAGS[name].value = value


def comparison_from_flags():
    if FLAGS.quick:
        apply_quick_defaults()
    if FLAGS.budget_minutes is None or FLAGS.budget_minutes <= 0:
        raise app.UsageError("--budget_minutes must be a positive number of minutes (or use --quick)")
    if FLAGS.models:
        shape_flags = [name for name in ("width", "bottleneck", "low_blocks", "high_blocks") if FLAGS[name].present]
        if shape_flags:
            raise app.UsageError(f"--{shape_flags[0]} shapes the block comparison; --models trains full-size networks")
        variants = model_variants(FLAGS.models)
    else:
        variants = block_variants(FLAGS.blocks, FLAGS.width, FLAGS.bottleneck, FLAGS.low_blocks, FLAGS.high_blocks)
    train_flags = {name: FLAGS[name].value for name in ("train_data", "val_data", "val_images", "seed", *RECIPE_FLAGS,
                                                          "validate_every", "log_every")}
    if FLAGS.steps:
        train_flags["steps"] = FLAGS.steps
    return Comparison(pathlib.Path(FLAGS.logdir), FLAGS.budget_minutes, variants, FLAGS.scale, train_flags,
                      FLAGS.benchmark_dir, tuple(FLAGS.sets))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        comparison = comparison_from_flags()
    except ValueError as error:
        raise app.UsageError(str(error))
    command = "python " + shlex.join(sys.argv)
    _, table = run_comparison(comparison, command)
    print(table)
    print(f"\nwritten: {comparison.logdir / 'comparison.md'}, {comparison.logdir / PLOT_FILE}; "
          f"tensorboard --logdir={comparison.logdir}")


if __name__ == "__main__":
    flags.mark_flag_as_required("logdir")
    app.run(main)
