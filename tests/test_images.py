import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageFile

from sr_tf.data import images
from sr_tf.data.images import (
    IMAGE_EXTENSIONS,
    ImageError,
    has_image_extension,
    image_size,
    is_grayscale_file,
    is_plain_png,
    read_image,
    write_png,
)

RNG = np.random.default_rng(0)


def rgb(height=20, width=30):
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture
def alpha_warning(monkeypatch, caplog):
    """Fresh 'alpha dropped' state; yields a function returning the warnings logged so far."""
    monkeypatch.setattr(images, "_alpha_warned", False)
    caplog.set_level(logging.WARNING)
    return lambda: [r.getMessage() for r in caplog.records if "alpha channel dropped" in r.getMessage()]


def test_extensions_cover_the_common_formats_in_any_case():
    assert set(IMAGE_EXTENSIONS) == {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
    assert (
        has_image_extension("a/B.PNG") and has_image_extension("x.Jpeg") and not has_image_extension("x.txt")
    )


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".TIFF", ".webp"])
def test_lossless_formats_round_trip(tmp_path, suffix):
    pixels = rgb()
    path = tmp_path / f"a{suffix}"
    Image.fromarray(pixels).save(path, **({"lossless": True} if suffix == ".webp" else {}))
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
    np.testing.assert_array_equal(out, pixels)


def test_jpeg_reads_as_rgb_and_exif_rotation_is_applied(tmp_path):
    pixels = np.zeros((20, 30, 3), np.uint8)
    pixels[:, :15] = 200  # left half bright
    path = tmp_path / "photo.JPG"
    Image.fromarray(pixels).save(path, quality=95)
    assert read_image(path).shape == (20, 30, 3)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    rotated = tmp_path / "rotated.jpg"
    Image.fromarray(pixels).save(rotated, quality=95, exif=exif)
    out = read_image(rotated)
    assert out.shape == (30, 20, 3) and image_size(rotated) == (30, 20)
    assert out[:15].mean() > 150 > out[15:].mean()  # the bright half is now on top


def test_grayscale_and_one_bit_become_replicated_rgb(tmp_path):
    gray = RNG.integers(0, 256, (9, 11), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (9, 11, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)
    Image.fromarray(gray > 128).convert("1").save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_image(tmp_path / "b.png")[..., 1], np.where(gray > 128, 255, 0))
    assert is_grayscale_file(tmp_path / "g.png") and is_grayscale_file(tmp_path / "b.png")


def test_rgba_la_and_palette_drop_alpha_and_say_so_once(tmp_path, alpha_warning):
    pixels = rgb()
    alpha = RNG.integers(0, 256, (20, 30), dtype=np.uint8)
    Image.fromarray(np.dstack([pixels, alpha])).save(tmp_path / "rgba.png")
    Image.fromarray(np.dstack([pixels[..., 0], alpha])).save(tmp_path / "la.png")
    palette = Image.fromarray(pixels).quantize(16)
    palette.save(tmp_path / "p.png")
    palette.save(tmp_path / "pt.png", transparency=0)
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png"), pixels)
    np.testing.assert_array_equal(read_image(tmp_path / "la.png")[..., 2], pixels[..., 0])
    expected = np.asarray(palette.convert("RGB"))
    np.testing.assert_array_equal(read_image(tmp_path / "p.png"), expected)
    np.testing.assert_array_equal(read_image(tmp_path / "pt.png"), expected)
    warnings = alpha_warning()
    assert len(warnings) == 1 and "rgba.png" in warnings[0]


def test_sixteen_bit_files_become_eight_bit_by_rounding(tmp_path, alpha_warning):
    values = np.array([[0, 128, 129, 385, 386, 65535, 32896, 200]], np.uint16)
    expected = np.round(values / 257).astype(np.uint8)
    Image.fromarray(values).save(tmp_path / "g16.png")
    out = read_image(tmp_path / "g16.png")
    np.testing.assert_array_equal(out[..., 0], expected)
    assert is_grayscale_file(tmp_path / "g16.png")
    # 16-bit RGB and RGBA (Pillow would keep only the high byte; sr_tf rounds)
    color = RNG.integers(0, 65536, (5, 6, 3)).astype(np.uint16)
    tf.io.write_file(str(tmp_path / "rgb16.png"), tf.io.encode_png(color))
    np.testing.assert_array_equal(read_image(tmp_path / "rgb16.png"), np.round(color / 257).astype(np.uint8))
    assert not is_grayscale_file(tmp_path / "rgb16.png")
    with_alpha = np.dstack([color, color[..., :1]])
    tf.io.write_file(str(tmp_path / "rgba16.png"), tf.io.encode_png(with_alpha))
    np.testing.assert_array_equal(read_image(tmp_path / "rgba16.png"), np.round(color / 257).astype(np.uint8))
    assert alpha_warning()
    # 16-bit TIFF through Pillow (mode I;16)
    Image.fromarray(values).save(tmp_path / "g16.tif")
    np.testing.assert_array_equal(read_image(tmp_path / "g16.tif")[..., 2], expected)


def test_missing_corrupt_and_truncated_files_raise_naming_the_file(tmp_path):
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    with pytest.raises(ImageError, match="nothere.png"):
        read_image(tmp_path / "nothere.png")
    (tmp_path / "junk.jpg").write_bytes(b"this is not an image" * 10)
    with pytest.raises(ImageError, match="junk.jpg"):
        read_image(tmp_path / "junk.jpg")
    Image.fromarray(rgb(64, 64)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut.png"):
        read_image(tmp_path / "cut.png")
    assert image_size(tmp_path / "cut.png") == (64, 64)  # the header alone is fine
    assert is_plain_png(tmp_path / "full.png") and not is_plain_png(tmp_path / "cut.png")
    Image.fromarray(rgb(64, 64)).save(tmp_path / "cut.jpg")
    data = (tmp_path / "cut.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut.jpg"):
        read_image(tmp_path / "cut.jpg")
    assert issubclass(ImageError, ValueError)


def test_write_png_is_atomic_and_creates_folders(tmp_path):
    pixels = rgb()
    target = tmp_path / "new" / "deeper" / "out.png"
    write_png(target, pixels)
    np.testing.assert_array_equal(read_image(target), pixels)
    write_png(target, pixels[..., 0])  # overwrite with a grayscale image
    assert is_grayscale_file(target)
    assert sorted(os.listdir(target.parent)) == ["out.png"]  # no temporary files left
    with pytest.raises(ValueError, match="uint8"):
        write_png(tmp_path / "f.png", pixels.astype(np.float32))
    assert not (tmp_path / "f.png").exists()


def test_shared_bridge_is_grayscale(benchmark_dir):
    assert is_grayscale_file(benchmark_dir / "Set14" / "HR" / "bridge.png")
    assert not is_grayscale_file(benchmark_dir / "Set5" / "HR" / "baby.png")
    bridge = read_image(benchmark_dir / "Set14" / "LR_bicubic" / "X2" / "bridgex2.png")
    assert bridge.shape == (256, 256, 3) and (bridge[..., 0] == bridge[..., 2]).all()
