"""Reading and writing images: always uint8 RGB arrays, with clear errors that name the file.

`read_image` turns every common file into uint8 H x W x 3 RGB: grayscale is replicated to three
channels, an alpha channel is dropped (logged once per process), 16-bit samples become 8-bit by
round(x / 257) and the EXIF orientation of JPEG / TIFF / WebP photos is applied (they come out
upright, as viewers show them; PNG files are taken as stored).
"""

import io
import os
import struct

import numpy as np
from absl import logging
from PIL import Image, ImageOps, UnidentifiedImageError

from sr_tf.core.files import write_bytes_atomically

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the empty IEND chunk every complete PNG ends with
_GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_SIXTEEN_BIT_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")
_ROTATING_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height
_alpha_warned = False


class ImageError(ValueError):
    """An image file that is missing, unreadable or unsupported; the message names the file."""


def has_image_extension(path):
    return os.path.splitext(str(path))[1].lower() in IMAGE_EXTENSIONS


def is_inside(path, folder):
    """True when `path` is `folder` or lies under it."""
    folder = os.path.abspath(folder)
    return os.path.commonpath([os.path.abspath(path), folder]) == folder


def list_images(folder, recursive=True, skip=None):
    """Image files in `folder` (and with `recursive` its subfolders), sorted; hidden files and
    folders are left out, and so are the subfolders under `skip` (e.g. an output folder inside it)."""
    found = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if recursive and not d.startswith(".") and not (skip and is_inside(os.path.join(here, d), skip))
        )
        found += [
            os.path.join(here, f) for f in sorted(files) if not f.startswith(".") and has_image_extension(f)
        ]
    return found


def png_header(path):
    """(width, height, bit depth, colour type) from a PNG's IHDR, or None for other files."""
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    width, height, depth, color_type = struct.unpack(">IIBB", head[16:26])
    return width, height, depth, color_type


def is_plain_png(path):
    """True for a complete 8-bit grayscale or RGB PNG: TF's decode_png(channels=3) reads it exactly.

    'Complete' means the file ends with the IEND chunk, so a truncated file is sent to `read_image`,
    whose error names it (TF's decoder error inside tf.data would not).
    """
    header = png_header(path)
    if header is None or header[2] != 8 or header[3] not in (0, 2):
        return False
    with open(path, "rb") as f:
        f.seek(-len(_PNG_END), os.SEEK_END)
        return f.read() == _PNG_END


def read_image(path) -> np.ndarray:
    """The image at `path` as uint8 H x W x 3 RGB; `ImageError` naming the file if it cannot."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageError(f"image file not found: {path}")
    try:
        header = png_header(path)
        if header is not None and header[2] == 16:
            return _read_png16(path)
        with Image.open(path) as image:
            image.load()  # decode now: truncated data raises here (sr_tf never sets LOAD_TRUNCATED_IMAGES)
            if image.format != "PNG":  # camera orientation tags live in JPEG / TIFF / WebP files
                image = ImageOps.exif_transpose(image)
            return _to_rgb(image, path)
    except ImageError:
        raise
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError(f"cannot read image {path}: {e}") from e


def _read_png16(path):
    """16-bit PNGs through TF's decoder, which keeps all 16 bits (Pillow keeps only the top byte)."""
    import tensorflow as tf

    try:
        pixels = tf.io.decode_png(tf.io.read_file(path), channels=0, dtype=tf.uint16).numpy()
    except tf.errors.OpError as e:
        raise ImageError(f"cannot read image {path}: {e.message}") from e
    if pixels.shape[-1] in (2, 4):
        _warn_alpha(path)
        pixels = pixels[..., :-1]
    return _gray_to_rgb(_sixteen_to_eight(pixels))


def _to_rgb(image, path):
    if image.mode == "P":
        image = image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
    if image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in _ALPHA_MODES:
        _warn_alpha(path)
        pixels = np.asarray(image)[..., :-1]
    elif image.mode in _SIXTEEN_BIT_MODES:
        pixels = _sixteen_to_eight(np.asarray(image))
    elif image.mode == "1":
        pixels = np.asarray(image.convert("L"))
    elif image.mode in ("L", "RGB"):
        pixels = np.asarray(image)
    elif image.mode == "F":
        raise ImageError(f"cannot read image {path}: floating-point images (mode F) are not supported")
    else:  # CMYK, YCbCr, LAB, HSV, RGBX, ...
        pixels = np.asarray(image.convert("RGB"))
    return _gray_to_rgb(np.ascontiguousarray(pixels, dtype=np.uint8))


def _sixteen_to_eight(pixels):
    return np.round(np.clip(pixels.astype(np.float64), 0, 65535) / 257.0).astype(np.uint8)


def _gray_to_rgb(pixels):
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    return pixels


def _warn_alpha(path):
    global _alpha_warned
    if not _alpha_warned:
        _alpha_warned = True
        logging.warning("alpha channel dropped (first file: %s); further files are not reported", path)


def _open_header(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageError(f"image file not found: {path}")
    try:
        return Image.open(path)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
        raise ImageError(f"cannot read image {path}: {e}") from e


def image_size(path):
    """(height, width) as `read_image` returns it, from the file header (no pixel decoding)."""
    with _open_header(path) as image:
        width, height = image.size
        if image.format != "PNG" and _exif_orientation(image) in _ROTATING_ORIENTATIONS:
            width, height = height, width
    return height, width


def _exif_orientation(image):
    try:
        return image.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block: read_image's exif_transpose ignores it too
        return 1


def is_grayscale_file(path) -> bool:
    """True when the file itself holds gray levels only (modes 1, L, LA, I, I;16, F), e.g. Set14 bridge."""
    header = png_header(os.fspath(path)) if os.path.isfile(path) else None
    if header is not None and header[2] == 16:
        return header[3] in (0, 4)  # PNG colour types gray and gray + alpha
    with _open_header(path) as image:
        return image.mode in _GRAY_MODES


def write_png(path, array):
    """Writes a uint8 H x W (x 1 or 3) array as PNG atomically; creates the parent folders (and
    removes them again if the write fails: OutputError naming `path`)."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"write_png({path}): expected uint8 pixels, got {array.dtype}")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)):
        raise ValueError(f"write_png({path}): expected H x W or H x W x 3 pixels, got shape {array.shape}")
    encoded = io.BytesIO()
    Image.fromarray(array).save(encoded, format="PNG")
    write_bytes_atomically(path, encoded.getvalue())  # OutputError naming `path` when it cannot be written
