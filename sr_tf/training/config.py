"""A training run's settings; unset fields take the model family's recipe (recipes.py)."""
import dataclasses
from typing import Optional

from sr_tf.models import family, model_defaults
from sr_tf.training.recipes import RECIPES

PATCH_MODES = ("grid", "random")
LOSSES = ("mse_residual", "l1")
MIXED_PRECISION = ("none", "bf16", "fp16")
TRAIN_SPLITS = ("train", "valid", "train_valid")


@dataclasses.dataclass
class TrainConfig:
    run_dir: str
    model: str = "btsrn"
    scale: tuple = (2,)
    model_options: dict = dataclasses.field(default_factory=dict)
    train_data: str = "samples"
    train_split: str = "train"  # train, valid, or train_valid (the release trained on DIV2K 0001-0900)
    val_data: Optional[str] = None  # None: the validation split of train_data
    val_images: int = 0  # 0: every validation image
    # None below means "the recipe's value".
    batch_size: Optional[int] = None
    patch_mode: Optional[str] = None
    hr_patch: Optional[int] = None
    lr_patch: Optional[int] = None
    epochs: Optional[int] = None
    steps: Optional[int] = None  # overrides epochs when set
    max_minutes: Optional[float] = None  # stop earlier once training steps took this long (wall time)
    learning_rate: Optional[float] = None
    lr_decay_factor: Optional[float] = None
    lr_decay_every: Optional[int] = None  # steps; 0 = every epoch
    loss: Optional[str] = None
    seed: int = 0
    cache: str = "memory"
    distribution: str = "default"
    cpu_replicas: int = 0
    mixed_precision: str = "none"
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    checkpoint_input: bool = True
    log_every: int = 50
    validate_every: int = 1000
    warm_start: Optional[str] = None
    export: bool = True

    @property
    def family(self):
        return family(self.model)

    @property
    def recipe(self):
        return RECIPES[self.family]

    def resolved(self):
        """A copy with every recipe default filled in and every value checked."""
        recipe = self.recipe
        filled = {
            field: getattr(recipe, field) if getattr(self, field) is None else getattr(self, field)
            for field in ("batch_size", "patch_mode", "hr_patch", "lr_patch", "epochs", "steps",
                          "learning_rate", "lr_decay_factor", "lr_decay_every", "loss")
        }
        if self.steps:  # a length in steps replaces the recipe's epochs
            filled["epochs"] = 0
        if self.hr_patch and self.lr_patch is None:
            filled["lr_patch"] = 0
        if self.lr_patch and self.hr_patch is None:
            filled["hr_patch"] = 0
        config = dataclasses.replace(self, scale=tuple(int(s) for s in self.scale), **filled)
        config.check()
        return config

    def check(self):
        model_defaults(self.model)  # raises for an unknown model name
        unknown = sorted(set(self.model_options) - set(model_defaults(self.model)))
        if unknown:
            raise ValueError(f"options {unknown} do not apply to --model={self.model}")
        if self.family != "mdsr" and len(self.scale) != 1:
            raise ValueError(f"--scale takes one value for --model={self.model}, got {self.scale}")
        if self.patch_mode not in PATCH_MODES:
            raise ValueError(f"--patch_mode must be one of {PATCH_MODES}, got {self.patch_mode!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"--loss must be one of {LOSSES}, got {self.loss!r}")
        if self.loss == "mse_residual" and self.family != "btsrn":
            raise ValueError("--loss=mse_residual is BTSRN's loss; EDSR/MDSR use --loss=l1")
        if self.train_split not in TRAIN_SPLITS:
            raise ValueError(f"--train_split must be one of {TRAIN_SPLITS}, got {self.train_split!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"--mixed_precision must be one of {MIXED_PRECISION}, got {self.mixed_precision!r}")
        if self.patch_mode == "grid" and not self.hr_patch:
            raise ValueError("--patch_mode=grid needs --hr_patch")
        if bool(self.hr_patch) == bool(self.lr_patch):
            raise ValueError("give exactly one of --hr_patch and --lr_patch")
        for name in ("batch_size", "checkpoint_every", "log_every", "validate_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name} must be positive, got {getattr(self, name)}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"--max_minutes must be positive, got {self.max_minutes}")
        if not self.epochs and not self.steps:
            raise ValueError("set --epochs or --steps")

    @property
    def scales(self):
        return tuple(self.scale)

    @property
    def model_scale(self):
        """What build_model takes: a tuple for MDSR, an int otherwise."""
        return self.scales if self.family == "mdsr" else self.scales[0]


def config_to_flags(config):
    """The flag lines (`--name=value`) that reproduce `config` with `python -m sr_tf.train --flagfile`."""
    lines = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.name == "model_options":
            lines += [f"--{k}={v}" for k, v in sorted(value.items())]
        elif field.name == "scale":
            lines.append("--scale=" + ",".join(str(s) for s in value))
        elif value is None:
            continue
        elif isinstance(value, bool):
            lines.append(f"--{field.name}" if value else f"--no{field.name}")
        else:
            lines.append(f"--{field.name}={value}")
    return lines
