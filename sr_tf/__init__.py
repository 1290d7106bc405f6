"""sr_tf: single-image super-resolution (BTSRN, EDSR, MDSR) in TensorFlow 2 / Keras 3.

The library lives in the packages below (core, models, data, evaluation, training, inference,
export, convert); the commands sit on top of it in `sr_tf.commands`. Importing sr_tf does nothing
beyond importing.
"""

__version__ = "0.1.0"
