"""The edges a user hits (issue 20): outputs that cannot be written (read-only, under a file, a full
disk), Ctrl-C, a failed training start, long budgeted runs. Each ends in one clear line, with
nothing half-written left behind."""

import os
import re
import signal
import subprocess
import sys
import types

import pytest
from PIL import Image
from tiny import TINY_BTSRN, TINY_BTSRN_FLAGS

from sr_tf import models
from sr_tf.commands import convert as convert_main
from sr_tf.commands import evaluate, figure, upscale
from sr_tf.commands import export as export_main
from sr_tf.commands import train as train_cli
from sr_tf.core.errors import OutputError
from sr_tf.training import runs, trainer
from sr_tf.training.config import TrainConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_TRAIN = [
    "--model=btsrn",
    *TINY_BTSRN_FLAGS,
    "--patch_mode=random",
    "--hr_patch=24",
    "--batch_size=4",
    "--val_images=1",
    "--noexport",
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, make_photo_folder, random_image, make_benchmark):
    """What the commands read: a photo, a tiny benchmark set, a tiny .keras network, photos to train on."""
    root = tmp_path_factory.mktemp("edge_inputs")
    photo = root / "photo.png"
    Image.fromarray(random_image(20, 24, 0)).save(photo)
    network = root / "tiny.keras"
    models.build_model("btsrn", 2, **TINY_BTSRN).save(network)
    return types.SimpleNamespace(
        photo=photo,
        bench=make_benchmark(root / "bench"),
        network=network,
        photos=make_photo_folder("edge_photos", count=3, size=48, seed=2),
        pt=root / "not_read_before_the_output_is_checked.pt",
    )


# name: (main, argv writing under `out`, the output the command names)
COMMANDS = {
    "sr_tf.upscale": lambda i, out: (
        upscale.main,
        ["--model=bicubic", "--scale=2", f"--input={i.photo}", f"--output={out / 'up.png'}"],
        out / "up.png",
    ),
    "sr_tf.evaluate": lambda i, out: (
        evaluate.main,
        [
            "--model=bicubic",
            f"--benchmark_dir={i.bench}",
            "--sets=Tiny",
            "--scales=2",
            f"--results_json={out / 'r.json'}",
        ],
        out / "r.json",
    ),
    "sr_tf.figure": lambda i, out: (
        figure.main,
        ["--model=bicubic", f"--hr={i.photo}", "--scale=2", "--crop=0,0,8", f"--output={out / 'f.png'}"],
        out / "f.png",
    ),
    "sr_tf.export": lambda i, out: (
        export_main.main,
        [f"--model={i.network}", f"--output={out / 'exp'}"],
        out / "exp",
    ),
    "sr_tf.train": lambda i, out: (
        train_cli.main,
        [*TINY_TRAIN, f"--train_data=folder:{i.photos}", "--steps=1", f"--run_dir={out / 'run'}"],
        out / "run",
    ),
    "sr_tf.convert": lambda i, out: (
        convert_main.main,
        [
            "--from=edsr_pytorch",
            f"--input={i.pt}",
            "--model=edsr_baseline",
            "--scale=2",
            f"--output={out / 'b.keras'}",
        ],
        out / "b.keras",
    ),
}


def messages(err):
    """The console's lines without tqdm's progress bars (`  0%|   | 0/3 [...]`, redrawn after a \\r)
    and without TensorFlow's retracing warning (in-process, earlier tests made many predictors)."""
    lines = [line.rsplit("\r", 1)[-1] for line in err.split("\n")]
    return [
        line
        for line in lines
        if line.strip() and not re.match(r"\s*\d+%\|", line) and "triggered tf.function retracing" not in line
    ]


def run(name, argv, capsys):
    main = {
        "sr_tf.upscale": upscale,
        "sr_tf.evaluate": evaluate,
        "sr_tf.figure": figure,
        "sr_tf.export": export_main,
        "sr_tf.train": train_cli,
        "sr_tf.convert": convert_main,
    }[name].main
    status = main([name, *argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("place", ["under_a_file", "read_only_disk"])
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_unwritable_output_is_one_line_naming_it_before_any_work(
    name, place, inputs, tmp_path, mount_tmpfs, listing, capsys
):
    if place == "under_a_file":
        blocked, reason = tmp_path / "afile", "is a file, not a folder"
        blocked.write_text("a file, not a folder")
    else:
        blocked, reason = mount_tmpfs("ro", read_only=True), "Read-only file system"
    before = listing(tmp_path)
    _, argv, output = COMMANDS[name](inputs, blocked / "new")
    status, out, err = run(name, argv, capsys)
    assert status == 1 and out == ""  # refused before the work (evaluate prints its table after it)
    assert len(messages(err)) == 1 and "Traceback" not in err
    assert messages(err)[0].startswith(f"{name}: error: cannot write {output}: ") and reason in err
    assert listing(tmp_path) == before


@pytest.mark.parametrize(
    "name",
    [
        n if n not in ("sr_tf.export", "sr_tf.train") else pytest.param(n, marks=pytest.mark.slow)
        for n in sorted(set(COMMANDS) - {"sr_tf.convert"})
    ],
)  # convert: test_convert.py
def test_missing_parent_folders_of_an_output_are_made(name, inputs, tmp_path, capsys):
    _, argv, output = COMMANDS[name](inputs, tmp_path / "new" / "deeper")
    status, _, err = run(name, argv, capsys)
    assert status == 0, err
    assert output.exists()


def test_upscaling_onto_a_full_disk_fails_in_one_line_and_leaves_nothing(
    tmp_path, mount_tmpfs, random_image, fill_disk, listing, capsys
):
    disk = mount_tmpfs("disk")
    for i in range(3):
        Image.fromarray(random_image(30, 30, i)).save(tmp_path / f"p{i}.png")
    (tmp_path / "p1.png").rename(tmp_path / "sub_p1.png")
    fill_disk(disk)
    status, out, err = run(
        "sr_tf.upscale",
        [
            "--model=bicubic",
            "--scale=2",
            f"--input={tmp_path}",
            f"--output={disk / 'out'}",
        ],
        capsys,
    )
    assert status == 1 and "Traceback" not in err
    assert messages(err) == [
        f"sr_tf.upscale: error: cannot write {disk / 'out'}/p0.png: No space left on device "
        "(0 of 3 image(s) written)"
    ]
    assert listing(disk) == ["filler"]  # no partial PNG, no output folder


def test_a_results_file_onto_a_full_disk_fails_in_one_line_and_leaves_nothing(
    inputs, mount_tmpfs, fill_disk, listing, capsys
):
    disk = mount_tmpfs("disk")
    fill_disk(disk)
    status, _, err = run(
        "sr_tf.evaluate",
        [
            "--model=bicubic",
            f"--benchmark_dir={inputs.bench}",
            "--sets=Tiny",
            "--scales=2",
            f"--results_json={disk / 'results' / 'r.json'}",
        ],
        capsys,
    )
    assert status == 1 and "Traceback" not in err
    assert messages(err) == [
        f"sr_tf.evaluate: error: cannot write {disk / 'results' / 'r.json'}: No space left on device"
    ]
    assert listing(disk) == ["filler"]


@pytest.mark.slow
def test_an_export_onto_a_full_disk_prints_one_line_and_leaves_nothing(
    inputs, mount_tmpfs, fill_disk, listing
):
    disk = mount_tmpfs("disk")
    fill_disk(disk)
    done = subprocess.run(
        [sys.executable, "-m", "sr_tf.export", f"--model={inputs.network}", f"--output={disk / 'exp'}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 1
    # TensorFlow's own lines about the failed op are dropped: the console shows the command's line only
    assert done.stderr == f"sr_tf.export: error: cannot write {disk / 'exp'}: No space left on device\n"
    assert listing(disk) == ["filler"]


EDGE_RUN = dict(val_images=1, steps=4, checkpoint_every=2, seed=1)  # checkpoints at steps 2 and 4


@pytest.mark.slow
def test_a_checkpoint_save_onto_a_full_disk_keeps_the_last_one_and_the_run_resumes(
    tiny_config, inputs, mount_tmpfs, fill_disk, monkeypatch
):
    disk = mount_tmpfs("disk", size="8m")
    run_dir = disk / "run"
    real_save = trainer.Trainer.save

    def save_on_a_full_disk(self):
        if self.step == 4:
            fill_disk(disk)
        return real_save(self)

    monkeypatch.setattr(trainer.Trainer, "save", save_on_a_full_disk)
    with pytest.raises(OutputError) as error:
        train_cli.train(tiny_config(run_dir, inputs.photos, **EDGE_RUN))
    assert str(error.value) == (
        f"cannot write {run_dir}/checkpoints/ckpt-4: No space left on device; the last complete "
        "checkpoint is step 2: free some space and rerun the same command to resume"
    )
    assert sorted(os.listdir(run_dir / "checkpoints")) == [
        "checkpoint",
        "ckpt-2.data-00000-of-00001",
        "ckpt-2.index",
    ]
    monkeypatch.undo()
    (disk / "filler").unlink()
    result = train_cli.train(tiny_config(run_dir, inputs.photos, **EDGE_RUN))
    assert result.step == 4 and runs.latest_checkpoint(run_dir).endswith("ckpt-4")


def wait_for(process, condition, what):
    """Polls until `condition()` (the child must still be running: it was asked to do much more)."""
    while not condition():
        assert process.poll() is None, f"the process ended before {what}"
        try:
            process.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            pass


@pytest.mark.slow
def test_ctrl_c_while_upscaling_a_folder_says_how_many_images_were_written(
    tmp_path, random_image, interruptible
):
    for i in range(24):
        Image.fromarray(random_image(32, 32, i)).save(tmp_path / f"p{i:02d}.png")
    out = tmp_path / "out"
    child = interruptible(
        [
            sys.executable,
            "-m",
            "sr_tf.upscale",
            "--model=bicubic",
            "--scale=2",
            "--tile=4",
            f"--input={tmp_path}",
            f"--output={out}",
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(
        child, lambda: out.is_dir() and any(p.suffix == ".png" for p in out.iterdir()), "writing an image"
    )
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    written = sorted(p.name for p in out.iterdir())
    assert child.returncode == 130 and "Traceback" not in err
    assert messages(err) == [f"sr_tf.upscale: interrupted: {len(written)} of 24 image(s) written"]
    assert 0 < len(written) < 24 and all(
        name.endswith(".png") and not name.startswith(".") for name in written
    )


@pytest.mark.slow
def test_ctrl_c_in_training_names_the_checkpoint_and_a_rerun_resumes(inputs, tmp_path, interruptible):
    args = [
        *TINY_TRAIN,
        f"--train_data=folder:{inputs.photos}",
        "--steps=100000",
        "--checkpoint_every=5",
        "--log_every=1",
        f"--run_dir={tmp_path / 'run'}",
    ]
    child = interruptible(
        [sys.executable, "-m", "sr_tf.train", *args], cwd=REPO, stderr=subprocess.PIPE, text=True
    )
    for line in child.stderr:
        match = re.search(r"step (\d+)/100000", line)
        if match and int(match.group(1)) >= 7:
            break
    child.send_signal(signal.SIGINT)
    err = child.stderr.read()
    child.wait(timeout=120)
    assert child.returncode == 130 and "Traceback" not in err
    stopped = re.fullmatch(
        r"sr_tf.train: interrupted at step (\d+); the last checkpoint is step (\d+), rerun the "
        r"same command to resume",
        err.strip().splitlines()[-1],
    )
    assert stopped and int(stopped.group(1)) >= 7 and int(stopped.group(2)) == int(stopped.group(1)) // 5 * 5
    assert runs.latest_checkpoint(tmp_path / "run").endswith(f"ckpt-{stopped.group(2)}")
    again = subprocess.run(
        [sys.executable, "-m", "sr_tf.train", *args[:-4], f"--steps={int(stopped.group(2)) + 1}", *args[-3:]],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"at step {stopped.group(2)}" in re.search(r"resumed from .*", again.stderr).group(0)


@pytest.mark.slow
def test_a_start_that_fails_on_a_truncated_photo_leaves_no_run_directory(
    tmp_path, make_photo_folder, random_image, capsys
):
    photos = make_photo_folder("six_and_a_truncated", count=6, size=48, seed=3)
    Image.fromarray(random_image(48, 48, 9)).save(photos / "at.png")
    data = (photos / "at.png").read_bytes()
    (photos / "at.png").write_bytes(data[: len(data) // 2])
    run_dir = tmp_path / "runs" / "x"
    status, _, err = run(
        "sr_tf.train",
        [*TINY_TRAIN, f"--train_data=folder:{photos}", "--steps=1", f"--run_dir={run_dir}"],
        capsys,
    )
    assert status == 1 and "at.png" in err and "truncated" in err and len(messages(err)) == 1
    assert not (tmp_path / "runs").exists()  # read after the run directory existed: removed, with its parent
    # so another network may use the same --run_dir afterwards
    (photos / "at.png").unlink()
    status, _, err = run(
        "sr_tf.train",
        [
            "--model=edsr_baseline",
            "--num_blocks=1",
            "--num_features=8",
            "--lr_patch=12",
            "--batch_size=4",
            "--val_images=1",
            "--noexport",
            "--steps=1",
            f"--train_data=folder:{photos}",
            f"--run_dir={run_dir}",
        ],
        capsys,
    )
    assert status == 0, err


def test_a_missing_validation_set_says_how_to_point_val_data_elsewhere(tmp_path):
    with pytest.raises(ValueError) as error:
        trainer.open_data("val_data", f"benchmark:{tmp_path}:Set5", 2, "valid")
    message = str(error.value)
    assert message.startswith(
        f"--val_data=benchmark:{tmp_path}:Set5: image folder not found: {tmp_path}/Set5/HR"
    )
    assert "point --val_data at" in message and "folder:<dir>" in message


@pytest.mark.slow
def test_a_budgeted_run_shows_minutes_of_the_budget(inputs, tmp_path, caplog, capsys):
    caplog.set_level("INFO")
    status = train_cli.main(
        [
            "sr_tf.train",
            *TINY_TRAIN,
            "--recipe=budget",
            "--max_minutes=0.01",
            "--log_every=5",
            f"--train_data=folder:{inputs.photos}",
            f"--run_dir={tmp_path / 'run'}",
        ]
    )
    assert status == 0, capsys.readouterr().err
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    assert progress and all(re.match(r"step \d+  \d+\.\d/0\.01 min  loss ", line) for line in progress), (
        progress
    )
    assert not any(str(trainer.UNBOUNDED_STEPS) in r.getMessage() for r in caplog.records)
    assert any("at most 0.01 minutes of training steps" in r.getMessage() for r in caplog.records)


def test_a_run_that_ends_below_bicubic_says_so_and_suggests_a_shipped_network():
    config = TrainConfig(run_dir="r", model="btsrn", scale=(2,), train_data="folder:photos", steps=10)
    below = trainer.TrainResult("r", 10, psnr={2: 33.1}, bicubic_psnr={2: 33.7})
    hint = trainer.below_bicubic_hint(config, below)
    assert "x2 ends 0.60 dB below bicubic" in hint and "--warm_start=pretrained:btsrn_x2" in hint
    mdsr = TrainConfig(run_dir="r", model="mdsr_baseline", scale=(2, 3, 4), steps=10)
    assert "pretrained:btsrn_x2 --model=btsrn" in trainer.below_bicubic_hint(mdsr, below)
    warm = TrainConfig(run_dir="r", model="btsrn", scale=(2,), steps=10, warm_start="pretrained:btsrn_x2")
    assert "train longer" in trainer.below_bicubic_hint(warm, below)
    above = trainer.TrainResult("r", 10, psnr={2: 34.0}, bicubic_psnr={2: 33.7})
    assert trainer.below_bicubic_hint(config, above) == ""
    help_text = train_cli.COMMAND.help_text()
    assert "pretrained:btsrn_x2 to fine-tune" in " ".join(help_text.split())
