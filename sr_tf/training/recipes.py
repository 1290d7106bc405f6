"""The training recipes, exactly as the release (BTSRN) and the EDSR paper/code give them.

BTSRN (release run.sh): Adam(1e-3, 0.9, 0.999, 1e-8); learning rate 0.001 x 0.618^k during epoch
k = 0..15 (16 epochs, one epoch = one pass over the patch grid), Adam state kept throughout;
MSE between the network output and HR - bicubic(LR) on the valid centre; batch 32 of 108x108 HR
patches on the release's grid.
EDSR / MDSR (paper 4.2, official flags): Adam(1e-4, 0.9, 0.999, 1e-8); learning rate halved every
2e5 updates, 3e5 updates; L1 on 0..255 values; batch 16 of 48x48 LR patches, random crops.
"""
import dataclasses
import functools

import keras
import tensorflow as tf

from sr_tf.models.layers import BicubicUpsample


@dataclasses.dataclass(frozen=True)
class Recipe:
    learning_rate: float
    lr_decay_factor: float
    lr_decay_every: int  # steps; 0 means once per epoch
    epochs: int  # 0 when the length is given in steps
    steps: int
    batch_size: int
    loss: str
    patch_mode: str
    hr_patch: int  # 0 when the LR patch size is given
    lr_patch: int
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8  # the official value; Keras defaults to 1e-7


RECIPES = {
    "btsrn": Recipe(
        learning_rate=1e-3, lr_decay_factor=0.618, lr_decay_every=0, epochs=16, steps=0,
        batch_size=32, loss="mse_residual", patch_mode="grid", hr_patch=108, lr_patch=0,
    ),
    "edsr": Recipe(
        learning_rate=1e-4, lr_decay_factor=0.5, lr_decay_every=200_000, epochs=0, steps=300_000,
        batch_size=16, loss="l1", patch_mode="random", hr_patch=0, lr_patch=48,
    ),
}
RECIPES["mdsr"] = RECIPES["edsr"]


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


@functools.lru_cache(maxsize=None)
def bicubic_layer(scale):
    return BicubicUpsample(scale)


def residual_target(lr, hr, scale, margin):
    """BTSRN's target: HR - bicubic(LR) in [0, 1] units, cropped to the network's valid centre.

    The bicubic term reaches 2 LR pixels (2 * scale HR pixels) from each output pixel, less than
    the margin, so per-patch bicubic equals full-image bicubic on the cropped region.
    """
    lr = tf.cast(lr, tf.float32) / 255.0
    hr = tf.cast(hr, tf.float32) / 255.0
    residual = hr - bicubic_layer(scale)(lr)
    if margin:
        residual = residual[:, margin:-margin, margin:-margin, :]
    return residual


def per_example_loss(loss, prediction, target):
    """Mean over each example's pixels and channels: (batch,) losses for tf.nn.compute_average_loss."""
    error = tf.cast(prediction, tf.float32) - tf.cast(target, tf.float32)
    if loss in ("mse", "mse_residual"):
        return tf.reduce_mean(tf.square(error), axis=[1, 2, 3])
    if loss == "l1":
        return tf.reduce_mean(tf.abs(error), axis=[1, 2, 3])
    raise ValueError(f"--loss must be mse_residual or l1, got {loss!r}")
