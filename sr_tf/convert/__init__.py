"""Weights from the original code: official EDSR-PyTorch / MDSR state_dicts and BTSRN release
TF1 checkpoints, turned into sr_tf training networks.

    network = from_edsr_pytorch("EDSR_baseline_x2.pt", "edsr_baseline", 2)
    network = from_edsr_pytorch("MDSR.pt", "mdsr", (2, 3, 4))
    network = from_btsrn_release("ckpt/model.ckpt-100000", 2)

The architecture's size (blocks, features; BTSRN width and bottleneck) is read from the tensors'
names and shapes. Every tensor must be used and every weight of the network filled, or a
ConversionError lists what is missing or unexpected. PyTorch convolutions are OIHW, Keras HWIO;
PixelShuffle orders the pre-shuffle channels c*r*r + (i*r + j), TF's depth_to_space
(i*r + j)*C + c, so those convs' output channels are permuted.
"""

import collections
import re

import numpy as np

from sr_tf import models
from sr_tf.convert.torch_files import TorchFileError, read_state_dict
from sr_tf.models.edsr import DIV2K_MEAN, RGB_RANGE, UPSAMPLER_STEPS


def converts_to(source):
    """The models whose spec says checkpoints of `source` (edsr_pytorch, btsrn_release) convert to them."""
    return tuple(name for name in models.model_names() if models.get_spec(name).converts_from == source)


class ConversionError(ValueError):
    """A checkpoint that does not fit the asked network; the message says what does not fit."""


# ------------------------------------------------------------------------------------- EDSR / MDSR


def _hwio(kernel):
    return np.transpose(kernel, (2, 3, 1, 0))


def _shuffle_permutation(channels_out, r):
    """TF channel k takes PyTorch channel (k % C) * r * r + k // C, C = channels_out / r^2."""
    c = channels_out // (r * r)
    return np.array([(k % c) * r * r + k // c for k in range(channels_out)])


def _edsr_layout(state, model, scales):
    """{sr_tf layer name: (kernel key, bias key, shuffle r or 0)} for the official key layout."""
    multi = models.get_spec(model).multi_scale
    blocks = sorted(
        {int(m.group(1)) for k in state for m in [re.match(r"body\.(\d+)\.body\.0\.weight$", k)] if m}
    )
    num_blocks = len(blocks)
    layout = {"head": ("head.0", 0), "body_conv": (f"body.{num_blocks}", 0)}
    for i in range(num_blocks):
        layout[f"body_{i}_conv1"] = (f"body.{i}.body.0", 0)
        layout[f"body_{i}_conv2"] = (f"body.{i}.body.2", 0)
    if multi:
        layout["tail"] = ("tail.0", 0)
        for k, s in enumerate(scales):
            for j in range(2):
                layout[f"pre_x{s}_{j}_conv1"] = (f"pre_process.{k}.{j}.body.0", 0)
                layout[f"pre_x{s}_{j}_conv2"] = (f"pre_process.{k}.{j}.body.2", 0)
            for j, r in enumerate(UPSAMPLER_STEPS[s]):
                layout[f"up_x{s}_{j}_conv"] = (f"upsample.{k}.{2 * j}", r)
    else:
        layout["tail"] = ("tail.1", 0)
        for j, r in enumerate(UPSAMPLER_STEPS[scales[0]]):
            layout[f"up_{j}_conv"] = (f"tail.0.{2 * j}", r)
    return num_blocks, layout


def _check_mean_shift(state, path):
    for key, sign in (("sub_mean", -1), ("add_mean", +1)):
        if f"{key}.bias" not in state:
            continue
        expected = sign * RGB_RANGE * np.array(DIV2K_MEAN)
        found = state[f"{key}.bias"].astype(np.float64) / np.maximum(
            np.diag(state[f"{key}.weight"][:, :, 0, 0]), 1e-12
        )
        if not np.allclose(found, expected, atol=1e-2):
            raise ConversionError(
                f"{path}: {key} holds {np.round(found, 3).tolist()}, not sr_tf's DIV2K mean shift "
                f"{np.round(expected, 3).tolist()} (rgb_range 255 expected)"
            )


def _guess_scale(state, multi):
    """The scale(s) the upsampler shapes say, for the error of a wrong --scale."""
    if multi:
        return None
    second = "tail.0.2.weight" in state
    first = state.get("tail.0.0.weight")
    if first is None:
        return None
    ratio = first.shape[0] // first.shape[1]
    return 4 if second else {4: 2, 9: 3}.get(ratio)


def _check_residual_scaling(path, model, num_features, options):
    """EDSR (256 features) scales its residuals by 0.1, EDSR-baseline (64) does not, and nothing in
    a state_dict says which: a checkpoint with the other model's width is refused unless
    `res_scale` is given, rather than converted with the wrong scaling."""
    spec = models.get_spec(model)
    if "res_scale" in options:
        return
    for other in converts_to("edsr_pytorch"):
        defaults = models.get_spec(other).defaults
        if (
            models.get_spec(other).multi_scale == spec.multi_scale
            and defaults["num_features"] == num_features
            and defaults["res_scale"] != spec.defaults["res_scale"]
        ):
            raise ConversionError(
                f"{path} has {num_features} features, the width of {other} (residual scaling "
                f"{defaults['res_scale']:g}), but --model={model} scales residuals by "
                f"{spec.defaults['res_scale']:g}: "
                f"use --model={other}, or give --res_scale if the checkpoint was trained with another scaling"
            )


def from_edsr_pytorch(path, model, scale, **options):
    """The sr_tf `model` network (0..255 in and out) with the weights of an official EDSR-PyTorch
    state_dict. `scale`: an int, or for MDSR the tuple of the checkpoint's branches in order.
    num_blocks and num_features come from the tensors; res_scale from the model's default or
    `options`."""
    targets = converts_to("edsr_pytorch")
    if model not in targets:
        raise ConversionError(f"--model={model}: EDSR-PyTorch checkpoints convert to {', '.join(targets)}")
    spec = models.get_spec(model)
    try:
        scales = spec.scales(scale)
        state = read_state_dict(path)
    except TorchFileError as error:
        raise ConversionError(str(error)) from error
    except ValueError as error:
        raise ConversionError(f"--scale: {error}") from error
    _check_mean_shift(state, path)
    if "head.0.weight" not in state:
        raise ConversionError(
            f"{path} is not an EDSR/MDSR checkpoint: no head.0.weight among {_names(state)}"
        )
    num_features = int(state["head.0.weight"].shape[0])
    _check_residual_scaling(path, model, num_features, options)
    num_blocks, layout = _edsr_layout(state, model, scales)
    options = {"num_blocks": num_blocks, "num_features": num_features, **options}
    guessed = _guess_scale(state, spec.multi_scale)
    if guessed is not None and guessed != scales[0]:
        raise ConversionError(
            f"{path} is an x{guessed} checkpoint (its upsampler's shapes say so), not x{scales[0]}"
        )
    network = models.build_model(model, scales if spec.multi_scale else scales[0], **options)
    values = {}
    for layer, (key, r) in layout.items():
        kernel, bias = _hwio(_take(state, f"{key}.weight", path)), _take(state, f"{key}.bias", path)
        if r:
            permutation = _shuffle_permutation(kernel.shape[-1], r)
            kernel, bias = kernel[..., permutation], bias[permutation]
        values[f"{layer}/kernel"], values[f"{layer}/bias"] = kernel, bias
    used = {f"{key}.{part}" for key, _ in layout.values() for part in ("weight", "bias")}
    used |= {k for k in state if k.split(".")[0] in ("sub_mean", "add_mean")}
    _assign(network, values, sorted(set(state) - used), path)
    return network


# ------------------------------------------------------------------------------------------ BTSRN


def read_tf1_checkpoint(prefix):
    """{variable name: array} of a TF1 Saver checkpoint (or TF2 one), optimizer slots left out."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(prefix))
    except (tf.errors.OpError, ValueError) as error:
        raise ConversionError(f"cannot read the checkpoint {prefix}: {error}") from error
    names = [
        n
        for n in reader.get_variable_to_shape_map()
        if not re.search(r"(Adam|Momentum|global_step|beta\d_power)", n)
    ]
    return collections.OrderedDict((n, reader.get_tensor(n)) for n in sorted(names))


def from_btsrn_release(checkpoint_prefix, scale, **options):
    """The sr_tf BTSRN ([0, 1] in, the residual over bicubic out) with the weights of a BTSRN
    release (model_resnet_up) TF1 checkpoint; blocks, width and bottleneck come from the variables."""
    state = read_tf1_checkpoint(checkpoint_prefix)
    if "in/kernel" not in state:
        raise ConversionError(
            f"{checkpoint_prefix} is not a BTSRN release checkpoint: no in/kernel among {_names(state)}"
        )
    ups = {n.split("/")[0]: v.shape for n, v in state.items() if re.fullmatch(r"up\d?/kernel", n)}
    found_scale = 4 if "up1" in ups else int(ups["up"][0]) if "up" in ups else None
    if found_scale != int(scale):
        raise ConversionError(
            f"{checkpoint_prefix} is an x{found_scale} checkpoint (its up-sampling kernels say so), "
            f"not x{scale}"
        )

    def count(prefix):
        return len({m.group(1) for n in state for m in [re.match(rf"{prefix}(\d+)_proj/kernel$", n)] if m})

    inferred = dict(
        low_blocks=count("lr_conv"),
        high_blocks=count("hr_conv"),
        width=int(state["in/kernel"].shape[-1]),
        bottleneck=int(state["lr_conv0_proj/kernel"].shape[-1]),
    )
    network = models.build_model("btsrn", int(scale), **{**inferred, **options})
    _assign(network, dict(state), [], checkpoint_prefix)
    return network


# ----------------------------------------------------------------------------------------- shared


def _names(state, most=8):
    names = list(state)
    return ", ".join(names[:most]) + (f", ... ({len(names)} in all)" if len(names) > most else "")


def _take(state, key, path):
    if key not in state:
        raise ConversionError(f"{path}: tensor {key} is missing (the checkpoint is of another architecture?)")
    return state[key]


def _assign(network, values, unexpected, source):
    """Sets every trainable weight from `values` ({layer/kernel: array}); errors list what is
    missing, unexpected or of the wrong shape."""
    weights = {w.path: w for w in network.trainable_weights}
    missing = sorted(set(weights) - set(values))
    extra = sorted(set(values) - set(weights)) + list(unexpected)
    if missing or extra:
        raise ConversionError(
            f"{source} does not fit {network.name}: "
            + (f"missing {', '.join(missing)}; " if missing else "")
            + (f"unexpected {', '.join(extra)}" if extra else "")
        )
    wrong = [
        f"{p}: checkpoint {tuple(values[p].shape)}, network {tuple(w.shape)}"
        for p, w in weights.items()
        if tuple(values[p].shape) != tuple(w.shape)
    ]
    if wrong:
        raise ConversionError(f"{source}: shape mismatch: " + "; ".join(wrong))
    for p, w in weights.items():
        w.assign(values[p].astype(np.float32))
