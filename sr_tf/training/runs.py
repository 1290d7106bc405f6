"""Run directories: what a training run writes, and how evaluation and export read it back.

    <run>/flags.cfg           the effective flags, usable as --flagfile to repeat the run
    <run>/model.json          {"model": name, "scale": s or [s, ...], "options": {...}}
    <run>/checkpoints/        tf.train.CheckpointManager files; the checkpoint holds `model`
                              (the network), `optimizer`, `step` and, where TF can, `iterator`
    <run>/saved_model/        the exported full-image inference SavedModel (at the end)
    <run>/logs/               TensorBoard event files (train/ and validation/)
"""
import json
import pathlib

import tensorflow as tf

from sr_tf.models import build_model

MODEL_FILE = "model.json"
CHECKPOINT_DIR = "checkpoints"
SAVED_MODEL_DIR = "saved_model"
LOG_DIR = "logs"
FLAGS_FILE = "flags.cfg"


class RunError(ValueError):
    """A run directory that cannot be read; the message names the directory or file."""


def write_model_spec(run_dir, name, scale, options):
    run_dir = pathlib.Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = {"model": name, "scale": list(scale) if isinstance(scale, (tuple, list)) else int(scale),
            "options": dict(options)}
    tmp = run_dir / (MODEL_FILE + ".tmp")
    tmp.write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    tmp.replace(run_dir / MODEL_FILE)


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


def load_network(run_dir):
    """Rebuilds the run's network and restores its latest checkpoint: (network, name, scale)."""
    name, scale, options = read_model_spec(run_dir)
    network = build_model(name, scale, **options)
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise RunError(f"{run_dir} has no checkpoint in {pathlib.Path(run_dir) / CHECKPOINT_DIR}")
    tf.train.Checkpoint(model=network).restore(checkpoint).expect_partial().assert_existing_objects_matched()
    return network, name, scale
