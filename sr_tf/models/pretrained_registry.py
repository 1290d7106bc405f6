"""Networks trained by sr_tf and shipped inside the package: `pretrained(name) -> keras.Model`.

Each entry names the model spec it instantiates, the weights file in `sr_tf/models/weights/`
(`.weights.h5`, installed as package data), the file's sha256 (checked at every load), how it was
trained and what it scores (docs/pretrained.md has the model cards). Commands take
`pretrained:<name>` wherever they take a model.
"""

import dataclasses
import hashlib
import json
import os
from importlib import resources

PREFIX = "pretrained:"
WEIGHTS_PACKAGE = "sr_tf.models"
WEIGHTS_FOLDER = "weights"


@dataclasses.dataclass(frozen=True)
class Pretrained:
    name: str
    model: str
    scale: int
    file: str  # in sr_tf/models/weights/
    sha256: str
    trained: str  # one line: data, recipe, steps, CPU-minutes
    set5_psnr: float  # paper protocol (Y, shave = scale), no self-ensemble
    set14_psnr: float
    set5_ssim: float = 0.0
    set14_ssim: float = 0.0
    storage: str = "float32"  # the dtype of the stored arrays (loaded as float32)
    options: dict = dataclasses.field(default_factory=dict)  # model options beyond the defaults
    folder: str = None  # where `file` is; None: the package's weights folder

    @property
    def description(self):
        return {"model": self.model, "scales": [self.scale], "options": dict(self.options)}


REGISTRY_FILE = "registry.json"  # beside the weights; tools/ship_pretrained.py writes it
PRETRAINED = {}


class PretrainedError(ValueError):
    """An unknown pretrained name, or a weights file that is missing or not the one shipped."""


def register_pretrained(item):
    PRETRAINED[item.name] = item
    return item


def _load_shipped_registry():
    """The entries of weights/registry.json: {name: {model, scale, file, sha256, trained, ...}}."""
    path = resources.files(WEIGHTS_PACKAGE).joinpath(WEIGHTS_FOLDER, REGISTRY_FILE)
    if not path.is_file():
        return
    fields = {f.name for f in dataclasses.fields(Pretrained)}
    for name, values in json.loads(path.read_text()).items():
        register_pretrained(Pretrained(name=name, **{k: v for k, v in values.items() if k in fields}))


def pretrained_names():
    return tuple(PRETRAINED)


def entry(name):
    """The registry entry of `name` (with or without the `pretrained:` prefix)."""
    name = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    if name not in PRETRAINED:
        known = ", ".join(PRETRAINED) or "none shipped yet"
        raise PretrainedError(f"no pretrained network {name!r}; known: {known}")
    return PRETRAINED[name]


def weights_path(name):
    """The installed weights file of `name` (a path inside the package)."""
    item = entry(name)
    if item.folder is not None:
        return os.path.join(item.folder, item.file)
    return str(resources.files(WEIGHTS_PACKAGE).joinpath(WEIGHTS_FOLDER, item.file))


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified_weights_path(name):
    """`weights_path(name)` after checking that the file exists and has the shipped sha256."""
    item, path = entry(name), weights_path(name)
    if not os.path.isfile(path):
        raise PretrainedError(f"pretrained {item.name}: the weights file {path} is missing; reinstall sr_tf")
    found = sha256_of(path)
    if found != item.sha256:
        raise PretrainedError(
            f"pretrained {item.name}: {path} has sha256 {found}, not the shipped {item.sha256}; "
            "the file is corrupted or was replaced: reinstall sr_tf"
        )
    return path


def pretrained(name):
    """The training network `name` (e.g. 'btsrn_x2') with its shipped weights."""
    from sr_tf.models.network import SRNetwork

    item = entry(name)
    path = verified_weights_path(name)
    network = SRNetwork(item.model, [item.scale], item.options)
    try:
        network.load_weights(path)
    except Exception as error:  # h5py / Keras raise many kinds for a bad file
        raise PretrainedError(f"pretrained {item.name}: cannot load {path}: {error}") from error
    return network


def is_pretrained_location(location):
    """True for a model location `pretrained:<name>`."""
    return isinstance(location, str) and location.startswith(PREFIX)


_load_shipped_registry()
