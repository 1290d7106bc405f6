"""Flags shared by the inference commands (sr_tf.evaluate, sr_tf.upscale, sr_tf.figure), defined
once; each command defines them on its own flag set and turns them into one InferenceOptions
(options_from_flags)."""

from absl import flags

from sr_tf.inference.options import DEFAULT_MAX_MEGAPIXELS, DEFAULTS, PRECISIONS, InferenceOptions

GROUPS = {
    "model": "model",
    "self_ensemble": "model",
    "cpu_replicas": "devices",
    "tile": "devices",
    "max_megapixels": "devices",
    "precision": "devices",
}


def define_inference_flags(values, precision=DEFAULTS.precision):
    flags.DEFINE_string(
        "model",
        None,
        "bicubic, pretrained:<name> (python -m sr_tf.models lists them), an sr_tf "
        "SavedModel, a training run directory or a .keras network.",
        flag_values=values,
    )
    flags.DEFINE_bool(
        "self_ensemble",
        DEFAULTS.self_ensemble,
        "Average the 8 flips/transposes of each input (EDSR+, BTSRN test time).",
        flag_values=values,
    )
    flags.DEFINE_integer(
        "cpu_replicas",
        0,
        "Split the CPU into N logical devices; self-ensemble spreads over them.",
        flag_values=values,
    )
    flags.DEFINE_integer(
        "tile",
        DEFAULTS.tile,
        "Tile the LR image in tiles of this many pixels (0: only when over --max_megapixels).",
        flag_values=values,
    )
    flags.DEFINE_float(
        "max_megapixels",
        DEFAULT_MAX_MEGAPIXELS,
        "Tile automatically when one network call would output more than this.",
        flag_values=values,
    )
    flags.DEFINE_enum(
        "precision",
        precision,
        list(PRECISIONS),
        "How a network (pretrained:, .keras, run "
        "directory) runs: fp32 TensorFlow, exact; bf16 OpenVINO (extra 'fast'; Set5 within 0.011 dB); "
        "int8 quantized once and cached, OpenVINO (extra 'fast'; Set5 BTSRN x2 -0.02 dB, EDSR-baseline "
        "-0.04 dB); auto: bf16 when OpenVINO is installed and the CPU has bf16, else fp32. Exported "
        "files run as written. See docs/performance.md.",
        flag_values=values,
    )


def options_from_flags(values):
    """The InferenceOptions of a command's inference flags. With --self_ensemble it makes the
    replica strategy of --cpu_replicas, which must happen before TensorFlow runs its first op."""
    from sr_tf.core.devices import replica_strategy

    strategy = replica_strategy(values.cpu_replicas) if values.self_ensemble else None
    return InferenceOptions(
        precision=values.precision,
        strategy=strategy,
        self_ensemble=values.self_ensemble,
        tile=values.tile,
        max_megapixels=values.max_megapixels,
    )
