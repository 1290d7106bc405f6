"""Training runs end to end on tiny models and images: outputs, resume, NaN stop, warm start, MDSR."""

import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tiny import TINY_BTSRN, TINY_EDSR

from sr_tf import models
from sr_tf.commands.train import train
from sr_tf.training import runs
from sr_tf.training.trainer import TrainingError, warm_start

pytestmark = pytest.mark.slow  # every test here trains a network or starts a process


def photo_like(rng, size):
    """A smooth image with some texture, so that the networks have something to learn."""
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([np.sin(6 * x + c) * np.cos(4 * y - c) for c in (0, 1, 2)], axis=-1)
    image = 127 + 90 * base + rng.normal(0, 12, (size, size, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i, size in enumerate((72, 80, 96, 160)):
        Image.fromarray(photo_like(rng, size)).save(folder / f"photo{i}.png")
    return folder


def weights_of(run_dir):
    network = models.open_network(run_dir)
    return [w.numpy() for w in network.weights]


def event_tags(log_dir):
    tags = set()
    for path in pathlib.Path(log_dir).rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags |= {value.tag for value in event.summary.value}
    return tags


def test_a_run_writes_flags_checkpoints_logs_and_a_saved_model(tiny_config, tmp_path, photo_folder):
    run_dir = tmp_path / "run"
    result = train(tiny_config(run_dir, photo_folder, export=True, validate_every=3))
    assert result.step == 6
    assert set(result.psnr) == set(result.bicubic_psnr) == {2}
    assert 10 < result.bicubic_psnr[2] < 60 and np.isfinite(result.psnr[2])
    flags = (run_dir / "flags.cfg").read_text().split()
    assert "--model=btsrn" in flags and "--steps=6" in flags and f"--run_dir={run_dir}" in flags
    description = json.loads((run_dir / "model.json").read_text())  # the network's own description
    assert description == {"model": "btsrn", "scales": [2], "options": {"block": "pconv", **TINY_BTSRN}}
    assert description == models.describe(models.open_network(run_dir))
    assert runs.latest_checkpoint(run_dir).endswith("ckpt-6")
    tags = event_tags(run_dir / "logs")
    assert {
        "loss",
        "learning_rate",
        "steps_per_second",
        "psnr_x2",
        "bicubic_psnr_x2",
        "bicubic_output_truth_x2",
        "_hparams_/session_start_info",
    } <= tags
    reloaded = tf.saved_model.load(result.saved_model)
    lr = np.random.default_rng(0).integers(0, 256, (11, 13, 3), dtype=np.uint8)
    assert "serving_default" in reloaded.signatures
    network = models.open_network(run_dir)
    from sr_tf.models import build_inference_model

    expected = build_inference_model(network, "btsrn", 2)(lr[None])[0].numpy()
    outputs = reloaded.signatures["serving_default"](tf.constant(lr))
    np.testing.assert_array_equal(next(iter(outputs.values())).numpy().reshape(expected.shape), expected)


def test_resuming_continues_exactly_where_the_run_stopped(tiny_config, tmp_path, photo_folder):
    """4 steps, then the same run resumed to 8, equals 8 steps at once: weights, optimizer, data."""
    straight = tmp_path / "straight"
    train(tiny_config(straight, photo_folder, steps=8, checkpoint_every=4))
    resumed = tmp_path / "resumed"
    train(tiny_config(resumed, photo_folder, steps=4, checkpoint_every=4))
    first_half = weights_of(resumed)
    result = train(tiny_config(resumed, photo_folder, steps=8, checkpoint_every=4))
    assert result.step == 8
    for a, b in zip(weights_of(straight), weights_of(resumed)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first_half, weights_of(resumed)))


def test_a_run_directory_refuses_another_network(tiny_config, tmp_path, photo_folder):
    train(tiny_config(tmp_path / "run", photo_folder, steps=1))
    with pytest.raises(runs.RunError, match="use a new --run_dir"):
        train(tiny_config(tmp_path / "run", photo_folder, model_options={**TINY_BTSRN, "width": 16}))


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_config, tmp_path, photo_folder):
    run_dir = tmp_path / "run"
    train(tiny_config(run_dir, photo_folder, steps=3))
    with pytest.raises(TrainingError, match="loss became (nan|inf).*last good checkpoint"):
        train(tiny_config(run_dir, photo_folder, steps=40, learning_rate=1e30, checkpoint_every=1))
    # Checkpoints were saved every step until the bad one, which was not saved.
    assert all(np.all(np.isfinite(w)) for w in weights_of(run_dir))


def test_grid_mode_epochs_drive_the_0618_schedule(tiny_config, tmp_path, photo_folder):
    """The 160x160 photo holds one 108x108 grid patch; an epoch is two grid passes (as the release's
    original + rot90 versions), so 2 steps per epoch at batch 1 and a 0.618 decay every 2 steps."""
    run_dir = tmp_path / "run"
    config = tiny_config(
        run_dir, photo_folder, patch_mode="grid", hr_patch=108, batch_size=1, steps=None, epochs=3
    )
    result = train(config)
    assert result.step == 6
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(
        str(run_dir / "logs" / "train"), size_guidance={"tensors": 0}
    )
    accumulator.Reload()
    rates = [float(tf.make_ndarray(e.tensor_proto)) for e in accumulator.Tensors("learning_rate")]
    expected = [0.001 * 0.618**epoch for epoch in (0, 0, 1, 1, 2, 2)]
    np.testing.assert_allclose(rates, expected, rtol=1e-6)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains(tiny_config, tmp_path, photo_folder, precision):
    result = train(tiny_config(tmp_path / "run", photo_folder, steps=2, mixed_precision=precision))
    assert result.step == 2 and np.isfinite(result.psnr[2])
    assert keras.mixed_precision.global_policy().name == "float32"  # restored afterwards


def test_mirrored_training_over_two_cpu_replicas(tiny_config, tmp_path, photo_folder):
    result = train(tiny_config(tmp_path / "run", photo_folder, steps=2, distribution="mirrored"))
    assert result.step == 2 and np.isfinite(result.psnr[2])


def test_mdsr_trains_every_scale_through_one_network(tiny_config, tmp_path, photo_folder):
    config = tiny_config(
        tmp_path / "run",
        photo_folder,
        model="mdsr_baseline",
        scale=(2, 3),
        model_options=TINY_EDSR,
        hr_patch=None,
        lr_patch=8,
        steps=6,
        loss="l1",
        export=True,
    )
    result = train(config)
    assert set(result.psnr) == {2, 3}
    assert sorted(p.name for p in (tmp_path / "run" / "saved_model").iterdir()) == ["x2", "x3"]


def test_warm_start_copies_matching_weights_from_an_x2_run(tiny_config, tmp_path, photo_folder):
    x2 = tmp_path / "x2"
    edsr = dict(model="edsr_baseline", model_options=TINY_EDSR, hr_patch=None, lr_patch=8, loss="l1")
    train(tiny_config(x2, photo_folder, steps=2, **edsr))
    source = dict((w.path, w.numpy()) for w in models.open_network(x2).weights)
    from sr_tf.models import build_model

    for scale, fresh in (
        (4, {"up_1_conv/kernel", "up_1_conv/bias"}),
        (3, {"up_0_conv/kernel", "up_0_conv/bias"}),
    ):
        target = build_model("edsr_baseline", scale, **TINY_EDSR)
        copied, skipped = warm_start(target, str(x2))
        assert {s.split(" ")[0] for s in skipped} == fresh
        for weight in target.weights:
            if weight.path in copied:
                np.testing.assert_array_equal(weight.numpy(), source[weight.path])
    result = train(
        tiny_config(tmp_path / "x4", photo_folder, steps=1, scale=(4,), warm_start=str(x2), **edsr)
    )
    assert result.step == 1


def test_a_time_budget_stops_the_run_and_results_json_records_it(tiny_config, tmp_path, photo_folder):
    run_dir = tmp_path / "run"
    result = train(tiny_config(run_dir, photo_folder, steps=10_000, max_minutes=0.0001, validate_every=1))
    assert 1 <= result.step < 10_000  # stopped by the 6 ms budget, after the step that crossed it
    saved = json.loads((run_dir / "results.json").read_text())
    assert saved["step"] == result.step and saved["train_seconds"] >= 0.006
    assert set(saved["psnr"]) == {"x2"} and saved["peak_memory_mb"] > 100
    assert "psnr_x2_by_seconds" in event_tags(run_dir / "logs")


def test_a_second_process_in_the_same_run_directory_stops_naming_the_holder(
    tiny_config, tmp_path, photo_folder
):
    run_dir = tmp_path / "run"
    holder = runs.RunLock(run_dir).acquire()  # as a first run would hold it
    try:
        with pytest.raises(runs.RunError, match=rf"{run_dir} is in use: pid \d+ on .* is training there"):
            train(tiny_config(run_dir, photo_folder))
    finally:
        holder.release()
    assert not (run_dir / "checkpoints").exists()


def test_a_killed_runs_lock_does_not_block_a_rerun(tmp_path):
    import signal
    import subprocess
    import sys

    script = (
        "import sys, time; from sr_tf.training.runs import RunLock; lock = RunLock(sys.argv[1]).acquire(); "
        "print('locked', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    with pytest.raises(runs.RunError, match=f"pid {child.pid}"):
        runs.RunLock(tmp_path).acquire()
    child.send_signal(signal.SIGKILL)
    child.wait()
    runs.RunLock(tmp_path).acquire().release()


def test_an_empty_run_dir_and_a_failed_start_leave_nothing(tiny_config, tmp_path, photo_folder):
    with pytest.raises(ValueError, match="--run_dir is empty"):
        tiny_config("", photo_folder).resolved()
    run_dir = tmp_path / "never"
    with pytest.raises(ValueError):
        train(tiny_config(run_dir, photo_folder, train_data=f"folder:{tmp_path / 'no_such_folder'}"))
    assert not run_dir.exists()


def test_a_start_that_fails_after_taking_the_lock_releases_it(
    tiny_config, tmp_path, photo_folder, monkeypatch
):
    from sr_tf.training import trainer

    run_dir = tmp_path / "run"
    run_dir.mkdir()

    def broken(description):
        raise RuntimeError("network cannot be built")

    monkeypatch.setattr(trainer.models, "from_description", broken)
    with pytest.raises(RuntimeError, match="cannot be built"):
        train(tiny_config(run_dir, photo_folder))
    runs.RunLock(run_dir).acquire().release()  # free at once, not when garbage is collected


def test_an_interrupted_checkpoint_save_is_cleaned_up_and_bicubic_is_logged_from_the_start(
    tiny_config, tmp_path, photo_folder
):
    run_dir = tmp_path / "run"
    train(tiny_config(run_dir, photo_folder, steps=3, validate_every=1))
    partial = run_dir / "checkpoints" / "ckpt-6_temp"
    partial.mkdir()
    (partial / "half_written").write_text("x")
    result = train(tiny_config(run_dir, photo_folder, steps=6, validate_every=1))
    assert result.step == 6 and not partial.exists()
    assert runs.latest_checkpoint(run_dir).endswith("ckpt-6")
    first_bicubic = set()
    for path in (run_dir / "logs").rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            if any(value.tag == "bicubic_psnr_x2" for value in event.summary.value):
                first_bicubic.add(event.step)
    assert min(first_bicubic) == 1


def test_a_folder_without_val_data_holds_out_images_or_says_it_validates_on_training_images(
    tiny_config, tmp_path, photo_folder, make_photo_folder
):
    from sr_tf.data import held_out_split, image_folder

    folder = make_photo_folder("ten_photos", count=10, size=40, seed=5)
    train_part, held = held_out_split(image_folder(folder, 2))
    assert len(train_part) == 9 and len(held) == 1 and set(held.names).isdisjoint(train_part.names)
    assert held_out_split(image_folder(folder, 2))[1].names == held.names  # deterministic
    result = train(tiny_config(tmp_path / "held", folder, steps=1, val_images=0))
    assert (
        result.validation_images.startswith("1 images held out") and held.names[0] in result.validation_images
    )
    few = train(tiny_config(tmp_path / "few", photo_folder, steps=1))
    assert "training-set PSNR" in few.validation_images
    assert (
        "training-set PSNR"
        in json.loads((tmp_path / "few" / "results.json").read_text())["validation_images"]
    )


def test_a_checkpoint_holds_weights_and_optimizer_only(tiny_config, tmp_path, photo_folder):
    run_dir = tmp_path / "run"
    train(tiny_config(run_dir, photo_folder, steps=3))
    network = models.open_network(run_dir)
    weight_bytes = 4 * sum(int(np.prod(w.shape)) for w in network.weights)
    data = sum(p.stat().st_size for p in (run_dir / "checkpoints").glob("ckpt-3.data-*"))
    images = sum(int(np.prod(Image.open(f).size)) * 3 for f in photo_folder.glob("*.png"))  # decoded HR bytes
    # weights + Adam's two slots, plus the object graph and scalars: no image cache, no shuffle buffers
    assert 2 * weight_bytes < data < 3 * weight_bytes + 16 * 1024 < images
