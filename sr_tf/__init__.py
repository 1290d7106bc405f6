"""sr_tf: single-image super-resolution (BTSRN, EDSR, MDSR) in TensorFlow 2 / Keras 3."""
import os

# Quiet TF's C++ start-up lines (CPU feature banner) unless the user chose a level.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
