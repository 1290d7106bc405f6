"""Data: MATLAB-exact imresize, image reading, dataset readers and the tf.data patch pipeline."""
