"""Opening a trained network: `open_network(location)` for `pretrained:<name>`, a `.keras` file or a
training run directory (its latest checkpoint). Training, inference, export and the commands all
open networks here.

A run directory, as far as reading it goes (sr_tf.training.runs writes it):

    <run>/model.json    the network's description {"model": name, "scales": [s, ...], "options": {...}}
    <run>/checkpoints/  tf.train.CheckpointManager files; the checkpoint's `model` is the network
"""

import json
import pathlib

from sr_tf.core.lazy import keras, tf
from sr_tf.models.pretrained_registry import is_pretrained_location, pretrained
from sr_tf.models.specs import describe

MODEL_FILE = "model.json"
CHECKPOINT_DIR = "checkpoints"


class RunError(ValueError):
    """A run directory that cannot be read or reused; the message names the directory or file."""


def read_description(run_dir):
    """The description of the network a run trains (model.json; older runs wrote "scale")."""
    path = pathlib.Path(run_dir) / MODEL_FILE
    if not path.is_file():
        raise RunError(f"{run_dir} is not an sr_tf run directory: {path} is missing")
    try:
        spec = json.loads(path.read_text())
        scales = spec["scales"] if "scales" in spec else spec["scale"]
        scales = list(scales) if isinstance(scales, list) else [int(scales)]
        return {"model": spec["model"], "scales": scales, "options": dict(spec.get("options", {}))}
    except (ValueError, KeyError, TypeError) as error:
        raise RunError(f"{path} is not a valid model description: {error}") from error


def latest_checkpoint(run_dir):
    return tf.train.latest_checkpoint(str(pathlib.Path(run_dir) / CHECKPOINT_DIR))


def load_run_network(run_dir):
    """Rebuilds the run's network and restores its latest checkpoint."""
    from sr_tf.models.network import from_description

    path = pathlib.Path(run_dir) / MODEL_FILE
    try:
        network = from_description(read_description(run_dir), str(path))
    except ValueError as error:
        raise RunError(str(error)) from error
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise RunError(f"{run_dir} has no checkpoint in {pathlib.Path(run_dir) / CHECKPOINT_DIR}")
    tf.train.Checkpoint(model=network).restore(checkpoint).expect_partial().assert_existing_objects_matched()
    return network


def load_keras_network(path):
    """The sr_tf network in a .keras file (its config is its description); ValueError naming the file."""
    from sr_tf.models.network import SRNetwork  # noqa: F401  (registers the classes the file names)

    try:
        network = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a bad file
        raise ValueError(f"cannot load the Keras model {path}: {error}") from error
    describe(network, path)
    return network


def is_network_location(location):
    """True when `location` names what `open_network` opens (it may still fail to load)."""
    location = str(location)
    return (
        is_pretrained_location(location)
        or location.endswith(".keras")
        or (pathlib.Path(location) / MODEL_FILE).is_file()
    )


def open_network(location):
    """The trained network `location` names: `pretrained:<name>`, a .keras file or a run directory
    (its latest checkpoint). ValueError (RunError) naming `location` otherwise."""
    location = str(location)
    if is_pretrained_location(location):
        return pretrained(location)
    if location.endswith(".keras") and pathlib.Path(location).is_file():
        return load_keras_network(location)
    if (pathlib.Path(location) / MODEL_FILE).is_file():
        try:
            return load_run_network(location)
        except (tf.errors.OpError, AssertionError) as error:
            raise RunError(f"cannot load the run {location}: {error}") from error
    raise RunError(
        f"{location}: not pretrained:<name>, a .keras file or a training run directory (with {MODEL_FILE})"
    )
