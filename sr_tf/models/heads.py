"""Inference heads: from a uint8 LR image to the float SR image (0..255) around a network.

BTSRN (`residual_head`, the release's `predict.py`): LR / 255, symmetric padding (15 px as the
release, more if the network needs it), the network, a centre crop to scale x LR, plus the
bicubic upsampled LR, times 255. EDSR/MDSR (`direct_head`): the network on 0..255 values; as it
does nothing TensorFlow is needed for, `direct_head_numpy` is the same head for a network run
outside TensorFlow (it saves OpenVINO's int8 EDSR-baseline x2 2 to 5 ms of 70 per 256x256 image).
"""

import numpy as np

from sr_tf.core.lazy import keras
from sr_tf.models.btsrn import INFERENCE_PADDING


def valid_margin(network, scale, probe=64):
    """HR pixels per side that a valid-padding network loses from scale x (LR size); 0 for EDSR."""
    out = network.compute_output_shape((1, probe, probe, 3))[1]
    return (scale * probe - out) // 2


def residual_head(spec, network, lr_uint8, scale):
    from sr_tf.models.layers import BicubicUpsample, CropToScale, SymmetricPad

    lr = keras.layers.Rescaling(spec.value_range / 255, name="to_unit", dtype="float32")(lr_uint8)
    margin = valid_margin(network, scale)
    padding = max(INFERENCE_PADDING, -(-margin // scale))
    residual = network(SymmetricPad(padding, name="pad")(lr))
    residual = CropToScale(scale, name="crop", dtype="float32")([residual, lr])  # keep the fp32 residual
    bicubic = BicubicUpsample(scale, name="bicubic")(lr)
    sr = keras.layers.Add(name="add_bicubic", dtype="float32")([bicubic, residual])
    return keras.layers.Rescaling(255.0 / spec.value_range, name="to_255", dtype="float32")(sr)


def direct_head(spec, network, lr_uint8, scale):
    lr = keras.layers.Rescaling(spec.value_range / 255, name="to_float", dtype="float32")(lr_uint8)
    return network(lr)


def direct_head_numpy(spec, run, lr_uint8):
    """direct_head without TensorFlow, for a network another runtime runs (`run`: numpy float32
    [1, h, w, 3] -> [1, s*h, s*w, 3]): the same float32 products, so the same numbers."""
    lr = lr_uint8[None].astype(np.float32) * np.float32(spec.value_range / 255)
    return np.asarray(run(lr), np.float32)[0]
