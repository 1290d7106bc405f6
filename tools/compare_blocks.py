"""Train BTSRN's four residual blocks (or whole networks) for the same time budget and compare them.

    python tools/compare_blocks.py --budget_minutes=10 --logdir=runs/blocks       # the paper's Fig. 4
    python tools/compare_blocks.py --quick --logdir=runs/blocks_quick             # a few minutes on 2 cores
    python tools/compare_blocks.py --models=btsrn,edsr_baseline --budget_minutes=15 --logdir=runs/race \
        --benchmark_dir=../shared/data/benchmark                                  # accuracy per budget

Block comparison: every variant is BTSRN x<scale> with --low_blocks + --high_blocks residual blocks
of --width channels and a --bottleneck (the paper's Fig. 4 uses 128 / 32), one per --blocks entry,
all trained on the same data with the same seed, recipe and time budget. With --models the
variants are whole networks at their full size, each with its own recipe (recipe flags, when
given, apply to every variant).

Each variant is trained by `python -m sr_tf.train` in a process of its own (so the peak memory is
its own and no TF state is shared) as the run <logdir>/<variant>. It stops once its training steps
took --budget_minutes; start-up, validation and checkpoints are not counted. The tool writes
  <logdir>/<variant>.log, .load.json  the training output; the load average as the training ended
  <logdir>/<variant>/logs           + the run's HParams session: block, parameters, step time, peak
                                    memory, PSNR (the measured values in logs/comparison)
  <logdir>/comparison.md, .json     the table, the command, the settings and the machine
  <logdir>/psnr_by_time.png         validation PSNR against minutes of training, one line per variant
and prints the table. `tensorboard --logdir=<logdir>` overlays the runs: validation/psnr_x2 against
steps, validation/psnr_x2_by_seconds against seconds of training, train/loss,
train/steps_per_second, and the HParams dashboard. With --benchmark_dir every variant (and
bicubic) is also scored on --sets with the evaluation protocol (benchmark sets: Y channel, `scale`
pixels shaved). A variant whose run already holds results.json is reused, not retrained; delete
its run directory to train it again.
"""

import dataclasses
import datetime
import json
import os
import pathlib
import shlex
import shutil
import statistics
import subprocess
import sys

from absl import app, flags

from sr_tf.commands import cli
from sr_tf.training import config as training_config

BLOCKS = ("pconv", "pixelcnn", "gated", "gated_pp")
# Named experiments: the flags each sets unless given on the command line.
EXPERIMENTS = {
    "blocks": dict(blocks=list(BLOCKS), width=128, bottleneck=32),
    "balance": dict(
        balance=["5+5", "6+4", "7+3", "8+2"], width=128, bottleneck=64
    ),  # Fig. 3; add 6+3, 6+5, 5+4, 7+4, ... for Tables 1-2
}
COMPARISON_GROUP = "comparison"  # <variant>/logs/comparison: the measured values, as scalars
PLOT_FILE = "psnr_by_time.png"
NO_STEP_LIMIT = 100_000_000  # the budget, not a step count, ends every run

flags.DEFINE_float(
    "budget_minutes", None, "Minutes of training steps per variant (the same for every variant)."
)
flags.DEFINE_string(
    "logdir", None, "Folder of the comparison: one training run per variant, the table, the plot."
)
flags.DEFINE_enum(
    "experiment",
    None,
    list(EXPERIMENTS),
    "A named experiment: blocks (the paper's Fig. 4: the four "
    "blocks at 128 / 32, 6 + 4) or balance (Fig. 3, Tables 1-2: low + high blocks with the release's "
    "block and width); sets --blocks / --balance.",
)
flags.DEFINE_list("blocks", list(BLOCKS), "BTSRN residual blocks to compare.")
flags.DEFINE_list(
    "balance",
    [],
    "Compare the two stages' balance instead: low+high block counts, e.g. 6+4,7+3 "
    "(each a BTSRN with --block_for_balance at --width / --bottleneck).",
)
flags.DEFINE_string("block_for_balance", "pconv", "The residual block of every --balance variant.")
flags.DEFINE_list(
    "repeat_seeds",
    [],
    "Train the first variant again with each of these seeds (the run-to-run noise), as <variant>_seed<N>.",
)
flags.DEFINE_list("models", [], "Compare these networks at full size instead, e.g. btsrn,edsr_baseline.")
flags.DEFINE_integer("width", 128, "Block comparison: BTSRN feature channels (paper Fig. 4: 128).")
flags.DEFINE_integer(
    "bottleneck", 32, "Block comparison: channels after the input 1x1 convolution (Fig. 4: 32)."
)
flags.DEFINE_integer("low_blocks", 6, "Block comparison: blocks at low resolution.")
flags.DEFINE_integer("high_blocks", 4, "Block comparison: blocks at high resolution.")
flags.DEFINE_integer("scale", 2, "Upscaling factor.")
# Data and recipe: the same for every variant, defined by sr_tf.train's own flag definitions.
# Unset recipe flags take each model's recipe (--recipe: release or budget).
TRAIN_FLAGS = (
    "train_data",
    "val_data",
    "val_images",
    "seed",
    "recipe",
    "batch_size",
    "hr_patch",
    "patch_mode",
    "learning_rate",
    "lr_decay_factor",
    "lr_decay_every",
    "lr_schedule",
    "warmup_fraction",
    "loss",
    "mixed_precision",
    "steps",
    "validate_every",
    "log_every",
    "budget_clock",
    "checkpoint_every",
)
training_config.define_flags(
    flags.FLAGS, TRAIN_FLAGS, defaults={"validate_every": 20, "log_every": 5, "checkpoint_every": 500}
)
flags.DEFINE_string("benchmark_dir", None, "Also score every variant on --sets of this benchmark folder.")
flags.DEFINE_list("sets", ["Set5", "Set14"], "Benchmark sets scored with --benchmark_dir.")
flags.DEFINE_bool(
    "quick",
    False,
    "A few minutes on 2 cores: narrow, short networks, small patches, one validation "
    "image, 0.5 minutes per variant (flags given explicitly still win).",
)
FLAGS = flags.FLAGS

QUICK = dict(
    budget_minutes=0.5,
    width=32,
    bottleneck=8,
    low_blocks=2,
    high_blocks=1,
    hr_patch=48,
    batch_size=8,
    patch_mode="random",
    val_images=1,
    validate_every=10,
)


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str  # the run's folder, and its label in tables and plots
    model: str
    options: dict
    seed: int = None  # None: --seed


@dataclasses.dataclass
class Comparison:
    logdir: pathlib.Path
    budget_minutes: float
    variants: list
    scale: int = 2
    train_flags: dict = dataclasses.field(
        default_factory=dict
    )  # TrainConfig field -> value, for every variant
    benchmark_dir: str = None
    sets: tuple = ("Set5", "Set14")


# -- what to train ------------------------------------------------------------------------------


def block_variants(blocks, width, bottleneck, low_blocks, high_blocks):
    unknown = sorted(set(blocks) - set(BLOCKS))
    if unknown:
        raise ValueError(f"--blocks: unknown block(s) {unknown}; choose from {', '.join(BLOCKS)}")
    shape = dict(width=width, bottleneck=bottleneck, low_blocks=low_blocks, high_blocks=high_blocks)
    return [Variant(block, "btsrn", dict(block=block, **shape)) for block in blocks]


def balance_variants(balances, block, width, bottleneck):
    variants = []
    for text in balances:
        try:
            low, high = (int(part) for part in text.split("+"))
        except ValueError:
            raise ValueError(f"--balance: {text!r} is not <low blocks>+<high blocks>, e.g. 6+4") from None
        if low < 1 or high < 0:
            raise ValueError(f"--balance: {text!r} needs at least one low-resolution block")
        options = dict(block=block, width=width, bottleneck=bottleneck, low_blocks=low, high_blocks=high)
        variants.append(Variant(f"{low}+{high}", "btsrn", options))
    return variants


def seed_repeats(variant, seeds):
    """The variant again with other seeds, to measure the run-to-run noise."""
    return [
        dataclasses.replace(variant, name=f"{variant.name}_seed{int(seed)}", seed=int(seed)) for seed in seeds
    ]


def model_variants(names):
    single_scale = ("btsrn", "edsr_baseline", "edsr")
    unknown = [name for name in names if name not in single_scale]
    if unknown:
        raise ValueError(f"--models: {unknown} not among the single-scale models {', '.join(single_scale)}")
    return [Variant(name, name, {}) for name in names]


def block_of(variant):
    return variant.options.get("block", "pconv") if variant.model == "btsrn" else "-"


def train_config(comparison, variant):
    """The TrainConfig a variant trains with (recipe defaults not yet filled in)."""
    from sr_tf.training.config import TrainConfig

    return TrainConfig(
        run_dir=str(comparison.logdir / variant.name),
        model=variant.model,
        scale=(comparison.scale,),
        model_options=dict(variant.options),
        max_minutes=comparison.budget_minutes,
        export=False,  # no SavedModel
        **{
            "steps": NO_STEP_LIMIT,
            "checkpoint_every": NO_STEP_LIMIT,
            **{k: v for k, v in comparison.train_flags.items() if v is not None},
            **({} if variant.seed is None else {"seed": variant.seed}),
        },
    )


def train_command(config):
    """`python -m sr_tf.train` with the flags that give `config` (unset fields left to the recipe)."""
    from sr_tf.training.config import config_to_flags

    return [sys.executable, "-m", "sr_tf.train", *config_to_flags(config)]


def describe(comparison, variant):
    """(trainable parameters, HParams values): what the trainer records for the run, plus the
    variant, its block and the budget."""
    import keras

    from sr_tf import models
    from sr_tf.training.trainer import hparams_of

    network = models.build_model(variant.model, comparison.scale, **variant.options)
    values = {
        "variant": variant.name,
        "block": block_of(variant),
        "budget_minutes": comparison.budget_minutes,
        **hparams_of(train_config(comparison, variant).resolved(), network, replicas=1),
    }
    keras.backend.clear_session()
    return values["parameters"], values


# -- training -----------------------------------------------------------------------------------


def train_variant(comparison, variant, hparams):
    """Trains one variant in its own process (unless its run finished before); returns results.json
    and whether it was trained now."""
    from sr_tf.core.files import write_text_atomically

    run_dir = comparison.logdir / variant.name
    results_file = run_dir / "results.json"
    if results_file.is_file():
        print(f"{variant.name}: reusing the finished run {run_dir}", flush=True)
        return json.loads(results_file.read_text()), False
    if not run_dir.exists():
        write_hparams_session(comparison, variant, hparams)
    log_file = comparison.logdir / f"{variant.name}.log"
    command = train_command(train_config(comparison, variant))
    print(f"{variant.name}: training for {comparison.budget_minutes:g} min (log: {log_file})", flush=True)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    with open(log_file, "a") as log:  # a rerun resumes a cut run from its last checkpoint
        log.write(shlex.join(command) + "\n")
        log.flush()
        status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=environment).returncode
    if status != 0 or not results_file.is_file():
        tail = "".join(log_file.read_text().splitlines(keepends=True)[-15:])
        raise RuntimeError(f"training {variant.name} failed (exit status {status}); see {log_file}:\n{tail}")
    # The 5-minute load average as the run ends: about 2 on 2 cores when nothing else competed.
    load = {"load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
    write_text_atomically(comparison.logdir / f"{variant.name}.load.json", json.dumps(load) + "\n")
    return json.loads(results_file.read_text()), True


def load_at_end(comparison, variant):
    """The 5-minute load average recorded when the variant's training ended (None if not recorded)."""
    path = comparison.logdir / f"{variant.name}.load.json"
    return json.loads(path.read_text())["load_average_at_end"][1] if path.is_file() else None


def benchmark_scores(model, benchmark_dir, sets, scale):
    """{set: PSNR} of a run's latest checkpoint (or 'bicubic') with the sets' evaluation protocol."""
    from sr_tf.evaluation import scoring
    from sr_tf.inference import predictor

    results, _ = scoring.evaluate_all(
        predictor.load_predictor(str(model)), benchmark_dir, list(sets), [scale]
    )
    return {name: results[name][f"x{scale}"]["psnr"] for name in sets}


# -- TensorBoard --------------------------------------------------------------------------------


def hparams_metrics(comparison):
    """(group, tag, column title) of every HParams metric; groups are folders under <variant>/logs."""
    s = comparison.scale
    metrics = [
        ("validation", f"psnr_x{s}", f"final PSNR x{s} (dB)"),
        (COMPARISON_GROUP, f"psnr_gain_x{s}", f"gain over bicubic x{s} (dB)"),
        (COMPARISON_GROUP, "seconds_per_step", "step time (s/step)"),
        (COMPARISON_GROUP, "peak_memory_mb", "peak memory (MB)"),
        (COMPARISON_GROUP, "steps", "steps"),
        ("train", "loss", "training loss"),
    ]
    if comparison.benchmark_dir:
        metrics += [
            (COMPARISON_GROUP, f"{name.lower()}_psnr_x{s}", f"{name} PSNR x{s} (dB)")
            for name in comparison.sets
        ]
    return metrics


def write_hparams_session(comparison, variant, hparams):
    """Writes the variant's HParams session into <variant>/logs before its training starts.

    The trainer writes a session of its own into the same folder when it starts. TensorBoard keeps
    the first summary metadata of a tag in a run, reading a run's event files in name (= time)
    order, so this session, written first, is the one the dashboard shows: the trainer's
    hyper-parameters plus variant, block and budget, with the metrics of hparams_metrics().
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(str(comparison.logdir / variant.name / "logs"))
    with writer.as_default():
        hp.hparams_config(
            hparams=[hp.HParam(name) for name in hparams],
            metrics=[
                hp.Metric(tag, group=group, display_name=title)
                for group, tag, title in hparams_metrics(comparison)
            ],
        )
        hp.hparams(hparams, trial_id=variant.name)
    writer.close()


def write_comparison_scalars(comparison, row):
    """The measured values of a variant as scalars in <variant>/logs/comparison (its HParams metrics)."""
    import tensorflow as tf

    folder = comparison.logdir / row["variant"] / "logs" / COMPARISON_GROUP
    shutil.rmtree(folder, ignore_errors=True)  # ours alone: rewritten whole when a finished run is reused
    s = comparison.scale
    values = {
        f"psnr_gain_x{s}": row["psnr_gain"],
        "seconds_per_step": row["seconds_per_step"],
        "peak_memory_mb": row["peak_memory_mb"],
        "steps": row["steps"],
    }
    values.update({f"{name.lower()}_psnr_x{s}": psnr for name, psnr in row.get("benchmark_psnr", {}).items()})
    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default(step=row["steps"]):
        for tag, value in values.items():
            tf.summary.scalar(tag, value)
    writer.close()


def read_scalars(event_dir, tag):
    """[(step, value)] of a scalar written with tf.summary.scalar, read back from the event files."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    accumulator = event_accumulator.EventAccumulator(
        str(event_dir), size_guidance={event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    if tag not in accumulator.Tags()["tensors"]:
        return []
    return [
        (event.step, float(tensor_util.make_ndarray(event.tensor_proto)))
        for event in accumulator.Tensors(tag)
    ]


# -- the table, the plot, the report --------------------------------------------------------------


def steady_seconds_per_step(run_dir, results):
    """Median seconds per step over the logged intervals after the first (which holds the tracing of
    the step function); training seconds / steps when fewer than two intervals were logged."""
    rates = [rate for _, rate in read_scalars(pathlib.Path(run_dir) / "logs" / "train", "steps_per_second")][
        1:
    ]
    if len(rates) < 2:
        return results["train_seconds"] / max(results["step"], 1)
    return float(statistics.median(1 / rate for rate in rates))


def summary_row(comparison, variant, results, parameters, scores=None):
    key = f"x{comparison.scale}"
    psnr, bicubic = results["psnr"][key], results["bicubic_psnr"][key]
    row = {
        "variant": variant.name,
        "model": variant.model,
        "block": block_of(variant),
        "parameters": parameters,
        "steps": results["step"],
        "train_seconds": results["train_seconds"],
        "seconds_per_step": steady_seconds_per_step(comparison.logdir / variant.name, results),
        "peak_memory_mb": results["peak_memory_mb"],
        "psnr": psnr,
        "bicubic_psnr": bicubic,
        "psnr_gain": psnr - bicubic,
        "load_5min_at_end": load_at_end(comparison, variant),
    }
    if scores:
        row["benchmark_psnr"] = scores
    return row


def markdown_table(comparison, rows, bicubic_scores=None):
    s = comparison.scale
    sets = list(bicubic_scores or {})
    header = [
        "variant",
        "parameters",
        "steps",
        "s/step",
        "peak memory (MB)",
        f"validation PSNR x{s} (dB)",
        "gain over bicubic (dB)",
        *(f"{name} x{s} (dB)" for name in sets),
        "load (5 min)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        load = row["load_5min_at_end"]
        cells = [
            row["variant"],
            f"{row['parameters']:,}",
            str(row["steps"]),
            f"{row['seconds_per_step']:.3f}",
            f"{row['peak_memory_mb']:,.0f}",
            f"{row['psnr']:.3f}",
            f"{row['psnr_gain']:+.3f}",
            *(f"{row['benchmark_psnr'][name]:.3f}" for name in sets),
            "-" if load is None else f"{load:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    bicubic = [
        "bicubic",
        "-",
        "-",
        "-",
        "-",
        f"{rows[0]['bicubic_psnr']:.3f}",
        "+0.000",
        *(f"{bicubic_scores[name]:.3f}" for name in sets),
        "-",
    ]
    lines.append("| " + " | ".join(bicubic) + " |")
    return "\n".join(lines)


def plot_psnr_by_time(comparison, curves, bicubic_psnr, path):
    """Validation PSNR against minutes of training, one line per variant, bicubic as a dashed line."""
    from matplotlib.figure import Figure

    from sr_tf.inference.figures import save_figure

    figure = Figure(figsize=(6.4, 4.0), dpi=100)  # no pyplot: no global backend or open-figure state
    axes = figure.subplots()
    for name, points in curves.items():
        axes.plot([t / 60 for t, _ in points], [v for _, v in points], marker="o", markersize=3, label=name)
    axes.axhline(bicubic_psnr, color="gray", linestyle="--", label="bicubic")
    # Down to 1 dB below bicubic, or lower if a curve ends lower; the first, untrained points may fall
    # far lower.
    lowest = min([points[-1][1] for points in curves.values() if points] + [bicubic_psnr - 1.0])
    axes.set_ylim(bottom=lowest - 0.1)
    axes.set_xlabel("minutes of training steps")
    axes.set_ylabel(f"validation PSNR x{comparison.scale} (dB)")
    axes.set_title(f"Validation PSNR for the same budget ({comparison.budget_minutes:g} min each)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    save_figure(figure, path)
    return path


def machine():
    """CPU model, cores, TensorFlow version and load average, for the record."""
    import platform

    import tensorflow as tf

    model = platform.processor() or "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(
            line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")
        )
    except (OSError, StopIteration):
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "tensorflow": tf.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def write_report(comparison, rows, table, command, machines, bicubic_scores, reused=()):
    """comparison.json (everything) and comparison.md (the table, the command, settings and machine)."""
    from sr_tf.core.files import write_text_atomically

    before, after = machines
    settings = {
        "budget_minutes": comparison.budget_minutes,
        "scale": comparison.scale,
        **{k: v for k, v in comparison.train_flags.items() if v is not None},
    }
    date = datetime.datetime.now().isoformat(timespec="seconds")
    report = {
        "command": command,
        "date": date,
        "machine_before": before,
        "machine_after": after,
        "settings": settings,
        "variants": {v.name: {"model": v.model, "options": v.options} for v in comparison.variants},
        "rows": rows,
        "bicubic_benchmark_psnr": bicubic_scores,
        "reused_runs": list(reused),
    }
    write_text_atomically(comparison.logdir / "comparison.json", json.dumps(report, indent=2) + "\n")
    notes = [
        f"command: `{command}`",
        f"settings: `{' '.join(f'--{k}={v}' for k, v in settings.items())}`",
        f"machine: {before['cpu']}, {before['cores']} cores, TensorFlow {before['tensorflow']}; load average "
        f"(1, 5, 15 min) {before['load_average']} before, {after['load_average']} after the training",
        "s/step: median over the logged intervals after the first (which holds the tracing); steps: what the "
        "budget allowed; peak memory: peak resident memory of the training process (TF runtime, data and "
        "validation included); load (5 min): the 5-minute load average as the variant's training ended "
        "(about 2 on 2 cores when nothing else competed for them)",
    ]
    if reused:
        notes.append(f"reused runs, trained by an earlier invocation: {', '.join(reused)}")
    markdown = f"# Same-budget comparison ({date})\n\n{table}\n\n" + "".join(f"- {note}\n" for note in notes)
    write_text_atomically(comparison.logdir / "comparison.md", markdown)


def run_comparison(comparison, command=""):
    """Trains every variant for the same budget, then writes the table, HParams metrics and plot."""
    comparison.logdir.mkdir(parents=True, exist_ok=True)
    described = {v.name: describe(comparison, v) for v in comparison.variants}
    before = machine()
    trained = {v.name: train_variant(comparison, v, described[v.name][1]) for v in comparison.variants}
    after = machine()
    results = {name: result for name, (result, _) in trained.items()}
    reused = [name for name, (_, now) in trained.items() if not now]
    bicubic_scores = None
    if comparison.benchmark_dir:
        bicubic_scores = benchmark_scores(
            "bicubic", comparison.benchmark_dir, comparison.sets, comparison.scale
        )
    rows = []
    for variant in comparison.variants:
        scores = None
        if comparison.benchmark_dir:
            scores = benchmark_scores(
                comparison.logdir / variant.name, comparison.benchmark_dir, comparison.sets, comparison.scale
            )
        rows.append(
            summary_row(comparison, variant, results[variant.name], described[variant.name][0], scores)
        )
        write_comparison_scalars(comparison, rows[-1])
    curves = {
        v.name: read_scalars(
            comparison.logdir / v.name / "logs" / "validation", f"psnr_x{comparison.scale}_by_seconds"
        )
        for v in comparison.variants
    }
    for row in rows:
        row["psnr_by_seconds"] = curves[row["variant"]]  # the plot's points: (seconds of training, PSNR)
    plot_psnr_by_time(comparison, curves, rows[0]["bicubic_psnr"], comparison.logdir / PLOT_FILE)
    table = markdown_table(comparison, rows, bicubic_scores)
    write_report(comparison, rows, table, command, (before, after), bicubic_scores, reused)
    return rows, table


# -- the command --------------------------------------------------------------------------------


def comparison_from_flags():
    for name, value in EXPERIMENTS.get(FLAGS.experiment, {}).items():
        if not FLAGS[name].present:
            FLAGS[name].value = value
    if FLAGS.quick:  # QUICK values for every flag not given on the command line
        for name, value in QUICK.items():
            if not FLAGS[name].present:
                FLAGS[name].value = value
    if FLAGS.budget_minutes is None or FLAGS.budget_minutes <= 0:
        raise ValueError("--budget_minutes must be a positive number of minutes (or use --quick)")
    if FLAGS.validate_every % FLAGS.log_every:  # the trainer's steps/s after a validation assumes it
        raise ValueError(
            f"--validate_every={FLAGS.validate_every} must be a multiple of --log_every={FLAGS.log_every}"
        )
    if FLAGS.models:
        shaped = [
            name for name in ("width", "bottleneck", "low_blocks", "high_blocks") if FLAGS[name].present
        ]
        if shaped:
            raise ValueError(f"--{shaped[0]} shapes the block comparison; --models trains full-size networks")
        variants = model_variants(FLAGS.models)
    elif FLAGS.balance:
        variants = balance_variants(FLAGS.balance, FLAGS.block_for_balance, FLAGS.width, FLAGS.bottleneck)
    else:
        variants = block_variants(
            FLAGS.blocks, FLAGS.width, FLAGS.bottleneck, FLAGS.low_blocks, FLAGS.high_blocks
        )
    variants += seed_repeats(variants[0], FLAGS.repeat_seeds)
    return Comparison(
        pathlib.Path(FLAGS.logdir),
        FLAGS.budget_minutes,
        variants,
        FLAGS.scale,
        {name: FLAGS[name].value for name in TRAIN_FLAGS},
        FLAGS.benchmark_dir,
        tuple(FLAGS.sets),
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        comparison = comparison_from_flags()
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    cli.configure_logging(FLAGS.verbosity if FLAGS["verbosity"].present else None)
    try:
        _, table = run_comparison(comparison, "python " + shlex.join(sys.argv))
    except (ValueError, RuntimeError) as error:  # bad data or recipe flags, a failed training run
        raise SystemExit(f"compare_blocks: error: {error}") from error
    print(table)
    print(
        f"\nwritten: {comparison.logdir / 'comparison.md'}, {comparison.logdir / PLOT_FILE}\n"
        f"tensorboard --logdir={comparison.logdir}"
    )


if __name__ == "__main__":
    flags.mark_flag_as_required("logdir")
    app.run(main)
