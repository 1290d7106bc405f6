"""Run directories: what a training run writes, and how evaluation and export read it back.

    <run>/flags.cfg           the effective flags, usable as --flagfile to repeat the run
    <run>/model.json          {"model": name, "scale": s or [s, ...], "options": {...}}
    <run>/checkpoints/        tf.train.CheckpointManager files; the checkpoint holds `model`
                              (the network), `optimizer` (with its step) and the input iterators
    <run>/saved_model/        the exported full-image inference SavedModel (MDSR: one per scale,
                              saved_model/x2, ...)
    <run>/logs/               TensorBoard event files (train/, validation/, HParams at the top)
    <run>/results.json        the final step, training seconds, validation PSNR (and bicubic's),
                              peak memory
"""
import json
import os
import pathlib

import tensorflow as tf
from absl import logging

from sr_tf.models import build_model, model_defaults

MODEL_FILE = "model.json"
CHECKPOINT_DIR = "checkpoints"
SAVED_MODEL_DIR = "saved_model"
LOG_DIR = "logs"
FLAGS_FILE = "flags.cfg"
RESULTS_FILE = "results.json"


class RunError(ValueError):
    """A run directory that cannot be read or reused; the message names the directory or file."""


def write_text_atomically(path, text):
    """Writes `text` to a temporary file beside `path`, then renames it: never a half-written file."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_model_spec(run_dir, name, scale, options):
    """Writes model.json with every option, defaults included, so later defaults cannot change it."""
    scale = list(scale) if isinstance(scale, (tuple, list)) else int(scale)
    spec = {"model": name, "scale": scale, "options": {**model_defaults(name), **options}}
    write_text_atomically(pathlib.Path(run_dir) / MODEL_FILE, json.dumps(spec, indent=2, sort_keys=True) + "\n")


def read_model_spec(run_dir):
    """(name, scale, options) of the network a run trains."""
    path = pathlib.Path(run_dir) / MODEL_FILE
    if not path.is_file():
        raise RunError(f"{run_dir} is not an sr_tf run directory: {path} is missing")
    try:
        spec = json.loads(path.read_text())
        scale = tuple(spec["scale"]) if isinstance(spec["scale"], list) else int(spec["scale"])
        return spec["model"], scale, dict(spec.get("options", {}))
    except (ValueError, KeyError, TypeError) as error:
        raise RunError(f"{path} is not a valid model description: {error}") from error


def latest_checkpoint(run_dir):
    return tf.train.latest_checkpoint(str(pathlib.Path(run_dir) / CHECKPOINT_DIR))


def checkpoint_step(checkpoint_path):
    """The training step a checkpoint was saved at (the optimizer's iteration count)."""
    return int(tf.train.load_variable(checkpoint_path, "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"))


def load_network(run_dir):
    """Rebuilds the run's network and restores its latest checkpoint: (network, name, scale)."""
    name, scale, options = read_model_spec(run_dir)
    network = build_model(name, scale, **options)
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise RunError(f"{run_dir} has no checkpoint in {pathlib.Path(run_dir) / CHECKPOINT_DIR}")
    tf.train.Checkpoint(model=network).restore(checkpoint).expect_partial().assert_existing_objects_matched()
    return network, name, scale


def prepare_run_dir(run_dir, config, write=True):
    """Checks that an existing run trains the same network; writes model.json and flags.cfg.

    flags.cfg holds the effective flags (recipe defaults filled in); when a resumed run changes
    some, the differences are logged and the file is updated.
    """
    from sr_tf.training.config import config_to_flags

    run_dir = pathlib.Path(run_dir)
    if (run_dir / MODEL_FILE).is_file():
        name, scale, options = read_model_spec(run_dir)
        wanted = (config.model, config.model_scale, {**model_defaults(config.model), **config.model_options})
        if (name, scale, options) != wanted:
            raise RunError(
                f"{run_dir / MODEL_FILE} describes {name} x{scale} {options}, but the flags ask for "
                f"{wanted[0]} x{wanted[1]} {wanted[2]}; use a new --run_dir"
            )
    if not write:
        return
    write_model_spec(run_dir, config.model, config.model_scale, config.model_options)
    lines = config_to_flags(config)
    flags_path = run_dir / FLAGS_FILE
    if flags_path.is_file():
        old = set(flags_path.read_text().split())
        changed = [line for line in lines if line not in old]
        if changed:
            logging.info("flags changed since %s was written: %s", flags_path, " ".join(changed))
    write_text_atomically(flags_path, "\n".join(lines) + "\n")
