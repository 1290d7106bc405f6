"""`python -m sr_tf.train`: flags and flagfiles, the shipped configs, SIGKILL and resume, two workers."""

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from tiny import TINY_BTSRN_FLAGS

from sr_tf.commands import train as train_cli
from sr_tf.models import get_spec
from sr_tf.training import runs

REPO = pathlib.Path(__file__).resolve().parents[1]
TINY = [
    "--model=btsrn",
    *TINY_BTSRN_FLAGS,
    "--patch_mode=random",
    "--hr_patch=24",
    "--batch_size=4",
    "--val_images=1",
    "--noexport",
]


@pytest.fixture(scope="module")
def photo_folder(make_photo_folder):
    return make_photo_folder("cli_photos", count=3, size=64, seed=1)


def parse(argv):
    """Parses argv with the CLI's flags (no side effects) and returns the resolved TrainConfig."""
    train_cli.FLAGS.unparse_flags()
    train_cli.FLAGS(["sr_tf.train", *argv])
    return train_cli.config_from_flags().resolved()


def run_cli(args, env=None, **kwargs):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "sr_tf.train", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO,
        timeout=240,
        **kwargs,
    )


def test_unknown_flag_fails_at_once_naming_it(capsys):
    assert train_cli.main(["sr_tf.train", "--run_dir=/tmp/never", "--batchsize=3"]) == 2
    error = capsys.readouterr().err
    assert "batchsize" in error and "batch_size" in error  # absl suggests the right one
    assert not pathlib.Path("/tmp/never").exists()


def test_unknown_flag_inside_a_flagfile_fails_naming_it(tmp_path, capsys):
    flagfile = tmp_path / "bad.cfg"
    flagfile.write_text("--model=btsrn\n--learnin_rate=0.1\n")
    assert train_cli.main(["sr_tf.train", f"--flagfile={flagfile}", f"--run_dir={tmp_path / 'run'}"]) == 2
    assert "learnin_rate" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_help_lists_the_flags_by_group_and_the_data_sources(capsys):
    assert train_cli.main(["sr_tf.train", "--help"]) == 0
    text = capsys.readouterr().out
    groups = [line for line in text.splitlines() if line.endswith(" flags:")]
    assert groups == [f"{g} flags:" for g in ("model", "data", "recipe", "devices", "run", "logging")]
    assert (
        text.index("--block")
        < text.index("data flags:")
        < text.index("--train_data")
        < text.index("recipe flags:")
    )
    assert "folder:<dir>" in text and "tfds:div2k" in text


def test_a_missing_run_dir_is_a_usage_error(capsys):
    assert train_cli.main(["sr_tf.train", "--model=btsrn"]) == 2
    assert "--run_dir must be given" in capsys.readouterr().err


def test_a_later_flag_overrides_the_flagfile():
    config = parse([f"--flagfile={REPO / 'configs' / 'btsrn_x2.cfg'}", "--batch_size=8", "--run_dir=/tmp/x"])
    assert config.batch_size == 8 and config.run_dir == "/tmp/x" and config.epochs == 16


RELEASE = dict(
    batch_size=32,
    epochs=16,
    learning_rate=1e-3,
    lr_decay_factor=0.618,
    lr_decay_every=0,
    hr_patch=108,
    patch_mode="grid",
    loss="mse_residual",
    train_split="train_valid",
)
EDSR = dict(
    batch_size=16,
    steps=300_000,
    learning_rate=1e-4,
    lr_decay_factor=0.5,
    lr_decay_every=200_000,
    lr_patch=48,
    patch_mode="random",
    loss="l1",
    train_split="train",
)


@pytest.mark.parametrize("config_file", sorted(p.name for p in (REPO / "configs").glob("*.cfg")))
def test_every_shipped_config_parses_and_matches_its_recipe(config_file):
    config = parse([f"--flagfile={REPO / 'configs' / config_file}"])
    name = config_file[:-4]
    expected = {}
    if re.fullmatch(r"btsrn_x[234]", name):
        expected = dict(
            RELEASE,
            scale=(int(name[-1]),),
            model_options=dict(block="pconv", low_blocks=6, high_blocks=4, width=128, bottleneck=64),
        )
    elif name.startswith("btsrn_x2_"):
        expected = dict(
            RELEASE,
            train_split="train",
            model_options=dict(
                block=name[len("btsrn_x2_") :], low_blocks=6, high_blocks=4, width=128, bottleneck=32
            ),
        )
    elif name.startswith("edsr"):
        expected = dict(EDSR, scale=(int(name[-1]),), model=name[:-3])
        if not name.endswith("2"):
            expected["warm_start"] = f"runs/{name[:-1]}2"
    elif name.startswith("mdsr"):
        expected = dict(EDSR, scale=(2, 3, 4), model=name)
    for key, value in expected.items():
        assert getattr(config, key) == value, key
    # Recipes in the files agree with the library's recipes.
    recipe = get_spec(config.model).recipe("release")
    assert (config.learning_rate, config.lr_decay_factor, config.batch_size) == (
        recipe.learning_rate,
        recipe.lr_decay_factor,
        recipe.batch_size,
    ) or name == "quickstart"


@pytest.mark.slow
def test_flags_cfg_reproduces_the_run(tmp_path, photo_folder, assert_quiet):
    run_dir = tmp_path / "run"
    result = run_cli(
        [*TINY, f"--train_data=folder:{photo_folder}", "--steps=2", f"--run_dir={run_dir}"],
        env={"TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # sr_tf's default
    assert result.returncode == 0, result.stderr[-2000:]
    # A normal run (training, validation, export) warns only that 3 photos are too few to hold out.
    assert_quiet("\n".join(line for line in result.stderr.splitlines() if "TRAINING-SET PSNR" not in line))
    assert "validation PSNR" in result.stdout and "bicubic" in result.stdout
    original = parse([*TINY, f"--train_data=folder:{photo_folder}", "--steps=2", f"--run_dir={run_dir}"])
    again = parse([f"--flagfile={run_dir / 'flags.cfg'}"])
    assert again == original


@pytest.mark.slow
def test_sigkill_mid_run_loses_at_most_one_checkpoint_interval(tmp_path, photo_folder):
    run_dir, interval = tmp_path / "run", 5
    args = [
        *TINY,
        f"--train_data=folder:{photo_folder}",
        "--steps=40",
        f"--checkpoint_every={interval}",
        "--log_every=1",
        "--validate_every=1000",
        f"--run_dir={run_dir}",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "sr_tf.train", *args],
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    last_step, deadline = 0, time.time() + 180
    for line in process.stderr:
        match = re.search(r"step (\d+)/40", line)
        if match:
            last_step = int(match.group(1))
        if last_step >= 13 or time.time() > deadline:
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert last_step >= 13, "training did not reach step 13 before the deadline"
    resumed = run_cli(args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    start = int(re.search(r"resumed from \S+ at step (\d+)", resumed.stderr).group(1))
    assert last_step - interval <= start <= last_step
    assert runs.latest_checkpoint(run_dir).endswith("ckpt-40")


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_train_to_the_same_weights(tmp_path, photo_folder):
    run_dir = tmp_path / "run"
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    args = [
        *TINY,
        f"--train_data=folder:{photo_folder}",
        "--steps=3",
        "--distribution=multi_worker",
        f"--run_dir={run_dir}",
        "--checkpoint_every=3",
    ]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "sr_tf.train", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={
                **environment,
                "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
            },
        )
        for i in range(2)
    ]
    outputs = [w.communicate(timeout=240) for w in workers]
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    assert "2 replica(s)" in outputs[0][1]
    chief = tf.train.load_checkpoint(runs.latest_checkpoint(run_dir))
    other = tf.train.load_checkpoint(
        tf.train.latest_checkpoint(str(run_dir / "workers" / "worker_1" / "checkpoints"))
    )
    names = [
        n
        for n in chief.get_variable_to_shape_map()
        if n.endswith("VARIABLE_VALUE") and not n.startswith("train_seconds")
    ]  # wall time is per worker
    assert len(names) > 3 * 14  # the network's 14 weights, Adam's two slots each, the step
    for name in names:  # weights and optimizer state alike
        np.testing.assert_array_equal(chief.get_tensor(name), other.get_tensor(name))
    assert chief.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 3


@pytest.mark.parametrize(
    "config_file", sorted(p.name for p in (REPO / "configs" / "pretrained").glob("*.cfg"))
)
def test_pretrained_configs_use_the_budget_recipe(config_file):
    config = parse([f"--flagfile={REPO / 'configs' / 'pretrained' / config_file}"])
    name = f"{config.model}_x{config.scales[0]}"
    assert config.recipe == "budget" and config.lr_schedule == "cosine" and config.max_minutes <= 150
    assert config.recipe_values == get_spec(config.model).recipe("budget")
    if config.quantization_aware:  # <name>_int8: a shipped network fine-tuned for int8
        assert config_file == f"{name}_int8.cfg" and config.warm_start == f"pretrained:{name}"
        return
    assert config_file == f"{name}.cfg"
    if config.scales == (2,):
        assert config.warm_start is None  # x2 from scratch, at most 150 minutes
    else:  # x3 and x4 from the shipped x2, at most 90 minutes
        assert config.warm_start == f"pretrained:{config.model}_x2" and config.max_minutes <= 90


def test_every_shipped_network_has_the_config_that_made_it():
    from sr_tf.models import pretrained_registry as registry

    for name in registry.pretrained_names():
        config = parse([f"--flagfile={REPO / 'configs' / 'pretrained' / f'{name}.cfg'}"])
        entry = registry.entry(name)
        assert (config.model, config.scales) == (entry.model, (entry.scale,)), name


def test_a_bad_setting_prints_the_reason_alone_and_exits_2(tmp_path, capsys):
    argv = [
        "sr_tf.train",
        f"--flagfile={REPO / 'configs' / 'quickstart.cfg'}",
        "--model=edsr",
        f"--run_dir={tmp_path / 'r'}",
    ]
    assert train_cli.main(argv) == 2
    error = capsys.readouterr().err
    lines = error.splitlines()
    assert lines[0].startswith("sr_tf.train: error: options") and "do not apply to --model=edsr" in lines[0]
    assert "--help" in lines[1] and "--batch_size" not in error
    assert not (tmp_path / "r").exists()
