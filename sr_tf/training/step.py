"""One training step, distributed over the replicas of a tf.distribute strategy."""

import tensorflow as tf

from sr_tf import models
from sr_tf.training import recipes


def make_train_step(strategy, network, optimizer, model, loss, scale, global_batch_size):
    """A tf.function(iterator) -> loss that trains `network` (an MDSR branch for MDSR) on one batch.

    `model` (a name or spec) says how inputs and targets are made from the uint8 patches.

    `iterator` is a plain (checkpointable) iterator over global batches. Every replica receives the
    global batch and takes its own slice, numbered across all workers; the per-example losses are
    averaged over the global batch. So one replica and N replicas see the same data and give the
    same loss and update, and workers with the same seeded pipeline split each batch between them.
    """
    if not optimizer.built:
        raise ValueError(
            "build the optimizer under the strategy's scope with every trainable variable of the model "
            "(for MDSR all branches) before making train steps: optimizer.build(model.trainable_variables)"
        )
    variables = network.trainable_variables
    spec = models.get_spec(model)
    margin = models.valid_margin(network, scale)

    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise ValueError(f"--batch_size={global_batch_size} must be a multiple of the {replicas} replicas")
    per_replica = global_batch_size // replicas

    def replica_step(lr, hr):
        start = tf.distribute.get_replica_context().replica_id_in_sync_group * per_replica
        lr, hr = lr[start : start + per_replica], hr[start : start + per_replica]
        with tf.GradientTape() as tape:
            prediction = network(spec.network_inputs(lr), training=True)
            target = spec.training_target(lr, hr, scale, margin)
            per_example = recipes.per_example_loss(loss, prediction, target)
            batch_loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
            scaled_loss = optimizer.scale_loss(batch_loss)
        gradients = tape.gradient(scaled_loss, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        return batch_loss

    @tf.function
    def step(iterator):
        lr, hr = next(iterator)
        losses = strategy.run(replica_step, args=(lr, hr))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    return step
