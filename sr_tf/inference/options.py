"""How a model runs, as one object: `InferenceOptions`.

Each inference command builds it once from its flags (sr_tf.commands.inference_flags.options_from_flags);
load_predictor, Predictor.upscale, scoring.evaluate / evaluate_all, upscaling.upscale_files and
figures.make_figure take it. No TensorFlow here: the commands' flags take their defaults from this module.
"""

import dataclasses

PRECISIONS = ("auto", "fp32", "bf16", "int8")  # accelerated.py says what each runs
DEFAULT_MAX_MEGAPIXELS = (
    1.0  # output megapixels of one network call before tiling starts (BTSRN x4: 2.5 GB peak)
)


@dataclasses.dataclass(frozen=True)
class InferenceOptions:
    """How a predictor is loaded and run. The defaults: TensorFlow fp32 on one device, no
    self-ensemble, tiles only where an output exceeds the predictor's budget.

    `precision`: how a Keras network runs (PRECISIONS; exported files run as written).
    `strategy`: a tf.distribute strategy; networks are built under its scope and the self-ensemble's
    8 transforms are spread over its replicas (None: one device).
    `self_ensemble`: average the 8 flips / transposes of each input.
    `tile`: tiles of this many LR pixels (0: only when one call would output over `max_megapixels`).
    `max_megapixels`: that budget (None: the predictor's own, DEFAULT_MAX_MEGAPIXELS or less; 0: never tile).
    """

    precision: str = "fp32"
    strategy: object = None
    self_ensemble: bool = False
    tile: int = 0
    max_megapixels: float = None

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")


DEFAULTS = InferenceOptions()
