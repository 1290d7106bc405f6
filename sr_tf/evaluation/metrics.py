"""PSNR and SSIM as the super-resolution papers compute them.

A `Protocol` says which values are compared and which border is ignored:

* benchmark sets (Set5, Set14, B100, Urban100): the luma Y of ITU-R BT.601 as MATLAB's
  `rgb2ycbcr` computes it, Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 on 0..255 values,
  not rounded, with `scale` pixels shaved from every border;
* DIV2K: all three RGB channels, with `scale + 6` pixels shaved.

In both, the SR image is quantised to uint8 first (round half up, clipped) and the HR image is
cropped top-left to the SR size (the LR size times the scale).

A grayscale HR file (a single-channel file such as Set14 `bridge`) is compared on its gray values,
as the papers' MATLAB evaluation does (`size(im, 3) == 1`, so no `rgb2ycbcr`): the SR image's
luma is then taken at full range, (65.481 R + 128.553 G + 24.966 B) / 219, which is the gray
value itself for R = G = B. Going through `rgb2ycbcr` instead would compress the range by
219/255 and raise that image's PSNR by 20 log10(255/219) = 1.32 dB.

SSIM is the standard definition (Wang et al. 2004): an 11x11 Gaussian window with sigma 1.5,
K1 = 0.01, K2 = 0.03, dynamic range 255, the mean of the SSIM map over the window positions
inside the (shaved) image; on RGB it is the mean over the three channels.
"""

import dataclasses

import numpy as np

from sr_tf.models import quantize  # the SR is rounded as the inference model rounds it

CHANNELS = ("y", "rgb")
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966])  # MATLAB rgb2ycbcr, for 0..255 values
_SSIM_WINDOW, _SSIM_SIGMA, _SSIM_K1, _SSIM_K2 = 11, 1.5, 0.01, 0.03
_PEAK = 255.0


@dataclasses.dataclass(frozen=True)
class Protocol:
    """What PSNR and SSIM compare: `channel` 'y' or 'rgb', `shave` pixels ignored at each border.

    `round_y` rounds Y to integers as MATLAB's rgb2ycbcr does on uint8 images (off by default:
    unrounded Y reproduces the papers' bicubic baselines more closely, see docs).
    """

    channel: str
    shave: int
    round_y: bool = False

    def __post_init__(self):
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}, got {self.channel!r}")
        if int(self.shave) != self.shave or self.shave < 0:
            raise ValueError(f"shave must be a non-negative integer, got {self.shave!r}")

    def values(self):
        """What is compared, in words."""
        if self.channel == "rgb":
            return "RGB"
        rounding = "rounded" if self.round_y else "unrounded"
        return f"Y (BT.601 as MATLAB rgb2ycbcr, {rounding}; grayscale files on their gray values)"

    def __str__(self):
        return (
            f"{self.values()}, {self.shave} px shaved, SR quantised to uint8, HR cropped to LR size x scale"
        )


def describe(protocols):
    """One line for the protocols {scale: Protocol} of a set, e.g. '..., scale px shaved, ...'."""
    shaves = {s: p.shave for s, p in protocols.items()}
    if all(shave == s for s, shave in shaves.items()):
        shave = "scale"
    elif all(shave == s + 6 for s, shave in shaves.items()):
        shave = "scale + 6"
    else:
        shave = ", ".join(f"x{s}: {v}" for s, v in sorted(shaves.items()))
    values = sorted({p.values() for p in protocols.values()})
    return f"{' / '.join(values)}, {shave} px shaved, SR quantised to uint8, HR cropped to LR size x scale"


def benchmark_protocol(scale):
    """Set5, Set14, B100, Urban100: Y channel, `scale` pixels shaved."""
    return Protocol("y", int(scale))


def div2k_protocol(scale):
    """DIV2K validation: RGB, `scale + 6` pixels shaved."""
    return Protocol("rgb", int(scale) + 6)


def is_div2k(set_name):
    return str(set_name).lower().startswith("div2k")


def protocol_for(pairs, scale, channel=None, shave=None, round_y=False):
    """The protocol of a `PairSet` (by its name: DIV2K or a benchmark set), with optional overrides."""
    default = div2k_protocol(scale) if is_div2k(pairs.name) else benchmark_protocol(scale)
    return Protocol(
        channel or default.channel,
        default.shave if shave is None or shave < 0 else int(shave),
        round_y,
    )


@dataclasses.dataclass(frozen=True)
class ProtocolOverrides:
    """What --channel, --shave and --round_y ask of every set's protocol (protocol_for): `channel`
    and `shave` (None or negative: the set's own) replace the set's, `round_y` rounds Y."""

    channel: str = None
    shave: int = None
    round_y: bool = False

    def protocol_for(self, pairs, scale):
        return protocol_for(pairs, scale, self.channel, self.shave, self.round_y)


def _compared_values(sr, hr, protocol, gray):
    """The float64 planes PSNR and SSIM compare: (SR, HR), shaved, shape (H, W, C)."""
    sr = quantize(sr)
    hr = np.asarray(hr)
    if sr.ndim != 3 or sr.shape[-1] != 3 or hr.ndim != 3 or hr.shape[-1] != 3:
        raise ValueError(f"expected H x W x 3 images, got SR {sr.shape} and HR {hr.shape}")
    h, w = sr.shape[:2]
    if hr.shape[0] < h or hr.shape[1] < w:
        raise ValueError(f"the HR image {hr.shape[:2]} is smaller than the SR image {sr.shape[:2]}")
    hr = hr[:h, :w]
    s = protocol.shave
    if h <= 2 * s or w <= 2 * s:
        raise ValueError(f"an image of {h}x{w} pixels has nothing left after shaving {s} pixels")
    planes = []
    for image in (sr, hr):
        image = image[s : h - s, s : w - s].astype(np.float64)
        if protocol.channel == "y":
            image = _luma(image, protocol.round_y, gray)[..., None]
        planes.append(image)
    return planes


def gray_values(rgb):
    """The gray value of RGB pixels (float64, 0..255): full-range BT.601 luma, 0.299 R + 0.587 G +
    0.114 B, which is the value itself when R = G = B. What a grayscale file is compared on, and
    what sr_tf.upscale writes for one."""
    return np.asarray(rgb, np.float64) @ _Y_WEIGHTS / _Y_WEIGHTS.sum()


def _luma(rgb, round_y, gray):
    if gray:
        return gray_values(rgb)
    y = 16.0 + rgb @ _Y_WEIGHTS / 255.0
    return np.floor(y + 0.5) if round_y else y


def psnr(sr, hr, protocol, gray=False):
    """PSNR in dB (peak 255) of `sr` against `hr` under `protocol`; `gray`: HR from a grayscale file."""
    a, b = _compared_values(sr, hr, protocol, gray)
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(_PEAK**2 / mse))


def _ssim_plane(a, b):
    """scikit-image's SSIM with the Wang et al. settings: its mean over the window positions inside
    the image equals the 'valid' SSIM map the papers' MATLAB code averages."""
    from skimage.metrics import structural_similarity  # (scipy: not needed to load this module)

    return float(
        structural_similarity(
            a,
            b,
            win_size=_SSIM_WINDOW,
            gaussian_weights=True,
            sigma=_SSIM_SIGMA,
            use_sample_covariance=False,
            K1=_SSIM_K1,
            K2=_SSIM_K2,
            data_range=_PEAK,
        )
    )


def ssim(sr, hr, protocol, gray=False):
    """SSIM of `sr` against `hr` under `protocol` (mean over channels for RGB)."""
    a, b = _compared_values(sr, hr, protocol, gray)
    if min(a.shape[:2]) < _SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs at least {_SSIM_WINDOW}x{_SSIM_WINDOW} pixels after shaving, got {a.shape[:2]}"
        )
    return float(np.mean([_ssim_plane(a[..., c], b[..., c]) for c in range(a.shape[-1])]))
