"""The training loop: one tf.function step per scale, run by a tf.distribute strategy.

A run directory holds everything (see runs.py). Rerunning the same command resumes from the
latest checkpoint (network, optimizer with its step; the input is replayed to that step). MDSR draws one
scale per step and updates only that scale's branch and the shared layers.
"""

import dataclasses
import json
import math
import os
import pathlib
import resource
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from sr_tf import models
from sr_tf.core import devices as distribute
from sr_tf.core.errors import Interrupted, OutputError
from sr_tf.core.files import check_writable, writing
from sr_tf.data import pairs as pairs_module
from sr_tf.data import pipeline, sources
from sr_tf.training import quantization_aware, recipes, runs, summaries, validation
from sr_tf.training.runs import TrainingError  # noqa: F401  (defined with the run directories, re-exported)
from sr_tf.training.step import make_train_step

# The release cut every image's patch grid twice per epoch (as is and rotated by 90 degrees), so
# its epoch, the period of the 0.618 decay, held two passes over the grid.
GRID_PASSES_PER_EPOCH = 2
UNBOUNDED_STEPS = 10**9  # a run bounded by --max_minutes only


@dataclasses.dataclass
class TrainResult:
    run_dir: str
    step: int
    psnr: dict  # scale -> validation PSNR of the network
    bicubic_psnr: dict  # scale -> validation PSNR of bicubic upscaling
    saved_model: str = ""
    train_seconds: float = 0.0  # wall time of the training steps, over every resume
    peak_memory_mb: float = 0.0  # peak resident memory of this process
    validation_images: str = ""  # what the validation PSNR was measured on

    def to_json(self):
        return {
            "step": self.step,
            "train_seconds": round(self.train_seconds, 3),
            "steps_per_second": round(self.step / self.train_seconds, 4) if self.train_seconds else None,
            "psnr": {f"x{s}": v for s, v in self.psnr.items()},
            "bicubic_psnr": {f"x{s}": v for s, v in self.bicubic_psnr.items()},
            "peak_memory_mb": round(self.peak_memory_mb, 1),
            "saved_model": self.saved_model,
            "validation_images": self.validation_images,
        }


def train(config, exporter=None):
    """Runs (or resumes) the training run `config.run_dir` to its last step; returns a TrainResult.

    `exporter(network, folder)` writes the inference SavedModels at the end when `config.export`
    (the train command passes sr_tf.export.export_scales, unchecked: one per scale, in folder/x<s>
    for several) and returns what it wrote (each with `.scale` and `.path`).
    """
    config = config.resolved()
    check_writable(config.run_dir)  # before any work
    distribute.configure_cpu_replicas(config.cpu_replicas)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(
        {"none": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}[config.mixed_precision]
    )
    trainer = None
    try:
        trainer = Trainer(config)
        return trainer.run(exporter)
    except BaseException as error:
        if trainer is not None and not trainer.started:
            trainer.remove_new_run_dir()  # a failed start leaves nothing behind, wherever it failed
        if isinstance(error, KeyboardInterrupt) and not isinstance(error, Interrupted):
            raise Interrupted(interrupted_message(config, trainer)) from None
        raise
    finally:
        if trainer is not None:
            trainer.lock.release()
        keras.mixed_precision.set_global_policy(previous_policy)


def open_data(flag, spec, scale, split):
    """sources.open_pairs, with errors that name the flag (and for --val_data, how to change it)."""
    try:
        return sources.open_pairs(spec, scale, split)
    except pairs_module.DatasetError as error:
        hint = (
            "; point --val_data at validation images you have (benchmark:<root>:<Set>, folder:<dir>), "
            "or leave it out with --train_data=folder:<dir> to hold out 10 % of those"
            if flag == "val_data"
            else ""
        )
        raise pairs_module.DatasetError(f"--{flag}={spec}: {error}{hint}") from None


def interrupted_message(config, trainer):
    """What Ctrl-C leaves behind and how to go on, in one line."""
    save_dir = trainer.save_dir if trainer is not None else pathlib.Path(config.run_dir)
    latest = runs.latest_checkpoint(save_dir) if save_dir.is_dir() else None
    saved = f"the last checkpoint is step {runs.checkpoint_number(latest)}, rerun the same command to resume"
    if trainer is None or not trainer.started:
        return "interrupted while starting; " + (saved if latest else "nothing was kept")
    if latest:
        return f"interrupted at step {trainer.step}; {saved}"
    return (
        f"interrupted at step {trainer.step}, before the first checkpoint (--checkpoint_every="
        f"{config.checkpoint_every}); rerun the same command to start again"
    )


def cpu_clock():
    """Seconds of this process's CPU time over the cores it may use: on a quiet machine about the
    wall time, on a shared one the share the training actually got."""
    cores = len(os.sched_getaffinity(0))
    return lambda: time.process_time() / cores


class Trainer:
    def __init__(self, config):
        self.config = config
        self.strategy = distribute.make_strategy(config.distribution)
        self.chief = distribute.is_chief(self.strategy)
        self.run_dir = pathlib.Path(config.run_dir)
        # Non-chief workers must take part in saving; they save to a directory of their own.
        task_type, task_id = distribute.task_info()
        self.save_dir = self.run_dir if self.chief else self.run_dir / "workers" / f"{task_type}_{task_id}"
        self.scales = config.scales
        keras.utils.set_random_seed(config.seed)

        self.train_pairs = {
            s: open_data("train_data", config.train_data, s, config.train_split) for s in self.scales
        }
        self.train_pairs, self.val_pairs, self.validation_images = self._validation_pairs()
        self.steps_per_epoch = self._steps_per_epoch()
        self.total_steps = config.steps or config.epochs * self.steps_per_epoch or UNBOUNDED_STEPS
        self.budget_seconds = config.max_minutes * 60 if config.max_minutes else math.inf
        self.clock = cpu_clock() if config.budget_clock == "cpu" else time.perf_counter
        if config.lr_schedule == "cosine":  # set before every step from the budget's progress
            self.schedule = None
            initial_rate = recipes.budget_learning_rate(config.learning_rate, 0.0, config.warmup_fraction)
        else:
            decay_every = config.lr_decay_every or self.steps_per_epoch
            self.schedule = recipes.learning_rate_schedule(
                config.learning_rate, config.lr_decay_factor, decay_every
            )
            initial_rate = self.schedule

        # One process per run directory (per worker folder in a multi-worker run). Training has
        # started once the first step ran; a start that fails before removes what it wrote, when
        # the folder was new (or empty).
        self.started = False
        self.fresh = runs.fresh_start(self.save_dir)
        self.lock = runs.RunLock(self.save_dir).acquire()
        try:
            self._start(config, initial_rate)
        except BaseException:  # released here, not when the garbage collector gets to it
            self.remove_new_run_dir()
            self.lock.release()
            raise

    def remove_new_run_dir(self):
        """Removes what this run wrote into a folder that was new or empty (its own folder must be
        locked by this process); a folder that held a run before is left as it is."""
        if self.lock.file is not None:
            runs.undo_start(self.save_dir, self.fresh)

    def _start(self, config, initial_rate):
        """What needs the run directory's lock: checkpoints, network, optimizer, input, writers."""
        runs.remove_partial_checkpoints(self.save_dir / runs.CHECKPOINT_DIR)
        runs.prepare_run_dir(self.run_dir, config, write=self.chief)
        with self.strategy.scope():
            self.network = models.from_description(config.description)
            self.optimizer = recipes.make_optimizer(
                config.recipe_values, initial_rate, config.mixed_precision
            )
            self.optimizer.build(self.network.trainable_variables)
        self.branches = {s: self._branch(s) for s in self.scales}
        # Iterators over global batches; each replica slices its part. The checkpoint holds no input
        # state: the n-th batch is a function of (seed, n), so a resume rebuilds the pipeline and
        # skips the batches already consumed (--checkpoint_input, exact), or reseeds it (faster for
        # DIV2K-sized sets, not exact).
        latest = tf.train.latest_checkpoint(str(self.save_dir / runs.CHECKPOINT_DIR))
        self.data_seed = config.seed + (
            0 if config.checkpoint_input or not latest else runs.checkpoint_step(latest)
        )
        self.iterators = {}
        self.train_steps = {s: self._make_step(s) for s in self.scales}

        # Wall time spent in training steps, kept in checkpoints so a budget spans resumes.
        self.train_seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        tracked = dict(model=self.network, optimizer=self.optimizer, train_seconds=self.train_seconds)
        self.checkpoint = tf.train.Checkpoint(**tracked)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(self.save_dir / runs.CHECKPOINT_DIR), max_to_keep=config.keep_checkpoints
        )
        with writing(self.run_dir / runs.LOG_DIR):
            self.writers = summaries.Writers(self.run_dir / runs.LOG_DIR, enabled=self.chief)
        self.validator = (
            validation.Validator(self.network, config.model, self.val_pairs, config.val_images)
            if self.chief
            else None
        )

    # -- set-up ---------------------------------------------------------------------------------

    def _steps_per_epoch(self):
        config = self.config
        if config.patch_mode == "grid":
            grid = pipeline.patches_per_epoch(self.train_pairs[self.scales[0]], hr_patch=config.hr_patch)
            patches = GRID_PASSES_PER_EPOCH * grid
            if patches < config.batch_size:
                raise ValueError(
                    f"--train_data={config.train_data} gives {patches} grid patches, fewer than one batch "
                    f"of --batch_size={config.batch_size}"
                )
            return patches // config.batch_size
        return 1000  # EDSR's "epoch": 1000 updates between validations

    def _validation_pairs(self):
        """(train pairs, validation pairs, what the validation images are). A folder without
        --val_data gives up 10 % of its images, chosen by name, for validation; with fewer than 5
        images the validation runs on the training images, and the log, TensorBoard and
        results.json say so."""
        config, train = self.config, self.train_pairs
        if config.val_data or sources.has_validation_split(config.train_data):
            flag, spec = (
                ("val_data", config.val_data) if config.val_data else ("train_data", config.train_data)
            )
            return train, {s: open_data(flag, spec, s, "valid") for s in self.scales}, f"{spec} (validation)"
        split = {s: pairs_module.held_out_split(p) for s, p in train.items()}
        if any(held is None for _, held in split.values()):
            logging.warning(
                "%s: %d images are too few to hold some out and --val_data is not set; "
                "the validation PSNR of this run is a TRAINING-SET PSNR",
                config.train_data,
                len(train[self.scales[0]]),
            )
            return (
                train,
                train,
                f"the training images of {config.train_data} (training-set PSNR, not held out)",
            )
        held = split[self.scales[0]][1]
        logging.info(
            "%s has no validation images: holding out %d of %d for validation (not trained on): %s",
            config.train_data,
            len(held),
            len(train[self.scales[0]]),
            ", ".join(held.names),
        )
        return (
            {s: t for s, (t, _) in split.items()},
            {s: h for s, (_, h) in split.items()},
            f"{len(held)} images held out of {config.train_data}: {', '.join(held.names)}",
        )

    def _branch(self, scale):
        return models.branch(self.network, scale)

    def _dataset(self, scale):
        config = self.config
        return pipeline.training_dataset(
            self.train_pairs[scale],
            config.batch_size,
            mode=config.patch_mode,
            hr_patch=config.hr_patch or None,
            lr_patch=config.lr_patch or None,
            seed=self.data_seed + scale,
            cache=None if config.cache == "none" else config.cache,
        )

    def _make_step(self, scale):
        config = self.config
        return make_train_step(
            self.strategy,
            self.branches[scale],
            self.optimizer,
            config.model,
            config.loss,
            scale,
            config.batch_size,
        )

    # -- the loop -------------------------------------------------------------------------------

    @property
    def step(self):
        return int(self.optimizer.iterations.numpy())

    def restore(self):
        latest = self.manager.latest_checkpoint
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
            logging.info("resumed from %s at step %d", latest, self.step)
        elif self.config.warm_start:
            warm_start(self.network, self.config.warm_start)
        if self.config.quantization_aware:
            self._simulate_int8()
        return bool(latest)

    def _simulate_int8(self):
        """Trains through the network as its int8 file computes (quantization_aware), with the
        input ranges of the run's start."""
        scale = self.scales[0]
        ranges = quantization_aware.run_ranges(self.save_dir, self.network, scale, self.train_pairs[scale])
        logging.info("quantization-aware: %d convolutions see int8 inputs and kernels", len(ranges))
        simulated = quantization_aware.simulated_network(self.network, ranges)
        self.branches = {scale: models.branch(simulated, scale)}
        self.train_steps = {scale: self._make_step(scale)}

    def start_input(self):
        """The input iterators, positioned after the batches the restored steps consumed."""
        consumed = (
            self.batches_consumed(self.step) if self.config.checkpoint_input else {s: 0 for s in self.scales}
        )
        for scale in self.scales:
            dataset = self._dataset(scale)
            if consumed[scale]:
                logging.info("input x%d: skipping the %d batches already trained on", scale, consumed[scale])
                dataset = dataset.skip(consumed[scale])
            self.iterators[scale] = iter(dataset)

    def batches_consumed(self, step):
        """{scale: batches of that scale in steps 0 .. step - 1} (MDSR draws a scale per step)."""
        if len(self.scales) == 1:
            return {self.scales[0]: step}
        counts = dict.fromkeys(self.scales, 0)
        for k in range(step):
            counts[self.scale_for_step(k)] += 1
        return counts

    def scale_for_step(self, step):
        """MDSR: one scale per batch, uniformly at random; the same at every resume (seeded by step)."""
        if len(self.scales) == 1:
            return self.scales[0]
        rng = np.random.default_rng([self.config.seed, step])
        return self.scales[rng.integers(len(self.scales))]

    def run(self, exporter=None):
        config = self.config
        resumed = self.restore()
        self.start_input()
        if not resumed:
            replicas = self.strategy.num_replicas_in_sync
            self.writers.hparams(hparams_of(config, self.network, replicas), self.scales)
            self.writers.validation_note(self.validation_images)
        logging.info(
            "%s %s: %s trainable parameters, %s, global batch %d on %d replica(s)",
            "resuming" if resumed else "training",
            config.model,
            f"{models.count_trainable(self.network):,}",
            self.length_text(),
            config.batch_size,
            self.strategy.num_replicas_in_sync,
        )
        last_log_time, last_log_step = time.perf_counter(), self.step
        budget = self.budget_seconds
        while self.step < self.total_steps and float(self.train_seconds.numpy()) < budget:
            scale = self.scale_for_step(self.step)
            if self.schedule is None:
                self.optimizer.learning_rate.assign(self.learning_rate())
            started = self.clock()
            loss = float(self.train_steps[scale](self.iterators[scale]))
            self.train_seconds.assign_add(self.clock() - started)
            self.started = True
            step = self.step
            if not math.isfinite(loss):
                raise TrainingError(
                    f"the loss became {loss} at step {step}; stopping. The last good checkpoint "
                    f"({self.manager.latest_checkpoint or 'none yet'}) is intact; lower --learning_rate "
                    "or use --mixed_precision=none and rerun to resume from it"
                )
            if (
                step % config.log_every == 0
                or step == self.total_steps
                or float(self.train_seconds.numpy()) >= budget
            ):
                now = time.perf_counter()
                rate = (step - last_log_step) / max(now - last_log_time, 1e-9)
                last_log_time, last_log_step = now, step
                lr = float(self.schedule(step - 1)) if self.schedule else float(self.optimizer.learning_rate)
                logging.info("%s  loss %.6g  lr %.4g  %.2f steps/s", self.progress_text(), loss, lr, rate)
                self.writers.train_scalars(step, loss=loss, learning_rate=lr, steps_per_second=rate)
            if step % config.checkpoint_every == 0:
                self.save()
                last_log_time = time.perf_counter()  # steps/s counts training only
            if step % config.validate_every == 0 and step < self.total_steps:
                self.validate(step)
                last_log_time = time.perf_counter()
        if self.manager.latest_checkpoint is None or not self.manager.latest_checkpoint.endswith(
            f"-{self.step}"
        ):
            self.save()
        psnr, bicubic = self.validate(self.step)
        saved_model = self.export(exporter) if config.export and exporter and self.chief else ""
        self.writers.flush()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
        result = TrainResult(
            str(self.run_dir),
            self.step,
            psnr,
            bicubic,
            saved_model,
            float(self.train_seconds.numpy()),
            peak_mb,
            self.validation_images,
        )
        if self.chief:
            runs.write_text_atomically(
                self.run_dir / runs.RESULTS_FILE, json.dumps(result.to_json(), indent=2) + "\n"
            )
        return result

    def save(self):
        """A checkpoint of this step. A save that fails (no space left) removes its partial files,
        so the last complete checkpoint stays the latest, and says how to resume from it."""
        step, folder = self.step, self.save_dir / runs.CHECKPOINT_DIR
        try:
            with writing(folder / f"ckpt-{step}"):
                self.manager.save(checkpoint_number=step)
        except BaseException as error:  # a full disk, or Ctrl-C during the save
            latest = runs.latest_checkpoint(self.save_dir)
            if latest is None or runs.checkpoint_number(latest) != step:
                runs.remove_checkpoint(folder, step)  # half-written: the last complete one stays the latest
            if not isinstance(error, OutputError):
                raise
            hint = (
                f"the last complete checkpoint is step {runs.checkpoint_number(latest)}: free some space and "
                "rerun the same command to resume"
                if latest
                else "no checkpoint was written yet"
            )
            raise OutputError(f"{error}; {hint}") from None

    def length_text(self):
        """How long the run trains: `1200 steps (300 per epoch)`, or the --max_minutes budget."""
        parts = []
        if self.total_steps != UNBOUNDED_STEPS:
            parts.append(f"{self.total_steps} steps ({self.steps_per_epoch} per epoch)")
        if self.config.max_minutes:
            parts.append(f"at most {self.config.max_minutes:g} minutes of training steps")
        return ", ".join(parts)

    def progress_text(self):
        """`step 300/1200`; with --max_minutes also the minutes used of the budget:
        `step 50  3.2/15 min` (no step total when only the budget bounds the run)."""
        text = f"step {self.step}" + (f"/{self.total_steps}" if self.total_steps != UNBOUNDED_STEPS else "")
        if self.config.max_minutes:
            text += f"  {float(self.train_seconds.numpy()) / 60:.1f}/{self.config.max_minutes:g} min"
        return text

    def progress(self):
        """The share of the run done: the larger of steps / total steps and seconds / budget."""
        return max(self.step / self.total_steps, float(self.train_seconds.numpy()) / self.budget_seconds)

    def learning_rate(self):
        """The budget (cosine) schedule's rate for the next step."""
        return recipes.budget_learning_rate(
            self.config.learning_rate, self.progress(), self.config.warmup_fraction
        )

    def validate(self, step):
        """Scores the network (and bicubic, computed once) on the validation images: a console
        line per scale and TensorBoard scalars at every validation, so the baseline is drawn from
        the first point on."""
        if not self.chief:  # workers other than the chief only train
            return {}, {}
        psnr, panels = self.validator.network_psnr()
        bicubic = self.validator.bicubic_psnr()
        self.writers.validation(step, psnr, bicubic, panels, float(self.train_seconds.numpy()))
        for s in psnr:
            logging.info(
                "validation x%d at step %d: PSNR %.3f dB (bicubic %.3f dB, %+.3f dB)",
                s,
                step,
                psnr[s],
                bicubic[s],
                psnr[s] - bicubic[s],
            )
        return psnr, bicubic

    def export(self, exporter):
        paths = []
        for exported in exporter(self.network, self.run_dir / runs.SAVED_MODEL_DIR):
            paths.append(str(exported.path))
            logging.info("exported the x%d inference model to %s", exported.scale, paths[-1])
        return ",".join(paths)


def below_bicubic_hint(config, result):
    """One line for a run whose network ends below bicubic on its validation images, saying so and
    what to do (fine-tune a shipped network, or train longer); "" when it beats bicubic."""
    behind = {
        s: result.bicubic_psnr[s] - result.psnr[s]
        for s in result.psnr
        if result.psnr[s] < result.bicubic_psnr[s]
    }
    if not behind:
        return ""
    worst = max(behind, key=behind.get)
    text = f"x{worst} ends {behind[worst]:.2f} dB below bicubic on the validation images"
    if config.warm_start:
        return f"{text}, even from --warm_start={config.warm_start}: train longer (--steps or --max_minutes)"
    shipped = [item for item in models.PRETRAINED.values() if item.scale in config.scales]
    same = [item for item in shipped if item.model == config.model] or shipped
    if not same:
        return (
            f"{text}: a network trained from scratch needs far longer; "
            "train longer (--steps or --max_minutes)"
        )
    suggestion = f"--warm_start=pretrained:{same[0].name}" + (
        "" if same[0].model == config.model else f" --model={same[0].model}"
    )
    return (
        f"{text}: a network trained from scratch needs far longer; fine-tune a shipped one instead, e.g. "
        f"{suggestion} (python -m sr_tf.models lists them)"
    )


def hparams_of(config, network, replicas):
    values = {
        "model": config.model,
        "scale": ",".join(map(str, config.scales)),
        "parameters": models.count_trainable(network),
        "batch_size": config.batch_size,
        "patch": f"{config.patch_mode} hr{config.hr_patch}"
        if config.hr_patch
        else f"{config.patch_mode} lr{config.lr_patch}",
        "recipe": config.recipe,
        "learning_rate": config.learning_rate,
        "lr_schedule": config.lr_schedule,
        "lr_decay_factor": config.lr_decay_factor,
        "loss": config.loss,
        "mixed_precision": config.mixed_precision,
        "replicas": replicas,
        "train_data": config.train_data,
        "seed": config.seed,
    }
    values.update(
        {f"option_{k}": v for k, v in {**models.model_defaults(config.model), **config.model_options}.items()}
    )
    return values


def warm_start(network, source_run_dir):
    """Copies every weight whose name and shape match from another network: a run directory's
    latest checkpoint, a .keras file or `pretrained:<name>` (models.open_network).

    EDSR x3/x4 from a trained x2 (the paper's recipe): head, body and tail copy; for x4 the first
    upsampling conv has the x2 shape and copies too; for x3 the upsampler starts fresh.
    """
    source = models.open_network(source_run_dir)
    source_weights = {w.path: w for w in source.weights}
    copied, skipped = [], []
    for weight in network.weights:
        match = source_weights.get(weight.path)
        if match is not None and tuple(match.shape) == tuple(weight.shape):
            weight.assign(match)
            copied.append(weight.path)
        else:
            reason = (
                "not in the source"
                if match is None
                else f"shape {tuple(match.shape)} != {tuple(weight.shape)}"
            )
            skipped.append(f"{weight.path} ({reason})")
    logging.info("warm start from %s: copied %d weights: %s", source_run_dir, len(copied), ", ".join(copied))
    logging.info("warm start: %d weights start fresh: %s", len(skipped), ", ".join(skipped) or "none")
    return copied, skipped
