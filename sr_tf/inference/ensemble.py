"""Geometric self-ensemble (EDSR's "+", BTSRN's test-time flips and rotations), optionally spread
over the replicas of a tf.distribute strategy.

The 8 dihedral transforms of the LR image go through the network one at a time (a transposed
copy of a non-square image has another shape, so they are never stacked), each output is
transformed back, and the 8 float outputs are averaged before quantisation. With a strategy of
N replicas the transforms are handed out N at a time, one per replica; a replica with nothing
left in the last round repeats a transform whose result is dropped, so no replica ever gets an
empty input (oneDNN's Conv2D fails on empty batches). The average is always summed on the host
in transform order 0..7, so the result is the same bit for bit with or without a strategy.
"""

import numpy as np
import tensorflow as tf

from sr_tf.data.dihedral import NUM_TRANSFORMS, dihedral, undo_dihedral

IMAGE = tf.TensorSpec((None, None, 3), tf.uint8)


def _transform_rounds(replicas):
    """[[k, ...]] per round, each of exactly `replicas` entries (the last padded by repetition)."""
    rounds = []
    for start in range(0, NUM_TRANSFORMS, replicas):
        ks = list(range(start, min(start + replicas, NUM_TRANSFORMS)))
        rounds.append(ks + [ks[-1]] * (replicas - len(ks)))
    return rounds


class SelfEnsemble:
    """`SelfEnsemble(float_fn, strategy)(lr)`: the mean of undo_k(float_fn(transform_k(lr))) over
    the 8 transforms, float32 numpy (s*H, s*W, 3).

    `float_fn`: uint8 [h, w, 3] -> float32 [s*h, s*w, 3] (0..255 units, before rounding), callable
    inside a tf.function when a multi-replica `strategy` is given.
    """

    def __init__(self, float_fn, strategy=None):
        self.float_fn = float_fn
        self.strategy = strategy if strategy is not None and strategy.num_replicas_in_sync > 1 else None
        # Both paths call float_fn from inside a tf.function: grappler optimises a nested call
        # differently from a direct one (last-bit float differences), so the two must match.
        self._run_one = tf.function(self._call, input_signature=[IMAGE])
        if self.strategy is not None:
            replicas = self.strategy.num_replicas_in_sync
            self._run_on_replicas = tf.function(self._replica_step, input_signature=[[IMAGE] * replicas])

    def _call(self, image):
        return self.float_fn(image)

    def _replica_step(self, images):
        # `images`: one image per replica, as plain tensors so that one input signature covers
        # every shape (per-replica values would retrace for each new image size). strategy.run
        # gets a plain method: it would re-wrap a tf.function with its input signature and fail.
        inputs = self.strategy.experimental_distribute_values_from_function(
            lambda context: images[context.replica_id_in_sync_group]
        )
        return self.strategy.run(self._call, args=(inputs,))

    def _outputs_one_device(self, lr):
        return [undo_dihedral(self._run_one(dihedral(lr, k)), k) for k in range(NUM_TRANSFORMS)]

    def _outputs_on_replicas(self, lr):
        strategy = self.strategy
        outputs = [None] * NUM_TRANSFORMS
        for ks in _transform_rounds(strategy.num_replicas_in_sync):
            results = self._run_on_replicas([dihedral(lr, k) for k in ks])
            for k, result in zip(ks, strategy.experimental_local_results(results)):
                if outputs[k] is None:
                    outputs[k] = undo_dihedral(result, k)
        return outputs

    def __call__(self, lr):
        lr = tf.convert_to_tensor(np.asarray(lr))
        outputs = self._outputs_one_device(lr) if self.strategy is None else self._outputs_on_replicas(lr)
        total = np.array(outputs[0], np.float32)
        for output in outputs[1:]:
            total += np.asarray(output, np.float32)
        return total / np.float32(NUM_TRANSFORMS)
