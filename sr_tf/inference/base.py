"""The Predictor: what every `--model` becomes (predictor.load_predictor makes them)."""

import dataclasses

import numpy as np
import tensorflow as tf

from sr_tf import models
from sr_tf.inference import tiling
from sr_tf.inference.ensemble import SelfEnsemble
from sr_tf.inference.options import DEFAULT_MAX_MEGAPIXELS, DEFAULTS

IMAGE = tf.TensorSpec((None, None, 3), tf.uint8, name="image")  # what every float function takes


class ModelError(ValueError):
    """A --model that cannot be loaded; the message names it."""


@dataclasses.dataclass
class Predictor:
    """`float_fns[scale]`: uint8 [h, w, 3] -> float32 [s*h, s*w, 3] (0..255, unrounded), a tensor or
    an array, callable inside a tf.function (a tf.function, or accelerated.RunnerHead);
    `radii[scale]`: receptive-field radius in LR pixels (the tile overlap that keeps tiling exact)."""

    name: str
    source: str
    float_fns: dict
    radii: dict
    keep_alive: object = None  # the loaded SavedModel or network the functions use
    runtime: str = "tensorflow fp32"  # what runs the network, said in the commands' output
    max_megapixels: float = (
        None  # this runtime's tile budget when upscale() is not given one (None: the default)
    )
    _ensembles: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def scales(self):
        return tuple(sorted(self.float_fns))

    def check_scale(self, scale):
        if scale not in self.float_fns:
            raise ModelError(
                f"{self.source} upscales by {', '.join(f'x{s}' for s in self.scales)}, not x{scale}"
            )

    def float_fn(self, scale, self_ensemble=False, strategy=None):
        """uint8 [h, w, 3] -> float32 [s*h, s*w, 3]; averaged over the 8 transforms with self_ensemble."""
        self.check_scale(scale)
        if not self_ensemble:
            return self.float_fns[scale]
        key = (scale, id(strategy))  # the cached SelfEnsemble keeps the strategy alive
        if key not in self._ensembles:
            self._ensembles[key] = SelfEnsemble(self.float_fns[scale], strategy)
        return self._ensembles[key]

    def upscale(self, lr, scale, options=None, progress=False):
        """uint8 SR of a uint8 H x W x 3 image, run as `options` (InferenceOptions; None: the
        defaults) say: `tile` > 0 forces tiles of that many LR pixels; otherwise the image is tiled
        only when its output exceeds `max_megapixels` (None: this predictor's budget, else
        DEFAULT_MAX_MEGAPIXELS; 0 never tiles). `progress`: a bar over the tiles."""
        options = options or DEFAULTS
        lr = np.asarray(lr)
        if lr.dtype != np.uint8 or lr.ndim != 3 or lr.shape[-1] != 3:
            raise ValueError(f"expected a uint8 H x W x 3 image, got {lr.dtype} {lr.shape}")
        self.check_scale(scale)
        overlap = self.radii[scale]
        max_megapixels = options.max_megapixels
        if max_megapixels is None:
            max_megapixels = self.max_megapixels or DEFAULT_MAX_MEGAPIXELS
        tile = options.tile
        if not tile or tile <= 0:
            tile = tiling.auto_tile(lr.shape[0], lr.shape[1], scale, overlap, max_megapixels)
        float_fn = self.float_fn(scale, options.self_ensemble, options.strategy)
        return tiling.tiled_upscale(float_fn, lr, scale, tile, overlap, progress)


def per_scale_predictor(network, source, one_scale, scales=None, name=None):
    """One Predictor of a Keras network over `scales` (default: all of the network's), joined from
    `one_scale(scale)`, the single-scale Predictor of one path (TensorFlow, OpenVINO, an int8 file)."""
    parts = [one_scale(s) for s in (scales or models.scales_of(network))]
    return Predictor(
        name or models.describe(network)["model"],
        source,
        {s: fn for part in parts for s, fn in part.float_fns.items()},
        {s: radius for part in parts for s, radius in part.radii.items()},
        keep_alive=(network, [part.keep_alive for part in parts]),
        runtime=parts[-1].runtime,
        max_megapixels=parts[-1].max_megapixels,
    )


def float_function(float_model):
    @tf.function(input_signature=[IMAGE])
    def upscale(image):
        return float_model(image[None])[0]

    return upscale


def network_predictor(network, name=None, scale=None, source="the network"):
    """A predictor from a Keras training network: `scale` (default every scale of the network)."""

    def one_scale(s):
        float_model = models.build_inference_model(network, name, s, quantize=False)
        radius = tiling.receptive_radius(float_model)
        return Predictor(name, source, {s: float_function(float_model)}, {s: radius}, keep_alive=float_model)

    scales = None if scale is None else models.spec_of(network).scales(scale)
    return per_scale_predictor(network, source, one_scale, scales, name)
