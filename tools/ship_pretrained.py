r"""Ship a trained network as a pretrained one: weights into the package, scores into the registry.

    python tools/ship_pretrained.py --run=runs/btsrn_x2 --name=btsrn_x2 \
        --benchmark_dir=../shared/data/benchmark --trained="291 images, budget recipe, 60 CPU-min"

Loads the run's latest checkpoint (or a .keras file), scores it on Set5 and Set14 with the paper
protocol (Y channel, `scale` pixels shaved, no self-ensemble), stores the weights as float16 in
`sr_tf/models/weights/<name>.weights.h5` when that moves neither PSNR by more than
--max_float16_loss dB (else as float32), and writes the entry (file, sha256, scores, how it was
trained) into `sr_tf/models/weights/registry.json`. Both files are written atomically.
"""

import json
import os
import pathlib

from absl import flags

from sr_tf.commands import cli
from sr_tf.core.files import temporary_sibling, write_atomically

COMMAND = cli.Command("ship_pretrained", __doc__, required=("run", "name", "benchmark_dir"))
FLAGS = COMMAND.flags
flags.DEFINE_string(
    "run",
    None,
    "The training run directory (latest checkpoint) or .keras network to ship.",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "name", None, "The pretrained name, e.g. btsrn_x2 (used as pretrained:<name>).", flag_values=FLAGS
)
flags.DEFINE_string(
    "benchmark_dir", None, "Folder of Set5 and Set14 (<Set>/HR, <Set>/LR_bicubic/X<s>).", flag_values=FLAGS
)
flags.DEFINE_string(
    "trained", "", "One line on how it was trained (data, recipe, steps, CPU-minutes).", flag_values=FLAGS
)
flags.DEFINE_float(
    "max_float16_loss", 0.01, "Largest PSNR change (dB) that float16 storage may cause.", flag_values=FLAGS
)

WEIGHTS_DIR = pathlib.Path(__file__).resolve().parents[1] / "sr_tf" / "models" / "weights"
SETS = ("Set5", "Set14")


def scores(network, benchmark_dir):
    """{set: {"psnr", "ssim"}} of a single-scale network with the paper protocol."""
    from sr_tf import models
    from sr_tf.evaluation import scoring
    from sr_tf.inference.predictor import network_predictor

    scale = models.scales_of(network)[0]
    results, _ = scoring.evaluate_all(network_predictor(network), benchmark_dir, list(SETS), [scale])
    return {name: results[name][f"x{scale}"] for name in SETS}


def save_weights(network, path, float16):
    """Writes the .weights.h5 (not atomically: `ship` writes into a temporary name); with float16
    the stored arrays are float16."""
    if not float16:
        network.save_weights(path)
        return
    full = temporary_sibling(path, ".weights.h5")  # Keras wants the suffix
    try:
        network.save_weights(full)
        float16_weights_file(full, path)
    finally:
        if os.path.exists(full):
            os.remove(full)


def load_weights_file(description, path):
    """A fresh network of `description` with the weights of `path`."""
    from sr_tf import models

    network = models.from_description(description)
    network.load_weights(path)
    return network


def float16_weights_file(source_path, target_path):
    """Copies a .weights.h5 into a fresh file with every float32 array stored as float16 (a fresh
    file, because HDF5 keeps the space of arrays deleted in place)."""
    import h5py
    import numpy as np

    with h5py.File(source_path, "r") as source, h5py.File(target_path, "w") as target:
        target.attrs.update(source.attrs)

        def copy(name, item):
            if isinstance(item, h5py.Group):
                target.require_group(name).attrs.update(item.attrs)
                return
            data = item[()]
            stored = data.astype(np.float16) if data.dtype == np.float32 else data
            target.create_dataset(name, data=stored).attrs.update(item.attrs)

        source.visititems(copy)


def ship(run, name, benchmark_dir, trained, max_float16_loss=0.01, weights_dir=WEIGHTS_DIR):
    """Ships `run` as `name` into `weights_dir` (the package's by default); returns the registry entry."""
    import numpy as np

    from sr_tf import models
    from sr_tf.core.files import write_text_atomically
    from sr_tf.models import pretrained_registry as registry

    network = models.open_network(run)
    description = models.describe(network)
    weights_dir = pathlib.Path(weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    path = weights_dir / f"{name}.weights.h5"
    full = scores(network, benchmark_dir)
    # Score the float16 file as written; it ships only if it scores like the float32 network.
    half = loss = None

    def write(temp):
        nonlocal half, loss
        save_weights(network, temp, float16=True)
        half = scores(load_weights_file(description, temp), benchmark_dir)
        loss = max(abs(full[s]["psnr"] - half[s]["psnr"]) for s in SETS)
        if loss > max_float16_loss:
            save_weights(network, temp, float16=False)

    write_atomically(path, write, suffix=".weights.h5")
    float16 = loss <= max_float16_loss
    final = half if float16 else full  # the scores of exactly the stored weights
    stored = load_weights_file(description, path)
    for trained_weight, stored_weight in zip(network.weights, stored.weights):
        expected = trained_weight.numpy()
        if float16 and expected.dtype == np.float32:
            expected = expected.astype(np.float16).astype(np.float32)
        if not np.array_equal(stored_weight.numpy(), expected):
            raise RuntimeError(
                f"{path} does not load back the weights it was written with ({stored_weight.path})"
            )
    entry = {
        "model": description["model"],
        "scale": description["scales"][0],
        "file": path.name,
        "sha256": registry.sha256_of(path),
        "trained": trained,
        "set5_psnr": round(final["Set5"]["psnr"], 3),
        "set14_psnr": round(final["Set14"]["psnr"], 3),
        "set5_ssim": round(final["Set5"]["ssim"], 4),
        "set14_ssim": round(final["Set14"]["ssim"], 4),
        "storage": "float16" if float16 else "float32",
        "float16_psnr_change": round(loss, 4),
        "options": {
            k: v
            for k, v in description["options"].items()
            if models.model_defaults(description["model"])[k] != v
        },
    }
    registry_path = weights_dir / registry.REGISTRY_FILE
    table = json.loads(registry_path.read_text()) if registry_path.is_file() else {}
    table[name] = entry
    write_text_atomically(registry_path, json.dumps(table, indent=2, sort_keys=True) + "\n")
    return entry


def command(values=FLAGS):
    entry = ship(values.run, values.name, values.benchmark_dir, values.trained, values.max_float16_loss)
    print(json.dumps(entry, indent=2))


def main(argv=None):
    return COMMAND.main(command, argv)


if __name__ == "__main__":
    cli.run_main(main)
