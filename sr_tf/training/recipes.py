"""Training recipes: the schedules, optimisers and losses that turn a model spec's `Recipe` into
training (the numbers are declared once, with each model, in sr_tf/models/specs.py).

BTSRN (release run.sh): Adam(1e-3, 0.9, 0.999, 1e-8); learning rate 0.001 x 0.618^k during epoch
k = 0..15 (16 epochs, one epoch = one pass over the patch grid), Adam state kept throughout;
MSE between the network output and HR - bicubic(LR) on the valid centre; batch 32 of 108x108 HR
patches on the release's grid.
EDSR / MDSR (paper 4.2, official flags): Adam(1e-4, 0.9, 0.999, 1e-8); learning rate halved every
2e5 updates, 3e5 updates; L1 on 0..255 values; batch 16 of 48x48 LR patches, random crops.
Budget (ours, `--recipe=budget`, for a fixed CPU time): the same networks and Adam, the learning
rate warmed up linearly then decayed to zero on a cosine over the *fraction of the budget spent*
(the larger of steps / --steps and training seconds / --max_minutes), so a run anneals exactly as
its time runs out; random patches. The values were chosen by measured runs (docs/results.md).
"""

import math

from sr_tf.core.lazy import keras, tf
from sr_tf.models import get_spec

LR_SCHEDULES = ("step", "cosine")


def recipe_for(model, name="release"):
    """The recipe `name` ('release' or 'budget') of a model; ValueError naming --recipe otherwise."""
    return get_spec(model).recipe(name)


def patch_settings(model, recipe="release"):
    """The `training_dataset` patch options of a model's recipe (e.g. 'btsrn': the release's grid)."""
    from sr_tf.data.pipeline import GRID_BORDER

    values = recipe_for(model, recipe)
    if values.patch_mode == "grid":
        return {
            "mode": "grid",
            "hr_patch": values.hr_patch,
            "border": GRID_BORDER,
            "stride": values.hr_patch - 2 * GRID_BORDER,
        }
    size = {"hr_patch": values.hr_patch} if values.hr_patch else {"lr_patch": values.lr_patch}
    return {"mode": values.patch_mode, **size}


def budget_learning_rate(peak, progress, warmup_fraction):
    """The budget recipe's rate at `progress` (0..1 of the budget): linear warm-up, cosine to zero."""
    progress = min(max(float(progress), 0.0), 1.0)
    if progress < warmup_fraction:
        return peak * max(progress / warmup_fraction, 0.01)
    decayed = (progress - warmup_fraction) / max(1.0 - warmup_fraction, 1e-9)
    return peak * 0.5 * (1.0 + math.cos(math.pi * decayed))


def learning_rate_schedule(initial, decay_factor, decay_steps):
    """initial x decay_factor ^ floor(step / decay_steps): a per-epoch or per-N-steps step decay."""
    return keras.optimizers.schedules.ExponentialDecay(
        initial, decay_steps=decay_steps, decay_rate=decay_factor, staircase=True
    )


def make_optimizer(recipe, learning_rate, mixed_precision="none"):
    """Adam with the recipe's betas and epsilon; `learning_rate` a number or a schedule."""
    optimizer = keras.optimizers.Adam(
        learning_rate=learning_rate,
        beta_1=recipe.beta_1,
        beta_2=recipe.beta_2,
        epsilon=recipe.epsilon,
    )
    if mixed_precision == "fp16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def per_example_loss(loss, prediction, target):
    """Mean over each example's pixels and channels: (batch,) losses for tf.nn.compute_average_loss."""
    error = tf.cast(prediction, tf.float32) - tf.cast(target, tf.float32)
    if loss == "mse_residual":
        return tf.reduce_mean(tf.square(error), axis=[1, 2, 3])
    if loss == "l1":
        return tf.reduce_mean(tf.abs(error), axis=[1, 2, 3])
    raise ValueError(f"--loss must be mse_residual or l1, got {loss!r}")
