"""What every command shares (sr_tf.commands.cli): its own flags, run in-process; --help by group; usage
errors as one line and status 2; a console without TensorFlow's start-up noise."""

import os
import subprocess
import sys

import pytest

from sr_tf.commands import COMMANDS as COMMAND_NAMES
from sr_tf.commands import convert as convert_main
from sr_tf.commands import evaluate, figure, upscale
from sr_tf.commands import export as export_main
from sr_tf.commands import models as models_main
from sr_tf.core import console

COMMANDS = {
    "sr_tf.evaluate": evaluate,
    "sr_tf.upscale": upscale,
    "sr_tf.figure": figure,
    "sr_tf.export": export_main,
    "sr_tf.convert": convert_main,
    "sr_tf.models": models_main,
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_exits_0_with_the_flags_by_group(name, capsys):
    assert COMMANDS[name].main([name, "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("`python -m") and "logging flags:" in text and "--verbosity" in text
    assert "flags flags:" not in text


@pytest.mark.slow
def test_help_and_the_zoo_table_load_no_tensorflow():
    """--help of every command and `python -m sr_tf.models` print without importing TensorFlow or
    building a network (importing TensorFlow alone takes seconds)."""
    script = """if True:
        import contextlib, importlib, io, sys
        from sr_tf.commands import COMMANDS
        for name in COMMANDS:
            with contextlib.redirect_stdout(io.StringIO()):
                command = importlib.import_module(f"sr_tf.commands.{name}")
                assert command.main([f"sr_tf.{name}", "--help"]) == 0
        with contextlib.redirect_stdout(io.StringIO()) as table:
            assert importlib.import_module("sr_tf.commands.models").main(["sr_tf.models"]) == 0
        assert "887,683" in table.getvalue()
        print(sorted(m for m in ("tensorflow", "keras", "scipy", "matplotlib") if m in sys.modules))
    """
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - {"sr_tf.models"}))
def test_missing_flags_are_named_alone_with_status_2(name, capsys):
    assert COMMANDS[name].main([name]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(f"{name}: error: --") and "must be given" in lines[0]
    assert lines[1] == "Try --help for the flags." and len(lines) == 2


def test_commands_with_the_same_flag_names_run_one_after_another_in_one_process(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    assert (
        upscale.main(
            [
                "sr_tf.upscale",
                "--model=bicubic",
                f"--input={tmp_path / 'a.png'}",
                f"--output={tmp_path / 'b.png'}",
                "--scale=2",
            ]
        )
        == 0
    )
    assert (
        upscale.main(
            [
                "sr_tf.upscale",
                "--model=bicubic",
                f"--input={tmp_path / 'b.png'}",
                f"--output={tmp_path / 'c.png'}",
                "--scale=3",
            ]
        )
        == 0
    )  # fresh defaults each run
    assert Image.open(tmp_path / "c.png").size == (48, 48)
    assert evaluate.main(["sr_tf.evaluate", "--model=bicubic", f"--benchmark_dir={tmp_path / 'none'}"]) == 1
    assert "none" in capsys.readouterr().err


def test_bad_input_is_one_line_naming_it_with_status_1(tmp_path, capsys):
    assert (
        export_main.main(["sr_tf.export", f"--run={tmp_path / 'missing'}", f"--output={tmp_path / 'out'}"])
        == 1
    )
    error = capsys.readouterr().err
    assert error.startswith("sr_tf.export: error:") and "missing" in error and "Traceback" not in error
    assert not (tmp_path / "out").exists()


def test_the_models_command_lists_the_zoo_and_the_pretrained_networks(capsys):
    assert models_main.main(["sr_tf.models"]) == 0
    text = capsys.readouterr().out
    assert "btsrn           x2              887,683" in text and "pretrained:btsrn_x2" not in text
    assert "btsrn_x2 " in text and "Set5" in text


def test_noise_markers_match_the_lines_tensorflow_prints_and_nothing_else():
    noise = [
        b"I0000 00:00:1796129332.128688   31348 port.cc:153] oneDNN custom operations are on. You may see",
        b"E0000 00:00:1796129345.308100   31348 cuda_platform.cc:52] failed call to cuInit: "
        b"INTERNAL: CUDA error",
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    ]
    real = [
        b"E0000 00:00:1.0 1 op_kernel.cc:1] OP_REQUIRES failed at conv_ops.cc: INVALID_ARGUMENT",
        b"Traceback (most recent call last):",
        b"sr_tf.train: error: --run_dir must be given",
        b"sr_tf.export: error: cannot write /x/exp: No space left on device",
    ]
    noise += [
        b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",  # LiteRT, at every interpreter start
        b"W0000 00:00:1.0 1 op_kernel.cc:1858] OP_REQUIRES failed at save_restore_v2_ops.cc:163 : "
        b"RESOURCE_EXHAUSTED: /x/.exp.tmp/variables/part-0; No space left on device",
    ]  # the command says it
    assert all(console.is_noise(line) for line in noise) and not any(console.is_noise(line) for line in real)


@pytest.mark.slow
def test_a_command_prints_no_error_looking_line_on_a_cpu_machine(assert_quiet):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user runs it
    done = subprocess.run(
        [sys.executable, "-m", "sr_tf.models"], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0 and "887,683" in done.stdout
    assert_quiet(done.stderr)
    assert done.stderr.strip() == ""


@pytest.mark.slow
def test_real_errors_still_reach_the_console():
    script = (
        "from sr_tf.core import console; console.drop_tensorflow_noise(); import os, sys; "
        "os.write(2, b'failed call to cuInit: x\\nreal problem\\n'); "
        "print('partial', end='', file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stderr == "real problem\npartial"


def test_console_scripts_run_the_commands():
    from importlib import metadata

    scripts = {
        ep.name: ep for ep in metadata.entry_points(group="console_scripts") if ep.value.startswith("sr_tf.")
    }
    assert set(scripts) == {f"sr-tf-{name}" for name in COMMAND_NAMES}
    for name, entry in scripts.items():
        assert callable(entry.load()), name
