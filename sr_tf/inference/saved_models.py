"""The sr_tf SavedModel format, as readers see it: `assets.extra/sr_tf.json` beside the graph.

sr_tf.json holds the format version, the network's description (`{"model", "scales",
"options"}`, the same dict as a run's model.json and a .keras file's config), the exported
`scale` and the receptive-field radius that tiling needs. sr_tf.export writes it.
"""

import json
import os

METADATA_FILE = os.path.join("assets.extra", "sr_tf.json")
TFLITE_FILE = "model.tflite"
FORMAT = "sr_tf.saved_model/1"


class SavedModelError(ValueError):
    """A folder that is not a readable sr_tf SavedModel; the message names it."""


def is_saved_model(path):
    return os.path.isfile(os.path.join(os.fspath(path), "saved_model.pb"))


def read_metadata(saved_model_dir):
    """The sr_tf.json of an sr_tf SavedModel; SavedModelError naming the folder otherwise."""
    path = os.path.join(os.fspath(saved_model_dir), METADATA_FILE)
    if not os.path.isfile(path):
        raise SavedModelError(
            f"{saved_model_dir} is a SavedModel but not one sr_tf exported ({path} is missing)"
        )
    try:
        with open(path) as f:
            info = json.load(f)
        int(info["scale"]), str(info["model"]), int(info["receptive_radius"])
    except (ValueError, KeyError, TypeError) as error:
        raise SavedModelError(f"{path} is not a valid sr_tf export description: {error}") from error
    return info
