"""The model zoo: `build_model(name, scale, **options)` and `build_inference_model(network, scale=s)`.

Names: `btsrn` (release `model_resnet_up`, options block/low_blocks/high_blocks/width/bottleneck),
`edsr_baseline`, `edsr` (options num_blocks/num_features/res_scale) and `mdsr_baseline`, `mdsr`
(scale is a tuple such as (2, 3, 4); one output per scale, in that order). What each model is
(defaults, value range, targets, inference head, recipes) is its spec (specs.py); every network
carries its description (`describe(network)`). Importing the package loads no TensorFlow (the
specs, the zoo table and the flags need none); building a network does.
"""

import math

import numpy as np

from sr_tf.core.lazy import keras
from sr_tf.models.edsr import mdsr_branch as _mdsr_branch
from sr_tf.models.heads import valid_margin
from sr_tf.models.opening import load_keras_network, open_network
from sr_tf.models.pretrained_registry import PRETRAINED, PretrainedError, pretrained, pretrained_names
from sr_tf.models.specs import (
    RECIPE_NAMES,
    ModelSpec,
    Recipe,
    describe,
    get_spec,
    model_names,
    register,
)


def model_defaults(name):
    """The default options of a model name (what `build_model(name, scale)` uses)."""
    return dict(get_spec(name).defaults)


def build_model(name: str, scale, **options):
    """Builds the Keras functional training network `name` at `scale` (a tuple for MDSR)."""
    from sr_tf.models.network import SRNetwork

    return SRNetwork(name, scale, options)


def from_description(description, source="the description"):
    """Builds the (untrained) network a description names; errors name `source`."""
    from sr_tf.models import network

    return network.from_description(description, source)


def __getattr__(name):
    """`sr_tf.models.SRNetwork`, the networks' Keras class (imported when first asked for)."""
    if name == "SRNetwork":
        from sr_tf.models.network import SRNetwork

        return SRNetwork
    raise AttributeError(f"module 'sr_tf.models' has no attribute {name!r}")


def spec_of(network):
    """The spec of an sr_tf network (from its description)."""
    return get_spec(describe(network)["model"])


def scales_of(network):
    """The scales of an sr_tf network, always a tuple (MDSR: in the order of its outputs)."""
    return tuple(describe(network)["scales"])


def mdsr_branch(model, scale):
    """The single-scale sub-model of an MDSR model: it shares (not copies) the parent's layers."""
    return _mdsr_branch(model, scales_of(model), scale)


def branch(network, scale):
    """The single-scale network for `scale`: an MDSR branch, or the network itself."""
    return mdsr_branch(network, scale) if spec_of(network).multi_scale else network


def build_inference_model(network, name=None, scale=None, quantize=True):
    """Full-image inference: uint8 RGB LR of any size -> uint8 RGB of exactly `scale` times the size.

    The spec's inference head (BTSRN: pad, network, crop, plus bicubic; EDSR/MDSR: the network
    on 0..255 values), then round half up with clipping. `name` may be omitted (the network
    knows its model); `scale` may be omitted for a single-scale network. With `quantize=False`
    the model returns the float32 SR in 0..255 units before rounding and clipping (what
    self-ensemble averages and the float export signature serves).
    """
    spec = spec_of(network)
    if name is not None and get_spec(name) is not spec:
        raise ValueError(f"the network is a {spec.name}, not a {name}")
    scales = scales_of(network)
    if scale is None:
        if len(scales) != 1:
            raise ValueError(f"{network.name} has scales {scales}; pass one")
        scale = scales[0]
    from sr_tf.models.layers import QuantizeUint8

    single = branch(network, scale)
    lr_uint8 = keras.Input(shape=(None, None, 3), dtype="uint8", name="lr")
    sr = spec.inference_head(spec, single, lr_uint8, scale)
    if quantize:
        sr = QuantizeUint8(1.0, name="to_uint8")(sr)
    suffix = "inference" if quantize else "inference_float"
    return keras.Model(lr_uint8, sr, name=f"{single.name}_{suffix}")


def quantize(image):
    """uint8 of an image: floats (0..255 units) are rounded half up and clipped, in float32 exactly
    as the inference model's QuantizeUint8 layer does (numpy, no TensorFlow); uint8 passes through."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    rounded = np.array(image, np.float32)  # a copy, rounded in place
    rounded += np.float32(0.5)
    np.floor(rounded, out=rounded)
    return np.clip(rounded, 0, 255, out=rounded).astype(np.uint8)


def zoo_table():
    """(name, scale, trainable parameters) for every model of the zoo at its defaults, as the
    specs record them (no network is built; tests/test_models.py checks them)."""
    return tuple(
        (name, scale, count) for name in model_names() for scale, count in get_spec(name).parameters.items()
    )


def count_trainable(model):
    """Trainable parameters (the mean shift and the bicubic layer have none)."""
    return sum(math.prod(w.shape) for w in model.trainable_weights)


__all__ = [
    "PRETRAINED",
    "PretrainedError",
    "load_keras_network",
    "open_network",
    "quantize",
    "pretrained",
    "pretrained_names",
    "RECIPE_NAMES",
    "ModelSpec",
    "Recipe",
    "SRNetwork",
    "branch",
    "build_model",
    "build_inference_model",
    "count_trainable",
    "describe",
    "from_description",
    "get_spec",
    "mdsr_branch",
    "model_defaults",
    "model_names",
    "register",
    "scales_of",
    "spec_of",
    "valid_margin",
    "zoo_table",
]
