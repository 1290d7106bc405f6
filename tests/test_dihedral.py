import numpy as np
import tensorflow as tf

from sr_tf.data.dihedral import NUM_TRANSFORMS, dihedral, undo_dihedral


def test_the_eight_transforms_are_distinct_and_invertible():
    x = np.arange(2 * 3 * 4 * 1).reshape(2, 3, 4, 1)
    seen = set()
    for k in range(NUM_TRANSFORMS):
        y = dihedral(x, k).numpy()
        seen.add(y.tobytes() + bytes(y.shape))
        np.testing.assert_array_equal(undo_dihedral(y, k), x)
    assert len(seen) == NUM_TRANSFORMS


def test_bit_meaning_on_a_single_image():
    x = np.arange(6).reshape(2, 3, 1)
    np.testing.assert_array_equal(dihedral(x, 1), x[:, ::-1])
    np.testing.assert_array_equal(dihedral(x, 2), x[::-1])
    np.testing.assert_array_equal(dihedral(x, 4), x.transpose(1, 0, 2))
    np.testing.assert_array_equal(dihedral(x, 7), x[::-1, ::-1].transpose(1, 0, 2))


def test_tensor_k_in_a_graph_matches_python_k():
    x = np.random.default_rng(0).integers(0, 255, (5, 5, 3))
    fn = tf.function(lambda image, k: dihedral(image, k))
    for k in range(NUM_TRANSFORMS):
        np.testing.assert_array_equal(fn(x, tf.constant(k)), dihedral(x, k))
