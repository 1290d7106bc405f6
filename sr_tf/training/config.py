"""A training run's settings, declared once: each field of `TrainConfig` is also its absl flag.

`define_flags(flag_values)` defines one flag per field (type, default, choices and help come from
the field), plus one per model option (from the model specs); `config_from_flags(flag_values)`
reads them back and `config_to_flags(config)` writes the flag lines that reproduce a config.
Fields left at None take the value of the model's recipe (`--recipe`, declared in its spec).
"""

import dataclasses

from absl import flags

from sr_tf.core.devices import DISTRIBUTIONS
from sr_tf.models import RECIPE_NAMES, get_spec, model_names
from sr_tf.training.recipes import LR_SCHEDULES, recipe_for

PATCH_MODES = ("grid", "random")
LOSSES = ("mse_residual", "l1")
MIXED_PRECISION = ("none", "bf16", "fp16")
TRAIN_SPLITS = ("train", "valid", "train_valid")
BUDGET_CLOCKS = ("wall", "cpu")
# Fields a recipe fills in when left at None.
RECIPE_FIELDS = (
    "batch_size",
    "patch_mode",
    "hr_patch",
    "lr_patch",
    "epochs",
    "steps",
    "learning_rate",
    "lr_decay_factor",
    "lr_decay_every",
    "loss",
    "lr_schedule",
    "warmup_fraction",
)


def setting(default, help, group, kind=None, choices=None):
    """A TrainConfig field that is also a flag: `kind` (str, int, float, bool, list) when the
    default does not tell it (None defaults); `choices` (or a function giving them, asked when the
    flag is defined) makes an enum flag."""
    kind = kind or type(default)
    factory = (
        {"default_factory": lambda: default}
        if isinstance(default, (dict, list, tuple))
        else {"default": default}
    )
    return dataclasses.field(
        **factory, metadata={"help": help, "group": group, "kind": kind, "choices": choices}
    )


@dataclasses.dataclass
class TrainConfig:
    run_dir: str = setting(
        None, "Directory of the run: checkpoints, logs, flags.cfg, saved_model.", "run", str
    )
    model: str = setting("btsrn", "Network to train.", "model", choices=model_names)
    scale: tuple = setting((2,), "Upscaling factor; several (e.g. 2,3,4) for MDSR.", "model", list)
    model_options: dict = dataclasses.field(default_factory=dict)  # one flag per option, see option_flags()
    recipe: str = setting(
        "release",
        "release: the paper's recipe; budget: ours for a fixed CPU time "
        "(--max_minutes or --steps), see README.",
        "recipe",
        choices=RECIPE_NAMES,
    )
    train_data: str = setting(
        "samples", "Training images (see README: samples, div2k:, tfds:, folder:, ...).", "data"
    )
    train_split: str = setting(
        "train", "Split of --train_data to train on (release: train_valid).", "data", choices=TRAIN_SPLITS
    )
    val_data: str | None = setting(
        None, "Validation images; default: the validation split of --train_data.", "data", str
    )
    val_images: int = setting(0, "Validate on the first N validation images only (0: all).", "data")
    cache: str = setting("memory", "Decoded-image cache: memory, none, or a file path prefix.", "data")
    batch_size: int | None = setting(None, "Global batch size, split across replicas.", "recipe", int)
    patch_mode: str | None = setting(
        None, "grid: the release's fixed patch grid; random: random crops.", "recipe", str, PATCH_MODES
    )
    hr_patch: int | None = setting(None, "HR patch size (BTSRN: 108).", "recipe", int)
    lr_patch: int | None = setting(None, "LR patch size (EDSR/MDSR: 48).", "recipe", int)
    epochs: int | None = setting(None, "Epochs (BTSRN: 16 passes over the patch grid).", "recipe", int)
    steps: int | None = setting(
        None, "Training steps; overrides --epochs (EDSR/MDSR: 300000).", "recipe", int
    )
    max_minutes: float | None = setting(
        None, "Stop once the training steps took this many minutes (a time budget).", "recipe", float
    )
    budget_clock: str = setting(
        "wall",
        "What --max_minutes counts: wall (seconds of the training steps) or cpu (this "
        "process's CPU seconds over the cores it may use: fair on a shared machine).",
        "recipe",
        choices=BUDGET_CLOCKS,
    )
    learning_rate: float | None = setting(None, "Initial (budget: peak) learning rate.", "recipe", float)
    lr_decay_factor: float | None = setting(
        None, "Learning-rate factor per decay period (BTSRN 0.618, EDSR 0.5).", "recipe", float
    )
    lr_decay_every: int | None = setting(
        None, "Steps per decay period; 0 = one epoch (BTSRN), EDSR 200000.", "recipe", int
    )
    loss: str | None = setting(
        None, "mse_residual (BTSRN) or l1 (EDSR/MDSR; for BTSRN: L1 on the residual).", "recipe", str, LOSSES
    )
    lr_schedule: str | None = setting(
        None,
        "step: x lr_decay_factor every lr_decay_every steps; cosine: warm-up, then to zero over the budget.",
        "recipe",
        str,
        LR_SCHEDULES,
    )
    warmup_fraction: float | None = setting(
        None, "Cosine schedule: share of the budget with a linearly rising rate.", "recipe", float
    )
    seed: int = setting(0, "Seed of weights, patches and MDSR scale choice.", "recipe")
    distribution: str = setting("default", "tf.distribute strategy.", "devices", choices=DISTRIBUTIONS)
    cpu_replicas: int = setting(
        0, "Split the CPU into N logical devices (MirroredStrategy on a CPU machine).", "devices"
    )
    mixed_precision: str = setting(
        "none",
        "bf16 (fast on AVX512-BF16 CPUs) or fp16 with loss scaling.",
        "devices",
        choices=MIXED_PRECISION,
    )
    checkpoint_every: int = setting(500, "Steps between checkpoints.", "run")
    keep_checkpoints: int = setting(3, "Checkpoints kept.", "run")
    checkpoint_input: bool = setting(
        True,
        "Resume exactly: replay the seeded input to the restored step (off: reseed it, "
        "faster for DIV2K-sized sets).",
        "run",
    )
    log_every: int = setting(50, "Steps between progress lines and TensorBoard scalars.", "run")
    validate_every: int = setting(1000, "Steps between validations.", "run")
    warm_start: str | None = setting(
        None,
        "Start from the matching weights of pretrained:<name> (a shipped "
        "network, e.g. pretrained:btsrn_x2 to fine-tune it on your photos; python -m "
        "sr_tf.models lists them), a run directory (e.g. EDSR x2 for x3/x4) or a "
        ".keras network.",
        "run",
        str,
    )
    quantization_aware: bool = setting(
        False,
        "Fine-tune for int8: the train step sees every convolution but the last as the int8 export "
        "computes it (inputs and kernels rounded; ranges measured at the start). Use with --warm_start; "
        "the weights stay float.",
        "run",
    )
    export: bool = setting(True, "Export the full-image inference SavedModel at the end.", "run")

    @property
    def spec(self):
        return get_spec(self.model)

    @property
    def recipe_values(self):
        return recipe_for(self.model, self.recipe)

    def resolved(self):
        """A copy with every recipe default filled in and every value checked."""
        recipe = self.recipe_values
        filled = {
            field: getattr(recipe, field) if getattr(self, field) is None else getattr(self, field)
            for field in RECIPE_FIELDS
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
        if not self.run_dir or not str(self.run_dir).strip():
            raise ValueError("--run_dir is empty; name the run's directory (e.g. --run_dir=runs/btsrn_x2)")
        spec = self.spec  # raises for an unknown model name
        unknown = sorted(set(self.model_options) - set(spec.defaults))
        if unknown:
            raise ValueError(f"options {unknown} do not apply to --model={self.model}")
        try:
            spec.scales(self.scale)  # one scale, or distinct ones for a multi-scale model, all supported
        except ValueError as error:
            raise ValueError(f"--scale: {error}") from error
        if self.patch_mode not in PATCH_MODES:
            raise ValueError(f"--patch_mode must be one of {PATCH_MODES}, got {self.patch_mode!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"--loss must be one of {LOSSES}, got {self.loss!r}")
        if self.loss == "mse_residual" and not spec.residual:
            raise ValueError("--loss=mse_residual is BTSRN's loss; EDSR/MDSR use --loss=l1")
        if self.train_split not in TRAIN_SPLITS:
            raise ValueError(f"--train_split must be one of {TRAIN_SPLITS}, got {self.train_split!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(
                f"--mixed_precision must be one of {MIXED_PRECISION}, got {self.mixed_precision!r}"
            )
        if self.patch_mode == "grid" and not self.hr_patch:
            raise ValueError("--patch_mode=grid needs --hr_patch")
        if bool(self.hr_patch) == bool(self.lr_patch):
            raise ValueError("give exactly one of --hr_patch and --lr_patch")
        for name in ("batch_size", "checkpoint_every", "log_every", "validate_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name} must be positive, got {getattr(self, name)}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"--max_minutes must be positive, got {self.max_minutes}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"--lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"--warmup_fraction must be in [0, 1), got {self.warmup_fraction}")
        if self.lr_schedule == "cosine" and not self.steps and not self.max_minutes:
            raise ValueError("the cosine schedule decays over the budget: set --max_minutes or --steps")
        if self.quantization_aware and len(spec.scales(self.scale)) > 1:
            raise ValueError("--quantization_aware fine-tunes one scale; give a single --scale")
        if not self.epochs and not self.steps and not self.max_minutes:
            raise ValueError("set --epochs, --steps or --max_minutes")

    @property
    def scales(self):
        return tuple(self.scale)

    @property
    def description(self):
        """The model description of the network this run trains (see sr_tf.models.specs)."""
        spec = self.spec
        return {
            "model": spec.name,
            "scales": list(spec.scales(self.scale)),
            "options": spec.options(self.model_options),
        }


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


def flag_fields():
    """The TrainConfig fields that are flags, in declaration order."""
    return [field for field in dataclasses.fields(TrainConfig) if "help" in field.metadata]


def flag_groups():
    """{flag: group} for --help: each field's group; the model options under 'model'."""
    groups = {field.name: field.metadata["group"] for field in flag_fields()}
    return {**groups, **{option: "model" for option in option_flags()}}


def option_flags():
    """{option: (default kind, help)} of every model option of every model (the union of the specs)."""
    options = {}
    for name in model_names():
        spec = get_spec(name)
        for option, default in spec.defaults.items():
            help_text = spec.option_help.get(option, option)
            options.setdefault(option, (type(default), f"{help_text} (unset: the model's default)"))
    return options


def define_flags(flag_values=flags.FLAGS, names=None, defaults=None):
    """Defines the training flags on `flag_values`: every field (or those in `names`, where
    "model_options" stands for every model option), with `defaults` overriding field defaults."""
    defaults = defaults or {}
    wanted = set(names) if names is not None else None
    for field in flag_fields():
        if wanted is not None and field.name not in wanted:
            continue
        meta = field.metadata
        default = defaults.get(
            field.name, field.default if field.default is not dataclasses.MISSING else field.default_factory()
        )
        choices = meta["choices"]() if callable(meta["choices"]) else meta["choices"]
        _define(flag_values, field.name, meta["kind"], default, meta["help"], choices)
    if wanted is None or "model_options" in wanted:
        for option, (kind, help_text) in option_flags().items():
            choices = _option_choices(option)
            _define(flag_values, option, kind, None, help_text, choices)


def _option_choices(option):
    for name in model_names():
        choices = get_spec(name).option_choices.get(option)
        if choices:
            return tuple(choices)
    return None


def _define(flag_values, name, kind, default, help_text, choices):
    if kind is list:
        default = None if default is None else [str(v) for v in default]
        flags.DEFINE_list(name, default, help_text, flag_values=flag_values)
    elif choices:
        flags.DEFINE_enum(name, default, list(choices), help_text, flag_values=flag_values)
    elif kind is bool:
        flags.DEFINE_bool(name, default, help_text, flag_values=flag_values)
    elif kind is int:
        flags.DEFINE_integer(name, default, help_text, flag_values=flag_values)
    elif kind is float:
        flags.DEFINE_float(name, default, help_text, flag_values=flag_values)
    else:
        flags.DEFINE_string(name, default, help_text, flag_values=flag_values)


def config_from_flags(flag_values=flags.FLAGS):
    """The TrainConfig the parsed training flags give (not yet resolved against the recipe).
    Raises ValueError naming the flag for a --scale that is not integers."""
    values = {}
    for field in flag_fields():
        if field.name in flag_values:
            values[field.name] = flag_values[field.name].value
    if "scale" in values:
        try:
            values["scale"] = tuple(int(s) for s in values["scale"])
        except ValueError:
            raise ValueError(
                f"--scale takes integers such as 2 or 2,3,4, got {','.join(values['scale'])}"
            ) from None
    values["model_options"] = {
        option: flag_values[option].value
        for option in option_flags()
        if option in flag_values and flag_values[option].value is not None
    }
    return TrainConfig(**values)
