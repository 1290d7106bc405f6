"""The training recipes and the train step: exact schedules, losses, replicas, MDSR branch isolation."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import TINY_BTSRN, TINY_EDSR

from sr_tf import models
from sr_tf.core import devices as distribute
from sr_tf.training import recipes
from sr_tf.training.config import TrainConfig, config_to_flags
from sr_tf.training.step import make_train_step


def test_btsrn_schedule_is_0618_per_epoch_for_16_epochs():
    recipe = models.get_spec("btsrn").recipe("release")
    assert (recipe.learning_rate, recipe.lr_decay_factor, recipe.epochs, recipe.batch_size) == (
        1e-3,
        0.618,
        16,
        32,
    )
    steps_per_epoch = 7
    schedule = recipes.learning_rate_schedule(recipe.learning_rate, recipe.lr_decay_factor, steps_per_epoch)
    for epoch in range(16):
        for step in (epoch * steps_per_epoch, (epoch + 1) * steps_per_epoch - 1):
            assert float(schedule(step)) == pytest.approx(0.001 * 0.618**epoch, rel=1e-6)
    # run.sh's awk printed 6 significant digits: the same rates to within that rounding.
    release = [
        0.001,
        0.000618,
        0.000381924,
        0.000236029,
        0.000145866,
        9.01452e-5,
        5.57097e-5,
        3.44286e-5,
        2.12769e-5,
        1.31491e-5,
        8.12614e-6,
        5.02195e-6,
        3.10357e-6,
        1.91801e-6,
        1.18533e-6,
        7.32534e-7,
    ]
    ours = [float(schedule(k * steps_per_epoch)) for k in range(16)]
    np.testing.assert_allclose(ours, release, rtol=5e-6)


def test_edsr_schedule_halves_every_2e5_steps_over_3e5():
    recipe = models.get_spec("edsr").recipe("release")
    assert (
        recipe.learning_rate,
        recipe.lr_decay_every,
        recipe.steps,
        recipe.batch_size,
        recipe.lr_patch,
    ) == (1e-4, 200_000, 300_000, 16, 48)
    schedule = recipes.learning_rate_schedule(
        recipe.learning_rate, recipe.lr_decay_factor, recipe.lr_decay_every
    )
    assert float(schedule(0)) == pytest.approx(1e-4)
    assert float(schedule(199_999)) == pytest.approx(1e-4)
    assert float(schedule(200_000)) == pytest.approx(5e-5)
    assert float(schedule(299_999)) == pytest.approx(5e-5)
    assert models.get_spec("mdsr").recipe("release") == recipe


@pytest.mark.parametrize("name", ["btsrn", "edsr"])
def test_adam_is_the_official_one(name):
    recipe = models.get_spec(name).recipe("release")
    schedule = recipes.learning_rate_schedule(recipe.learning_rate, recipe.lr_decay_factor, 10)
    optimizer = recipes.make_optimizer(recipe, schedule)
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == (0.9, 0.999, 1e-8)
    assert float(optimizer.learning_rate) == pytest.approx(recipe.learning_rate)
    assert isinstance(recipes.make_optimizer(recipe, 1e-3, "fp16"), keras.optimizers.LossScaleOptimizer)


def test_residual_target_is_hr_minus_bicubic_on_the_valid_centre():
    rng = np.random.default_rng(0)
    lr = rng.integers(0, 256, (2, 54, 54, 3), dtype=np.uint8)
    hr = rng.integers(0, 256, (2, 108, 108, 3), dtype=np.uint8)
    target = models.get_spec("btsrn").training_target(lr, hr, 2, 16).numpy()
    bicubic = tf.image.resize(lr.astype(np.float32) / 255, (108, 108), "bicubic").numpy()
    expected = (hr.astype(np.float32) / 255 - bicubic)[:, 16:-16, 16:-16]
    assert target.shape == (2, 76, 76, 3)
    np.testing.assert_allclose(target, expected, atol=1e-5)


def test_losses_are_mse_and_l1_means():
    prediction = np.array([[[[1.0, 2.0, 3.0]]], [[[0.0, 0.0, 0.0]]]], np.float32)
    target = np.zeros_like(prediction)
    np.testing.assert_allclose(recipes.per_example_loss("mse_residual", prediction, target), [14 / 3, 0])
    np.testing.assert_allclose(recipes.per_example_loss("l1", prediction, target), [2, 0])


def one_batch_dataset(name, scale, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    lr_size = 108 // scale if name == "btsrn" else 12
    lr = rng.integers(0, 256, (batch, lr_size, lr_size, 3), dtype=np.uint8)
    hr = rng.integers(0, 256, (batch, lr_size * scale, lr_size * scale, 3), dtype=np.uint8)
    return tf.data.Dataset.from_tensors((lr, hr)).repeat()


def train_steps(strategy, name, scale, options, loss, steps=2):
    with strategy.scope():
        keras.utils.set_random_seed(1)
        network = models.build_model(name, scale, **options)
        optimizer = keras.optimizers.Adam(1e-3, epsilon=1e-8)
        optimizer.build(network.trainable_variables)
    iterator = iter(one_batch_dataset(name, scale))
    step = make_train_step(strategy, network, optimizer, name, loss, scale, 4)
    losses = [float(step(iterator)) for _ in range(steps)]
    return losses, [w.numpy() for w in network.trainable_weights]


@pytest.mark.parametrize(
    "name,options,loss", [("btsrn", TINY_BTSRN, "mse_residual"), ("edsr_baseline", TINY_EDSR, "l1")]
)
def test_one_and_two_replicas_give_the_same_loss_and_weights(name, options, loss):
    two = distribute.make_strategy("mirrored")
    assert two.num_replicas_in_sync == 2
    losses_1, weights_1 = train_steps(tf.distribute.get_strategy(), name, 2, options, loss)
    losses_2, weights_2 = train_steps(two, name, 2, options, loss)
    np.testing.assert_allclose(losses_1, losses_2, rtol=1e-5)
    assert losses_1[1] != losses_1[0]  # the first step changed the weights
    for a, b in zip(weights_1, weights_2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_mdsr_step_moves_only_the_drawn_branch_and_shared_layers():
    network = models.build_model("mdsr_baseline", (2, 3), **TINY_EDSR)
    optimizer = keras.optimizers.Adam(1e-3, epsilon=1e-8)
    optimizer.build(network.trainable_variables)
    before = {w.path: w.numpy() for w in network.trainable_weights}
    slots_before = [v.numpy() for v in optimizer.variables]
    strategy = tf.distribute.get_strategy()
    branch = models.mdsr_branch(network, 2)
    step = make_train_step(strategy, branch, optimizer, "mdsr_baseline", "l1", 2, 4)
    step(iter(one_batch_dataset("mdsr", 2)))
    after = {w.path: w.numpy() for w in network.trainable_weights}
    moved = {path for path in before if not np.array_equal(before[path], after[path])}
    assert moved and all("x3" not in path for path in moved)
    assert {
        "head/kernel",
        "body_0_conv1/kernel",
        "tail/kernel",
        "up_x2_0_conv/kernel",
        "pre_x2_0_conv1/kernel",
    } <= moved
    for variable, old in zip(optimizer.variables, slots_before):
        if "x3" in variable.path:
            np.testing.assert_array_equal(variable.numpy(), old)  # the x3 branch's Adam slots stay put


def test_config_resolves_recipes_and_round_trips_to_flags():
    config = TrainConfig(run_dir="/tmp/run", model="edsr_baseline", scale=(3,), steps=10).resolved()
    assert (config.batch_size, config.lr_patch, config.hr_patch, config.patch_mode, config.loss) == (
        16,
        48,
        0,
        "random",
        "l1",
    )
    btsrn = TrainConfig(run_dir="/tmp/run", model="btsrn", model_options={"block": "gated"}).resolved()
    assert (btsrn.epochs, btsrn.hr_patch, btsrn.patch_mode, btsrn.learning_rate) == (16, 108, "grid", 1e-3)
    lines = config_to_flags(btsrn)
    assert "--block=gated" in lines and "--scale=2" in lines and "--epochs=16" in lines
    with pytest.raises(ValueError, match="do not apply"):
        TrainConfig(run_dir="r", model="edsr", model_options={"block": "pconv"}).resolved()
    with pytest.raises(ValueError, match="one value"):
        TrainConfig(run_dir="r", model="edsr", scale=(2, 3)).resolved()


@pytest.mark.parametrize("model", ["btsrn", "edsr_baseline", "mdsr"])
def test_resolving_a_resolved_config_changes_nothing(model):
    scale = (2, 3) if model == "mdsr" else (2,)
    once = TrainConfig(run_dir="r", model=model, scale=scale).resolved()
    assert once.resolved() == once
    assert (once.epochs, once.steps) == ((16, 0) if model == "btsrn" else (0, 300_000))


def test_every_setting_is_one_flag_and_round_trips(tmp_path):
    """Flags are generated from TrainConfig's fields: parsing the flag lines of a config gives it back."""
    import dataclasses

    from absl import flags

    from sr_tf.training import config as training_config

    values = flags.FlagValues()
    training_config.define_flags(values)
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"model_options"}
    options = set(training_config.option_flags())
    assert fields | options == set(values) - {"flagfile", "undefok"} - set(flags.FlagValues())
    config = TrainConfig(
        run_dir=str(tmp_path),
        model="btsrn",
        model_options={"block": "gated"},
        recipe="budget",
        max_minutes=3.0,
    ).resolved()
    values(["prog", *config_to_flags(config)])
    assert training_config.config_from_flags(values).resolved() == config


def test_budget_schedule_warms_up_then_anneals_to_zero():
    rates = [recipes.budget_learning_rate(1e-3, p, 0.1) for p in (0.0, 0.05, 0.1, 0.55, 1.0)]
    assert rates[0] == pytest.approx(1e-5) and rates[1] == pytest.approx(5e-4)
    assert (
        rates[2] == pytest.approx(1e-3) and rates[3] == pytest.approx(5e-4) and rates[4] == pytest.approx(0.0)
    )
