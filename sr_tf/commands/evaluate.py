"""`python -m sr_tf.evaluate --model=M --benchmark_dir=D --sets=Set5,Set14 --scales=2,3,4`

PSNR / SSIM of a model (a SavedModel exported by sr_tf, a training run directory, a .keras
network, pretrained:<name>, or `bicubic`) on benchmark sets in the standard layout
(`D/<Set>/HR`, `D/<Set>/LR_bicubic/X<s>`) or on DIV2K validation (D holding the official DIV2K
folders), printed as a papers-style table with the protocol, and optionally written to
--results_json as {"<Set>": {"x<s>": {"psnr": float, "ssim": float, "images": int}}}.
"""

from absl import flags

from sr_tf.commands import cli, inference_flags

COMMAND = cli.Command(
    "sr_tf.evaluate",
    __doc__,
    required=("model", "benchmark_dir"),
    groups={
        **inference_flags.GROUPS,
        "benchmark_dir": "data",
        "sets": "data",
        "scales": "data",
        "max_images": "data",
        "results_json": "run",
        "channel": "protocol",
        "shave": "protocol",
        "round_y": "protocol",
    },
)
FLAGS = COMMAND.flags
inference_flags.define_inference_flags(FLAGS)
flags.DEFINE_string(
    "benchmark_dir",
    None,
    "Folder of benchmark sets (<Set>/HR, <Set>/LR_bicubic/X<s>) or of DIV2K.",
    flag_values=FLAGS,
)
flags.DEFINE_list(
    "sets", ["Set5", "Set14"], "Benchmark sets to evaluate (ignored for a DIV2K folder).", flag_values=FLAGS
)
flags.DEFINE_list(
    "scales",
    None,
    "Scales to evaluate (default: every scale of the model; bicubic: 2,3,4).",
    flag_values=FLAGS,
)
flags.DEFINE_string("results_json", None, "Write the results to this JSON file.", flag_values=FLAGS)
flags.DEFINE_enum(
    "channel", None, ["y", "rgb"], "Override the compared values (default: y; DIV2K: rgb).", flag_values=FLAGS
)
flags.DEFINE_integer(
    "shave",
    None,
    "Override the border shave in pixels (default: scale; DIV2K: scale + 6).",
    flag_values=FLAGS,
)
flags.DEFINE_bool(
    "round_y",
    False,
    "Round Y to integers as MATLAB's rgb2ycbcr on uint8 does (default: unrounded).",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "max_images", 0, "Evaluate only the first N images of each set (0: all).", flag_values=FLAGS
)

BICUBIC_SCALES = (2, 3, 4)


def evaluate_command(values=FLAGS):
    from sr_tf.core.files import check_writable
    from sr_tf.evaluation import metrics, scoring
    from sr_tf.inference import predictor as predictors

    try:
        scales = [int(s) for s in values.scales] if values.scales else None
    except ValueError:
        raise cli.UsageError(
            f"--scales takes integers such as 2,3,4, got {','.join(values.scales)}"
        ) from None
    if values.results_json:
        check_writable(values.results_json)  # before the work, not after it
    options = inference_flags.options_from_flags(values)
    predictor = predictors.load_predictor(values.model, options)
    if scales is None:
        scales = list(BICUBIC_SCALES) if predictor.name == predictors.BICUBIC else list(predictor.scales)
    overrides = metrics.ProtocolOverrides(values.channel, values.shave, values.round_y)
    results, protocols = scoring.evaluate_all(
        predictor, values.benchmark_dir, values.sets, scales, options, overrides, values.max_images
    )
    ensemble = ""
    if options.self_ensemble:
        strategy = options.strategy
        ensemble = ", self-ensemble" + (f" over {strategy.num_replicas_in_sync} replicas" if strategy else "")
    print(f"model: {values.model}{ensemble} ({predictor.runtime})")
    print(scoring.format_table(results, protocols))
    if values.results_json:
        print(f"results: {scoring.write_results_json(values.results_json, results)}")


def main(argv=None):
    return COMMAND.main(evaluate_command, argv)


if __name__ == "__main__":
    cli.run_main(main)
