"""Upload decoding for the captioner: every format and mode, EXIF rotation, and every bad-upload case."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.vision.images import DISPLAY_SIDE, ImageError, open_image


def png_header(w: int, h: int) -> bytes:
    """A PNG that declares w x h pixels (RGB) but carries almost no data: Pillow opens it lazily."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def photo(w: int = 64, h: int = 48) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def bad_uploads() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, a phrase the error message must contain)."""
    jpeg = encoded(photo(256, 256), "JPEG", quality=90)
    return {"empty": (b"", "empty"),
            "not an image": (b"%PDF-1.4 this is not a picture\n" * 20, "not an image"),
            "truncated": (jpeg[: len(jpeg) // 2], "truncated"),
            "decompression bomb (pillow)": (png_header(15_000, 15_000), "decompression bomb"),
            "decompression bomb (warning)": (png_header(10_000, 10_000), "decompression bomb"),
            "too many pixels": (png_header(7_000, 7_000), "decompression-bomb"),
            "enormous dimensions": (png_header(30_000, 10), "sides above"),
            "zero size": (png_header(0, 10), "zero width or height")}


@pytest.mark.parametrize("name", list(bad_uploads()))
def test_bad_uploads_get_a_clear_message(name):
    data, phrase = bad_uploads()[name]
    with pytest.raises(ImageError, match=phrase):
        open_image(data)


@pytest.mark.parametrize("fmt,mode", [("JPEG", "RGB"), ("JPEG", "L"), ("JPEG", "CMYK"), ("PNG", "RGBA"),
                                      ("PNG", "P"), ("PNG", "I;16"), ("PNG", "LA"), ("WEBP", "RGB"),
                                      ("BMP", "RGB"), ("GIF", "P"), ("TIFF", "F")])
def test_formats_and_modes_become_rgb(fmt, mode):
    img = photo().convert(mode) if mode not in ("I;16", "F") else Image.fromarray(
        (np.arange(64 * 48).reshape(48, 64) * (13 if mode == "I;16" else 1.5)).astype(
            np.uint16 if mode == "I;16" else np.float32))
    out = open_image(encoded(img, fmt))
    assert out.image.mode == "RGB" and out.image.size == (64, 48) and out.format == fmt


def test_gif_first_frame_and_exif_rotation():
    red, blue = Image.new("RGB", (20, 10), (255, 0, 0)), Image.new("RGB", (20, 10), (0, 0, 255))
    gif = encoded(red, "GIF", save_all=True, append_images=[blue], duration=100)
    assert open_image(gif).image.getpixel((5, 5))[0] > 200
    exif = Image.Exif()
    exif[0x0112] = 6                                           # rotate 90 degrees clockwise to display
    out = open_image(encoded(photo(40, 20), "JPEG", exif=exif))
    assert out.image.size == (20, 40) and out.original_size == (40, 20)


def test_large_jpeg_is_drafted_down():
    big = Image.fromarray(np.zeros((3000, 4000, 3), np.uint8))   # 12 megapixels
    out = open_image(encoded(big, "JPEG", quality=80))
    assert out.original_size == (4000, 3000) and max(out.image.size) <= DISPLAY_SIDE
