"""Model specs: what each network of the zoo *is*, declared once and registered by name.

A `ModelSpec` holds the builder, the options with their defaults, the scales it takes (one, or
several for one multi-scale network), how its inputs and training targets are made from uint8
patches (BTSRN: [0, 1] in, the residual over bicubic out; EDSR/MDSR: 0..255 in and out), its
inference head, and its training recipes. Code asks the spec; nothing parses model names.

Every network built here is an `SRNetwork`: a functional Keras model that carries its
description `{"model": name, "scales": [...], "options": {...}}`. Its `get_config` is that
description, so a `.keras` file rebuilds it through the spec (as keras-hub's backbones do), and
run directories (`model.json`) and SavedModels (`sr_tf.json`) store the same dict (the class is
in network.py: this module loads no TensorFlow, so the flags and the zoo table come fast).
"""

import dataclasses
from collections.abc import Callable, Mapping

from sr_tf.core.lazy import tf
from sr_tf.models import btsrn as _btsrn
from sr_tf.models import edsr as _edsr
from sr_tf.models import heads


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A training recipe's numbers (the training package turns them into optimisers and losses)."""

    learning_rate: float
    lr_decay_factor: float
    lr_decay_every: int  # steps; 0 means once per epoch
    epochs: int  # 0 when the length is given in steps (or by --max_minutes)
    steps: int
    batch_size: int
    loss: str
    patch_mode: str  # grid (the release's fixed grid) or random crops
    hr_patch: int  # 0 when the LR patch size is given
    lr_patch: int
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8  # the official value; Keras defaults to 1e-7
    lr_schedule: str = "step"  # step: x lr_decay_factor every lr_decay_every; cosine: over the budget
    warmup_fraction: float = 0.0  # cosine: share of the budget with a linearly rising rate


# BTSRN (release run.sh): Adam(1e-3, 0.9, 0.999, 1e-8); rate x0.618 per epoch for 16 epochs (one
# epoch = the patch grid, twice); MSE on the residual; batch 32 of 108x108 HR grid patches.
BTSRN_RELEASE = Recipe(
    learning_rate=1e-3,
    lr_decay_factor=0.618,
    lr_decay_every=0,
    epochs=16,
    steps=0,
    batch_size=32,
    loss="mse_residual",
    patch_mode="grid",
    hr_patch=108,
    lr_patch=0,
)
# EDSR / MDSR (paper 4.2, official flags): Adam(1e-4, 0.9, 0.999, 1e-8), rate halved every 2e5
# of 3e5 updates; L1 on 0..255 values; batch 16 of random 48x48 LR patches.
EDSR_RELEASE = Recipe(
    learning_rate=1e-4,
    lr_decay_factor=0.5,
    lr_decay_every=200_000,
    epochs=0,
    steps=300_000,
    batch_size=16,
    loss="l1",
    patch_mode="random",
    hr_patch=0,
    lr_patch=48,
)
# Ours, for a fixed CPU time (--recipe=budget with --max_minutes or --steps): the same networks
# and Adam; warm-up, then a cosine to zero over the budget; random patches. Chosen by measured
# runs (docs/results.md, "A recipe for a CPU budget").
BTSRN_BUDGET = Recipe(
    learning_rate=3e-3,
    lr_decay_factor=1.0,
    lr_decay_every=0,
    epochs=0,
    steps=0,
    batch_size=16,
    loss="mse_residual",
    patch_mode="random",
    hr_patch=64,
    lr_patch=0,
    lr_schedule="cosine",
    warmup_fraction=0.02,
)
EDSR_BUDGET = Recipe(
    learning_rate=1e-3,
    lr_decay_factor=1.0,
    lr_decay_every=0,
    epochs=0,
    steps=0,
    batch_size=16,
    loss="l1",
    patch_mode="random",
    hr_patch=0,
    lr_patch=48,
    lr_schedule="cosine",
    warmup_fraction=0.02,
)
RECIPE_NAMES = ("release", "budget")  # release: the paper's own; budget: ours for a CPU budget


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable  # builder(scales: tuple, **options) -> functional keras.Model
    defaults: Mapping  # every option with its default
    summary: str  # one line for the zoo table
    value_range: float  # the network's value for white: 1.0 (BTSRN, [0, 1]) or 255.0 (EDSR/MDSR)
    residual: bool  # the network predicts HR - bicubic(LR), not HR
    inference_head: Callable  # head(spec, network, lr_uint8 tensor, scale) -> float SR, 0..255
    recipes: Mapping  # recipe name -> Recipe
    supported_scales: tuple
    multi_scale: bool = False  # one network with an output per scale (MDSR)
    option_help: Mapping = dataclasses.field(default_factory=dict)  # option -> one line for --help
    option_choices: Mapping = dataclasses.field(default_factory=dict)  # option -> the values it takes
    converts_from: str = ""  # whose checkpoints sr_tf.convert reads into it: edsr_pytorch, btsrn_release
    # inference_head in numpy for a network run outside TensorFlow: head(spec, run, lr_uint8 array)
    # -> float SR; None: the TensorFlow head is used there too
    numpy_head: Callable = None
    # Trainable parameters at the default options, per scale (MDSR: per scales tuple), for the zoo
    # table without building a network; tests/test_models.py checks them against built networks.
    parameters: Mapping = dataclasses.field(default_factory=dict)

    def options(self, options=None):
        """The defaults completed by `options`; unknown names are an error naming the model."""
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise ValueError(f"{self.name}: unknown option(s) {unknown}; options are {sorted(self.defaults)}")
        return {**self.defaults, **options}

    def scales(self, scale):
        """`scale` (an int or a sequence) as a checked tuple of ints."""
        scales = tuple(int(s) for s in scale) if isinstance(scale, (tuple, list)) else (int(scale),)
        if not self.multi_scale and len(scales) != 1:
            raise ValueError(
                f"{self.name}: scale must be one value, got {scale!r} (only a multi-scale model such as "
                "MDSR takes several)"
            )
        if not scales or len(set(scales)) != len(scales):
            raise ValueError(f"{self.name}: scale must be distinct scales such as (2, 3, 4), got {scale!r}")
        for s in scales:
            if s not in self.supported_scales:
                raise ValueError(f"{self.name}: scale must be one of {self.supported_scales}, got {s!r}")
        return scales

    def recipe(self, name="release"):
        if name not in self.recipes:
            raise ValueError(f"--recipe must be one of {tuple(self.recipes)}, got {name!r}")
        return self.recipes[name]

    def network_inputs(self, lr_uint8):
        """What the network takes for a batch of uint8 LR patches."""
        return tf.cast(lr_uint8, tf.float32) * (self.value_range / 255.0)

    def training_target(self, lr_uint8, hr_uint8, scale, margin=0):
        """What the network should output for the HR patches, cropped by `margin` HR pixels a side.

        BTSRN: HR - bicubic(LR) in [0, 1] units. The bicubic term reaches 2 LR pixels (2 * scale
        HR pixels) from each output pixel, less than the margin, so per-patch bicubic equals
        full-image bicubic on the cropped region. EDSR/MDSR: HR in 0..255.
        """
        target = tf.cast(hr_uint8, tf.float32) * (self.value_range / 255.0)
        if self.residual:
            target = target - _bicubic(scale)(self.network_inputs(lr_uint8))
        if margin:
            target = target[:, margin:-margin, margin:-margin, :]
        return target


_BICUBIC = {}


def _bicubic(scale):
    from sr_tf.models.layers import BicubicUpsample

    if scale not in _BICUBIC:
        _BICUBIC[scale] = BicubicUpsample(scale)
    return _BICUBIC[scale]


_SPECS = {}


def register(spec):
    """Adds a spec to the zoo (its name must be new)."""
    if spec.name in _SPECS:
        raise ValueError(f"model {spec.name!r} is already registered")
    _SPECS[spec.name] = spec
    return spec


def get_spec(name):
    """The spec of a model name (or the spec itself); an unknown name lists the known ones."""
    if isinstance(name, ModelSpec):
        return name
    if name not in _SPECS:
        raise ValueError(f"unknown model name {name!r}; choose one of {', '.join(_SPECS)}")
    return _SPECS[name]


def model_names():
    """The registered model names, in registration order (a later `register` shows up)."""
    return tuple(_SPECS)


def describe(network, source="the model"):
    """The description dict of an sr_tf network; a ValueError naming `source` for anything else."""
    description = getattr(network, "description", None)
    if not isinstance(description, dict):
        raise ValueError(
            f"{source}: not an sr_tf network (no model description); expected a network built by "
            "sr_tf.models.build_model, a .keras file it saved, or a run directory"
        )
    return {
        "model": description["model"],
        "scales": list(description["scales"]),
        "options": dict(description["options"]),
    }


def _single(build):
    return lambda scales, **options: build(scales[0], **options)


register(
    ModelSpec(
        name="btsrn",
        builder=_single(_btsrn.btsrn),
        defaults=_btsrn.DEFAULTS,
        summary="the release's model_resnet_up: 6 + 4 PConv blocks (128 / 64), NN + deconvolution upsampling",
        value_range=1.0,
        residual=True,
        inference_head=heads.residual_head,
        recipes={"release": BTSRN_RELEASE, "budget": BTSRN_BUDGET},
        supported_scales=_btsrn.SCALES,
        option_help=dict(
            block="BTSRN residual block (pconv)",
            low_blocks="BTSRN blocks at low resolution (6)",
            high_blocks="BTSRN blocks at high resolution (4)",
            width="BTSRN feature channels (128)",
            bottleneck="BTSRN bottleneck channels (64)",
        ),
        option_choices=dict(block=tuple(_btsrn.BLOCKS)),
        converts_from="btsrn_release",
        parameters={2: 887_683, 3: 969_603, 4: 1_035_459},
    )
)
_EDSR_OPTION_HELP = dict(
    num_blocks="EDSR/MDSR residual blocks",
    num_features="EDSR/MDSR feature channels",
    res_scale="EDSR/MDSR residual scaling",
)


def _edsr_family_spec(name, summary, multi_scale, parameters):
    """EDSR and MDSR share value range, head, recipes and options; MDSR takes several scales."""
    if multi_scale:
        builder, defaults = (
            (lambda scales, **options: _edsr.mdsr(scales, name=name, **options)),
            _edsr.MDSR_DEFAULTS,
        )
    else:
        builder, defaults = (
            _single(lambda scale, **options: _edsr.edsr(scale, name=name, **options)),
            _edsr.EDSR_DEFAULTS,
        )
    return ModelSpec(
        name=name,
        builder=builder,
        defaults=defaults[name],
        summary=summary,
        value_range=255.0,
        residual=False,
        inference_head=heads.direct_head,
        numpy_head=heads.direct_head_numpy,
        recipes={"release": EDSR_RELEASE, "budget": EDSR_BUDGET},
        supported_scales=_edsr.SCALES,
        multi_scale=multi_scale,
        option_help=_EDSR_OPTION_HELP,
        parameters=parameters,
        converts_from="edsr_pytorch",
    )


register(
    _edsr_family_spec(
        "edsr_baseline",
        "EDSR, 16 blocks of 64 features",
        multi_scale=False,
        parameters={2: 1_369_859, 3: 1_554_499, 4: 1_517_571},
    )
)
register(
    _edsr_family_spec(
        "edsr",
        "EDSR, 32 blocks of 256 features, residual scaling 0.1",
        multi_scale=False,
        parameters={2: 40_729_603, 3: 43_680_003, 4: 43_089_923},
    )
)
register(
    _edsr_family_spec(
        "mdsr_baseline",
        "MDSR, 16 shared blocks, one output per scale",
        multi_scale=True,
        parameters={(2, 3, 4): 3_227_203},
    )
)
register(
    _edsr_family_spec("mdsr", "MDSR, 80 shared blocks", multi_scale=True, parameters={(2, 3, 4): 7_953_987})
)
