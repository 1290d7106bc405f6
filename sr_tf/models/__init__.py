"""The model zoo: `build_model(name, scale, **options)` and `build_inference_model(network, name, scale)`.

Names: `btsrn` (release `model_resnet_up`, options block/low_blocks/high_blocks/width/bottleneck),
`edsr_baseline`, `edsr` (options num_blocks/num_features/res_scale) and `mdsr_baseline`, `mdsr`
(scale is a tuple such as (2, 3, 4); one output per scale, in that order).
"""
import math

import keras

from sr_tf.models import btsrn as _btsrn
from sr_tf.models import edsr as _edsr
from sr_tf.models.edsr import mdsr_branch, mdsr_scales
from sr_tf.models.layers import BicubicUpsample, CropToScale, QuantizeUint8, SymmetricPad

MODEL_NAMES = ("btsrn", "edsr_baseline", "edsr", "mdsr_baseline", "mdsr")


def model_defaults(name):
    """The default options of a model name (what `build_model(name, scale)` uses)."""
    if name == "btsrn":
        return dict(_btsrn.DEFAULTS)
    if name in _edsr.EDSR_DEFAULTS:
        return dict(_edsr.EDSR_DEFAULTS[name])
    if name in _edsr.MDSR_DEFAULTS:
        return dict(_edsr.MDSR_DEFAULTS[name])
    raise ValueError(f"unknown model name {name!r}; choose one of {', '.join(MODEL_NAMES)}")


def family(name):
    """'btsrn', 'edsr' or 'mdsr': which conventions (value range, residual, outputs) a name uses."""
    model_defaults(name)
    return "btsrn" if name == "btsrn" else name.split("_")[0]


def build_model(name: str, scale, **options) -> keras.Model:
    """Builds the Keras functional training network `name` at `scale` (a tuple for MDSR)."""
    defaults = model_defaults(name)
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {unknown}; options are {sorted(defaults)}")
    config = {**defaults, **options}
    kind = family(name)
    if kind == "mdsr":
        scales = tuple(scale) if isinstance(scale, (tuple, list)) else (scale,)
        return _edsr.mdsr(scales, name=name, **config)
    if isinstance(scale, (tuple, list)):
        raise ValueError(f"{name}: scale must be a single integer, got {scale!r} (only MDSR takes several)")
    if kind == "btsrn":
        return _btsrn.btsrn(int(scale), **config)
    return _edsr.edsr(int(scale), name=name, **config)


def valid_margin(network, scale, probe=64):
    """HR pixels per side that a valid-padding network loses from scale x (LR size); 0 for EDSR."""
    out = network.compute_output_shape((1, probe, probe, 3))[1]
    return (scale * probe - out) // 2


def build_inference_model(network, name, scale, quantize=True) -> keras.Model:
    """Full-image inference: uint8 RGB LR of any size -> uint8 RGB of exactly `scale` times the size.

    BTSRN: LR/255, symmetric padding (15 px as the release, more if the network needs it), the
    network, a centre crop to scale x LR, plus the bicubic upsampled LR, then round half up with
    clipping. EDSR/MDSR: the network on 0..255 values, then the same rounding.
    With `quantize=False` the model returns the float32 SR in 0..255 units before rounding and
    clipping (what self-ensemble averages and the float export signature serves).
    """
    kind = family(name)
    if kind == "mdsr":
        network = mdsr_branch(network, scale)
    lr_uint8 = keras.Input(shape=(None, None, 3), dtype="uint8", name="lr")
    if kind == "btsrn":
        lr = keras.layers.Rescaling(1.0 / 255, name="to_unit", dtype="float32")(lr_uint8)
        margin = valid_margin(network, scale)
        padding = max(_btsrn.INFERENCE_PADDING, -(-margin // scale))
        residual = network(SymmetricPad(padding, name="pad")(lr))
        residual = CropToScale(scale, name="crop", dtype="float32")([residual, lr])  # keep the fp32 residual
        bicubic = BicubicUpsample(scale, name="bicubic")(lr)
        sr = keras.layers.Add(name="add_bicubic", dtype="float32")([bicubic, residual])
        sr = keras.layers.Rescaling(255.0, name="to_255", dtype="float32")(sr)
    else:
        lr = keras.layers.Rescaling(1.0, name="to_float", dtype="float32")(lr_uint8)
        sr = network(lr)
    if quantize:
        sr = QuantizeUint8(1.0, name="to_uint8")(sr)
    suffix = "inference" if quantize else "inference_float"
    return keras.Model(lr_uint8, sr, name=f"{network.name}_{suffix}")


def zoo_table():
    """(name, scale, trainable parameters) for every model of the zoo at its defaults."""
    rows = []
    for name in MODEL_NAMES:
        scales = [(2, 3, 4)] if family(name) == "mdsr" else [2, 3, 4]
        for scale in scales:
            model = build_model(name, scale)
            rows.append((name, scale, count_trainable(model)))
            keras.backend.clear_session()
    return rows


def count_trainable(model):
    """Trainable parameters (the mean shift and the bicubic layer have none)."""
    return sum(math.prod(w.shape) for w in model.trainable_weights)


__all__ = [
    "MODEL_NAMES",
    "build_model",
    "build_inference_model",
    "count_trainable",
    "family",
    "mdsr_branch",
    "mdsr_scales",
    "model_defaults",
    "valid_margin",
    "zoo_table",
]
