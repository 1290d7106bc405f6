"""Self-ensemble: the 8 transforms undone and averaged; the same result over 2 replicas."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import TINY_OPTIONS

from sr_tf import models
from sr_tf.core import devices as distribute
from sr_tf.inference import ensemble
from sr_tf.inference.options import InferenceOptions
from sr_tf.inference.predictor import network_predictor

TINY = TINY_OPTIONS
IMAGE = tf.TensorSpec((None, None, 3), tf.uint8)


def random_image(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture
def strategy():
    strategy = distribute.make_strategy("mirrored")  # the 2 logical CPUs conftest configures
    assert strategy.num_replicas_in_sync == 2
    return strategy


def tiny_predictor(name, scale):
    keras.utils.set_random_seed(7)
    network = models.build_model(name, scale, **TINY[name])
    return network_predictor(network, name, scale, f"tiny {name}")


def test_rounds_never_leave_a_replica_empty():
    assert ensemble._transform_rounds(2) == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert ensemble._transform_rounds(3) == [[0, 1, 2], [3, 4, 5], [6, 7, 7]]
    assert ensemble._transform_rounds(5) == [[0, 1, 2, 3, 4], [5, 6, 7, 7, 7]]
    assert ensemble._transform_rounds(8) == [list(range(8))]


def test_each_transform_is_undone():
    # Nearest-neighbour upsampling commutes with flips and transposes, so the ensemble is the plain output.
    @tf.function(input_signature=[IMAGE])
    def nearest(image):
        return tf.repeat(tf.repeat(tf.cast(image, tf.float32), 3, axis=0), 3, axis=1)

    lr = random_image(5, 9)
    assert np.array_equal(ensemble.SelfEnsemble(nearest)(lr), nearest(lr).numpy())


def test_ensemble_is_the_mean_of_the_transformed_outputs():
    @tf.function(input_signature=[IMAGE])
    def first_row_bias(image):  # not equivariant: adds 8 to the first row only
        x = tf.cast(image, tf.float32)
        return tf.concat([x[:1] + 8.0, x[1:]], axis=0)

    lr = random_image(4, 6)
    out = ensemble.SelfEnsemble(first_row_bias)(lr)
    # Undone, the biased row lands on: row 0 (k = 0, 1), the last row (up-down flip: k = 2, 3),
    # column 0 (transposed: k = 4, 6) or the last column (left-right flip, transposed: k = 5, 7).
    expected = lr.astype(np.float32)
    expected[0] += 2.0
    expected[-1] += 2.0
    expected[:, 0] += 2.0
    expected[:, -1] += 2.0
    assert np.allclose(out, expected)


@pytest.mark.parametrize("name,scale", [("btsrn", 3), ("edsr_baseline", 2)])
def test_replicas_give_the_single_device_result(name, scale, strategy):
    predictor = tiny_predictor(name, scale)
    lr = random_image(13, 20, seed=scale)  # not square: transposed copies have another shape
    single = predictor.float_fn(scale, self_ensemble=True)(lr)
    spread = predictor.float_fn(scale, self_ensemble=True, strategy=strategy)(lr)
    assert spread.shape == (13 * scale, 20 * scale, 3)
    assert np.array_equal(single, spread)
    plain = np.asarray(predictor.float_fn(scale)(lr))
    assert not np.array_equal(single, plain)  # the ensemble did something


def test_tiled_ensemble_over_replicas_equals_the_whole_image_ensemble(strategy):
    predictor = tiny_predictor("edsr_baseline", 2)
    lr = random_image(17, 22)
    whole = predictor.upscale(lr, 2, InferenceOptions(self_ensemble=True))
    spread = InferenceOptions(self_ensemble=True, strategy=strategy, tile=7)
    assert np.array_equal(predictor.upscale(lr, 2, spread), whole)


def test_run_loaded_under_the_strategy_gives_the_same_result(tmp_path, strategy, make_run):
    # What `sr_tf.evaluate --self_ensemble --cpu_replicas=2` does: weights mirrored on the replicas.
    from sr_tf.inference.predictor import load_predictor

    make_run(tmp_path, "btsrn", 2, TINY["btsrn"], seed=7)
    lr = random_image(11, 8)
    options = InferenceOptions(strategy=strategy, self_ensemble=True)
    mirrored = load_predictor(str(tmp_path), options)
    plain = load_predictor(str(tmp_path))
    assert np.array_equal(
        mirrored.upscale(lr, 2, options), plain.upscale(lr, 2, InferenceOptions(self_ensemble=True))
    )
