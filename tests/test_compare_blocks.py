"""tools/compare_blocks.py: a smoke run with tiny networks and a seconds-long budget, read back."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from absl import app, flags
from PIL import Image

pytestmark = pytest.mark.slow  # every test here trains a network or starts a process

REPO = pathlib.Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "compare_blocks.py"
BLOCKS = ("pconv", "pixelcnn", "gated", "gated_pp")
TINY = [
    "--width=8",
    "--bottleneck=4",
    "--low_blocks=1",
    "--high_blocks=1",
    "--hr_patch=24",
    "--batch_size=4",
    "--patch_mode=random",
    "--val_images=1",
    "--validate_every=5",
    "--log_every=5",
]


@pytest.fixture(scope="module")
def photo_folder(make_photo_folder):
    return make_photo_folder("compare_photos", count=2, size=48, seed=3)


def run_tool(args):
    """The tool as users run it, in its own process."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, str(TOOL), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environment,
        timeout=300,
    )


@pytest.fixture
def tool(load_tool):
    """The tool's module (its flags live on absl's global FLAGS)."""
    return load_tool("compare_blocks.py")


@pytest.fixture
def tool_flags(tool):
    """Parses the tool's flags in this process; unparsed again afterwards."""

    def parse(args):
        flags.FLAGS(["compare_blocks.py", *args])
        return tool

    yield parse
    flags.FLAGS.unparse_flags()


def hparams_dashboard(logdir):
    """What TensorBoard's HParams dashboard shows for `logdir`: {session: (hparams, {metric tag: value})}."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    backend = backend_context.Context(base_plugin.TBContext(logdir=str(logdir), data_provider=provider))
    request = api_pb2.ListSessionGroupsRequest(slice_size=100, allowed_statuses=list(api_pb2.Status.values()))
    response = list_session_groups.Handler(context.RequestContext(), backend, "", request).run()
    return {
        group.name: (
            {k: v.string_value or v.number_value for k, v in group.hparams.items()},
            {m.name.tag: m.value for m in group.metric_values},
        )
        for group in response.session_groups
    }


def test_four_blocks_train_for_the_same_budget_and_are_compared(tmp_path, photo_folder, tool_flags, capsys):
    logdir = tmp_path / "blocks"
    result = run_tool(
        ["--budget_minutes=0.03", f"--logdir={logdir}", f"--train_data=folder:{photo_folder}", *TINY]
    )
    assert result.returncode == 0, result.stderr[-3000:]

    results = {b: json.loads((logdir / b / "results.json").read_text()) for b in BLOCKS}
    for block in BLOCKS:  # each stopped by the 1.8 s budget, not by a step count
        assert results[block]["train_seconds"] >= 1.8 and 1 <= results[block]["step"] < 100_000_000
        assert "--max_minutes=0.03" in (logdir / f"{block}.log").read_text()

    table = [line for line in (logdir / "comparison.md").read_text().splitlines() if line.startswith("|")]
    assert "\n".join(table) in result.stdout  # the table is printed too
    assert [line.split(" | ")[0][2:] for line in table[2:]] == [*BLOCKS, "bicubic"]
    report = json.loads((logdir / "comparison.json").read_text())
    assert (
        report["machine_before"]["cores"] == os.cpu_count() and report["settings"]["budget_minutes"] == 0.03
    )
    for row in report[
        "rows"
    ]:  # PSNR against seconds, read back from the event files: ends at the final validation
        seconds, psnr = row["psnr_by_seconds"][-1]
        assert psnr == pytest.approx(row["psnr"], abs=1e-4)
        assert seconds == round(results[row["variant"]]["train_seconds"])

    with Image.open(logdir / "psnr_by_time.png") as plot:
        assert plot.size == (640, 400)

    dashboard = hparams_dashboard(logdir)
    assert sorted(dashboard) == sorted(BLOCKS)  # one session per variant; the trainer's own ones are shadowed
    for block, (hparams, metrics) in dashboard.items():
        row = next(r for r in report["rows"] if r["variant"] == block)
        assert hparams["block"] == block and hparams["parameters"] == row["parameters"] > 0
        assert metrics["steps"] == results[block]["step"]
        assert (
            metrics["seconds_per_step"] == pytest.approx(row["seconds_per_step"])
            and row["seconds_per_step"] > 0
        )
        assert metrics["peak_memory_mb"] == pytest.approx(results[block]["peak_memory_mb"])
        assert metrics["psnr_x2"] == pytest.approx(
            results[block]["psnr"]["x2"], abs=1e-4
        )  # the final validation
        assert metrics["psnr_gain_x2"] == pytest.approx(row["psnr"] - row["bicubic_psnr"], abs=1e-4)

    # Run again (in this process): the finished runs are reused, not retrained, and the dashboard
    # still has one row each.
    tool = tool_flags(
        ["--budget_minutes=0.03", f"--logdir={logdir}", f"--train_data=folder:{photo_folder}", *TINY]
    )
    tool.main(["compare_blocks.py"])
    assert capsys.readouterr().out.count("reusing the finished run") == 4
    assert json.loads((logdir / "comparison.json").read_text())["reused_runs"] == list(BLOCKS)
    assert {b: json.loads((logdir / b / "results.json").read_text()) for b in BLOCKS} == results
    assert sorted(hparams_dashboard(logdir)) == sorted(BLOCKS)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--blocks=pconv,conv3"], "conv3"),
        (["--models=edsr_baseline", "--width=64"], "--width"),
        (["--models=mdsr"], "mdsr"),
        (["--validate_every=7"], "--log_every"),
    ],
)
def test_bad_flags_fail_at_once_naming_them(tmp_path, tool_flags, args, message):
    tool = tool_flags(["--budget_minutes=1", f"--logdir={tmp_path / 'never'}", *args])
    with pytest.raises(app.UsageError, match=message):
        tool.main(["compare_blocks.py"])
    assert not (tmp_path / "never").exists()


def test_balance_and_seed_variants(tool):
    variants = tool.balance_variants(["6+4", "7+3"], "pconv", 128, 64)
    assert [v.name for v in variants] == ["6+4", "7+3"]
    assert variants[1].options == dict(block="pconv", width=128, bottleneck=64, low_blocks=7, high_blocks=3)
    repeats = tool.seed_repeats(variants[0], ["1", "2"])
    assert [(v.name, v.seed) for v in repeats] == [("6+4_seed1", 1), ("6+4_seed2", 2)]
    for bad in ("6-4", "0+4", "x+y"):
        with pytest.raises(ValueError, match="--balance"):
            tool.balance_variants([bad], "pconv", 128, 64)
    assert tool.EXPERIMENTS["balance"]["balance"] == ["5+5", "6+4", "7+3", "8+2"]


def test_a_seed_repeat_trains_with_its_seed_and_checkpoints_for_resume(tool, tmp_path):
    variant = tool.seed_repeats(tool.Variant("6+4", "btsrn", {}), ["3"])[0]
    comparison = tool.Comparison(
        tmp_path, 1.0, [variant], train_flags={"seed": 0, "budget_clock": "cpu", "checkpoint_every": 200}
    )
    config = tool.train_config(comparison, variant)
    assert (config.seed, config.budget_clock, config.checkpoint_every) == (3, "cpu", 200)
    assert "--budget_clock=cpu" in tool.train_command(config)
