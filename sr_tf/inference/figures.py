"""Comparison figures in the style of the EDSR paper's Fig. 5: for each crop, bicubic,
|bicubic - GT| summed over RGB, then SR and |SR - GT| of each model, and the ground truth, side
by side."""

import numpy as np

from sr_tf.core.errors import UsageError
from sr_tf.core.files import write_atomically


def parse_crop(text):
    """'y,x,size' (HR pixels) -> (y, x, size)."""
    try:
        y, x, size = (int(v) for v in str(text).split(","))
    except ValueError:
        raise UsageError(f"--crop={text}: expected y,x,size in HR pixels, e.g. 120,80,96") from None
    if y < 0 or x < 0 or size <= 0:
        raise UsageError(f"--crop={text}: y and x must be >= 0 and size > 0")
    return y, x, size


def check_crop(crop, shape):
    y, x, size = crop
    if y + size > shape[0] or x + size > shape[1]:
        raise UsageError(f"--crop={y},{x},{size} does not fit the {shape[1]}x{shape[0]} (WxH) image")


def error_map(image, truth):
    """|image - truth| summed over the RGB channels (0..765)."""
    return np.abs(image.astype(np.int32) - truth.astype(np.int32)).sum(axis=-1)


def crop_psnr(image, truth):
    mse = np.mean((image.astype(np.float64) - truth.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def comparison_figure(bicubic, results, truth, crops):
    """A matplotlib Figure: one row per crop (y, x, size); bicubic and each of `results`
    [(label, SR image)] with its error map, then the ground truth.

    The error maps of a row share one colour scale, so they can be compared directly.
    """
    from matplotlib.figure import Figure

    methods = [("bicubic", bicubic), *results]
    columns = 2 * len(methods) + 1
    figure = Figure(figsize=(2.2 * columns, 2.4 * len(crops)), dpi=100, layout="constrained")
    axes = figure.subplots(len(crops), columns, squeeze=False)
    for row, (y, x, size) in zip(axes, crops):
        window = (slice(y, y + size), slice(x, x + size))
        gt = truth[window]
        outputs = [(label, image[window]) for label, image in methods]
        errors = [error_map(out, gt) for _, out in outputs]
        top = max(1, int(max(e.max() for e in errors)))
        panels = []
        for (label, out), error in zip(outputs, errors):
            panels += [(out, f"{label} {crop_psnr(out, gt):.2f} dB"), (error, f"|{label} - GT|")]
        panels.append((gt, f"GT ({y},{x},{size})"))
        for axis, (image, title) in zip(row, panels):
            if image.ndim == 2:
                axis.imshow(image, cmap="inferno", vmin=0, vmax=top, interpolation="nearest")
            else:
                axis.imshow(image, interpolation="nearest")
            axis.set_title(title, fontsize=8)
            axis.set_xticks([])
            axis.set_yticks([])
    return figure


def save_figure(figure, path):
    """Writes the figure as PNG atomically; OutputError naming `path` when it cannot be written."""
    return write_atomically(path, lambda temp: figure.savefig(temp, format="png"))


def make_figure(predictor, hr, scale, crops, output, lr=None, options=None, sr_label=None, compare=()):
    """Fig. 5-style PNG at `output` for an HR image: LR made with MATLAB-exact bicubic from the
    modcropped HR (or `lr` as given), upscaled by bicubic, by `predictor` (shown as `sr_label`,
    default its name) and by each predictor of `compare` (shown by name); the predictors run as
    `options` (InferenceOptions) say."""
    from sr_tf.data.imresize import imresize
    from sr_tf.data.pairs import make_lr

    if lr is None:
        lr = make_lr(hr, scale)
    truth = hr[: lr.shape[0] * scale, : lr.shape[1] * scale]
    if truth.shape[:2] != (lr.shape[0] * scale, lr.shape[1] * scale):
        raise ValueError(f"the HR image {hr.shape[:2]} is smaller than {scale} x the LR image {lr.shape[:2]}")
    for crop in crops:
        check_crop(crop, truth.shape)
    bicubic = imresize(lr, scale)
    labelled = [(sr_label or predictor.name, predictor)] + [(other.name, other) for other in compare]
    results = [(label, model.upscale(lr, scale, options)) for label, model in labelled]
    return save_figure(comparison_figure(bicubic, results, truth, crops), output)
