"""`python -m sr_tf.evaluate --model=M --benchmark_dir=D --sets=Set5,Set14 --scales=2,3,4`

PSNR / SSIM of a model (a SavedModel exported by sr_tf, a training run directory, a .keras
network, or `bicubic`) on benchmark sets in the standard layout (`D/<Set>/HR`,
`D/<Set>/LR_bicubic/X<s>`) or on DIV2K validation (D holding the official DIV2K folders), printed
as a papers-style table with the protocol, and optionally written to --results_json as
{"<Set>": {"x<s>": {"psnr": float, "ssim": float, "images": int}}}.
"""
from absl import app, flags

from sr_tf.cli import command_main
from sr_tf import cli_flags

flags.DEFINE_string("benchmark_dir", None, "Folder of benchmark sets (<Set>/HR, <Set>/LR_bicubic/X<s>) or of DIV2K.")
flags.DEFINE_list("sets", ["Set5", "Set14"], "Benchmark sets to evaluate (ignored for a DIV2K folder).")
flags.DEFINE_list("scales", None, "Scales to evaluate (default: every scale of the model; bicubic: 2,3,4).")
flags.DEFINE_string("results_json", None, "Write the results to this JSON file.")
flags.DEFINE_enum("channel", None, ["y", "rgb"], "Override the compared values (default: y; DIV2K: rgb).")
flags.DEFINE_integer("shave", None, "Override the border shave in pixels (default: scale; DIV2K: scale + 6).")
flags.DEFINE_bool("round_y", False, "Round Y to integers as MATLAB's rgb2ycbcr on uint8 does (default: unrounded).")
flags.DEFINE_integer("max_images", 0, "Evaluate only the first N images of each set (0: all).")
flags.adopt_module_key_flags(cli_flags)

FLAGS = flags.FLAGS
BICUBIC_SCALES = (2, 3, 4)


def evaluate_command():
    from sr_tf.inference import predictor as predictors
    from sr_tf.evaluation import scoring
    from sr_tf.core.devices import replica_strategy

    strategy = replica_strategy(FLAGS.cpu_replicas) if FLAGS.self_ensemble else None
    predictor = predictors.load_predictor(FLAGS.model, strategy)
    if FLAGS.scales:
        scales = [int(s) for s in FLAGS.scales]
    else:
        scales = list(BICUBIC_SCALES) if predictor.name == predictors.BICUBIC else list(predictor.scales)
    results, protocols = scoring.evaluate_all(
        predictor, FLAGS.benchmark_dir, FLAGS.sets, scales, FLAGS.self_ensemble, strategy, FLAGS.channel,
        FLAGS.shave, FLAGS.round_y, FLAGS.tile, FLAGS.max_megapixels, FLAGS.max_images,
    )
    ensemble = ""
    if FLAGS.self_ensemble:
        ensemble = ", self-ensemble" + (f" over {strategy.num_replicas_in_sync} replicas" if strategy else "")
    print(f"model: {FLAGS.model}{ensemble}")
    print(scoring.format_table(results, protocols))
    if FLAGS.results_json:
        print(f"results: {scoring.write_results_json(FLAGS.results_json, results)}")


main = command_main(evaluate_command)


def run():
    flags.mark_flags_as_required(["model", "benchmark_dir"])
    app.run(main)


if __name__ == "__main__":
    run()
