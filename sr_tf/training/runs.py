"""Run directories: what a training run writes (sr_tf.models.opening reads them back).

<run>/flags.cfg           the effective flags, usable as --flagfile to repeat the run
<run>/model.json          the network's description {"model": name, "scales": [s, ...], "options": {...}}
<run>/checkpoints/        tf.train.CheckpointManager files; the checkpoint holds `model`
                          (the network), `optimizer` (with its step) and the training seconds;
                          the input position is the step (a resume replays the pipeline)
<run>/saved_model/        the exported full-image inference SavedModel (MDSR: one per scale,
                          saved_model/x2, ...)
<run>/logs/               TensorBoard event files (train/, validation/, HParams at the top)
<run>/results.json        the final step, training seconds, validation PSNR (and bicubic's),
                          peak memory
"""

import fcntl
import json
import os
import pathlib
import shutil
import socket

from absl import logging

from sr_tf.core.files import write_text_atomically
from sr_tf.core.lazy import tf
from sr_tf.models.opening import (  # noqa: F401  (the format and its readers, re-exported for the trainer)
    CHECKPOINT_DIR,
    MODEL_FILE,
    RunError,
    latest_checkpoint,
    read_description,
)

SAVED_MODEL_DIR = "saved_model"
LOG_DIR = "logs"
FLAGS_FILE = "flags.cfg"
RESULTS_FILE = "results.json"
LOCK_FILE = ".lock"  # held (fcntl.flock) by the process training into the directory


class TrainingError(RuntimeError):
    """Training stopped (a NaN or Inf loss, a mismatched run directory)."""


def write_description(run_dir, description):
    """Writes model.json: the network's description, every option included, so later defaults
    cannot change what the run trains."""
    text = json.dumps(description, indent=2, sort_keys=True) + "\n"
    write_text_atomically(pathlib.Path(run_dir) / MODEL_FILE, text)


def checkpoint_step(checkpoint_path):
    """The training step a checkpoint was saved at (the optimizer's iteration count)."""
    return int(tf.train.load_variable(checkpoint_path, "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"))


def checkpoint_number(checkpoint_path):
    """The number in a checkpoint's name (`.../ckpt-100` -> 100): the step the trainer saved it at."""
    return int(str(checkpoint_path).rsplit("-", 1)[1])


def remove_checkpoint(checkpoint_dir, number):
    """Deletes the files of checkpoint `number` (complete or not: a save that failed half-way)."""
    folder = pathlib.Path(checkpoint_dir)
    for entry in folder.glob(f"ckpt-{number}[._]*"):
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def fresh_start(folder):
    """What a failed start in `folder` may take away again: None when the folder holds something
    (a run to resume, other files); otherwise the folders that do not exist yet, innermost first
    (`folder` itself and its missing parents; [] for an existing empty folder, which stays)."""
    folder, missing = pathlib.Path(folder), []
    if folder.exists():
        return [] if folder.is_dir() and not any(folder.iterdir()) else None
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    return missing


def undo_start(folder, fresh):
    """Removes what a failed start wrote into `folder`, when `fresh_start(folder)` said it was new
    or empty: its contents, then the folders that were made for it."""
    if fresh is None:
        return
    folder = pathlib.Path(folder)
    for entry in folder.iterdir() if folder.is_dir() else ():
        shutil.rmtree(
            entry, ignore_errors=True
        ) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    for path in fresh:
        try:
            path.rmdir()
        except OSError:
            break


def prepare_run_dir(run_dir, config, write=True):
    """Checks that an existing run trains the same network; writes model.json and flags.cfg.

    flags.cfg holds the effective flags (recipe defaults filled in); when a resumed run changes
    some, the differences are logged and the file is updated.
    """
    from sr_tf.training.config import config_to_flags

    run_dir = pathlib.Path(run_dir)
    wanted = config.description
    if (run_dir / MODEL_FILE).is_file():
        found = read_description(run_dir)
        if found != wanted:
            raise RunError(
                f"{run_dir / MODEL_FILE} describes {found['model']} x{found['scales']} {found['options']}, "
                f"but the flags ask for {wanted['model']} x{wanted['scales']} {wanted['options']}; "
                "use a new --run_dir"
            )
    if not write:
        return
    write_description(run_dir, wanted)
    lines = config_to_flags(config)
    flags_path = run_dir / FLAGS_FILE
    if flags_path.is_file():
        old = set(flags_path.read_text().split())
        changed = [line for line in lines if line not in old]
        if changed:
            logging.info("flags changed since %s was written: %s", flags_path, " ".join(changed))
    write_text_atomically(flags_path, "\n".join(lines) + "\n")


class RunLock:
    """An exclusive kernel lock on `<folder>/.lock` for as long as a process trains there. The
    kernel drops it when the process dies, so a killed run never blocks a rerun."""

    def __init__(self, folder):
        self.folder = pathlib.Path(folder)
        self.path = self.folder / LOCK_FILE
        self.file = None

    def acquire(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunError(
                f"{self.folder} is in use: {holder} is training there; wait for it to end, or use "
                "another --run_dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self.file = handle
        return self

    def release(self):
        if self.file is not None:
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()
            self.file = None


def remove_partial_checkpoints(checkpoint_dir):
    """Deletes the `*_temp` folders a save interrupted by a kill leaves behind (TF writes a
    checkpoint there, then renames it); complete checkpoints stay. Returns what was removed."""
    removed = []
    folder = pathlib.Path(checkpoint_dir)
    if folder.is_dir():
        for entry in sorted(folder.glob("*_temp")):
            if entry.is_dir():
                shutil.rmtree(entry)
                removed.append(str(entry))
    for path in removed:
        logging.warning("removed %s, left by an interrupted checkpoint save", path)
    return removed
