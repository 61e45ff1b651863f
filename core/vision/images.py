"""The one image reader: uploads and image files, any format Pillow reads, any colour mode, EXIF rotation.

Untrusted bytes are refused with a clear `ImageError` message when empty, not an image, truncated, a
decompression bomb (more than MAX_PIXELS pixels), of enormous dimensions, or with non-finite pixels (a float
TIFF holding NaN). JPEGs are decoded with `Image.draft()`, so libjpeg does the downscale (1/2 .. 1/8) and a
12-megapixel photo costs a fraction of a full decode; other formats are shrunk right after decoding, before
any colour conversion, so memory stays about one decoded copy (at most 4 bytes x MAX_PIXELS). Files are read
with read_image_file, which refuses FIFOs, devices and files over MAX_FILE_BYTES before reading a byte.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.common.io import read_bounded

MAX_FILE_BYTES = 100_000_000   # an image file (or upload) larger than this is refused before it is read
MAX_PIXELS = 25_000_000        # decompression-bomb guard (a 24 MP, 6000 x 4000 photo passes)
MAX_SIDE = 12_000              # enormous dimensions
DISPLAY_SIDE = 448             # decoded size for captioning and display (long side, at most)


class ImageError(ValueError):
    """An upload that cannot be used as an image; the message says why, for the user."""


@dataclass
class LoadedImage:
    """A decoded RGB image (long side <= DISPLAY_SIDE) and what the file said about itself."""
    image: Image.Image
    original_size: tuple[int, int]
    format: str


def _zero_size_header(data: bytes) -> bool:
    """True for PNG/GIF headers that declare a zero width or height (Pillow cannot identify those)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big") == 0 or int.from_bytes(data[20:24], "big") == 0
    if data[:4] == b"GIF8" and len(data) >= 10:
        return int.from_bytes(data[6:8], "little") == 0 or int.from_bytes(data[8:10], "little") == 0
    return False


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB (alpha composited on white, 16-bit and float scaled to 8 bit)."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        a = np.asarray(im, dtype=np.float32)
        if not np.isfinite(a).all():
            raise ImageError("The image has non-finite pixel values (NaN or infinity); it cannot be shown or "
                             "captioned.")
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
        return Image.fromarray(a.astype(np.uint8)).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def open_image(data: bytes, max_side: int = DISPLAY_SIDE) -> LoadedImage:
    """Decode untrusted bytes into an RGB image whose long side is at most max_side; raises ImageError."""
    if not data:
        raise ImageError("The file is empty (0 bytes).")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"The file has {len(data):,} bytes, more than the {MAX_FILE_BYTES:,} allowed.")
    if _zero_size_header(data):
        raise ImageError("The image has zero width or height.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"Refused as a possible decompression bomb: {e}") from e
    except UnidentifiedImageError as e:
        raise ImageError("This file is not an image Pillow can read (try JPEG, PNG, WebP, BMP or GIF).") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"The image header is corrupt: {e}") from e
    w, h = im.size
    if w == 0 or h == 0:
        raise ImageError("The image has zero width or height.")
    if max(w, h) > MAX_SIDE:
        raise ImageError(f"The image is {w} x {h} pixels: sides above {MAX_SIDE:,} px are refused.")
    if w * h > MAX_PIXELS:
        raise ImageError(f"The image has {w * h / 1e6:.0f} megapixels, above the {MAX_PIXELS / 1e6:.0f} MP "
                         "limit (decompression-bomb guard).")
    fmt = im.format or "?"
    try:
        if fmt == "JPEG":
            im.draft("RGB", (max_side, max_side))           # libjpeg downscales by 1/2 .. 1/8 while decoding
        im.seek(0)                                          # first frame of a GIF / animated WebP
        im.load()
        if im.mode in ("1", "P", "PA"):                     # resizing a palette image would pick nearest pixels
            im = _to_rgb(im)
        im.thumbnail((max_side, max_side), Image.BILINEAR)  # shrink first: conversions then cost little
        im = ImageOps.exif_transpose(im)
        im = _to_rgb(im)
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"The image data is truncated or corrupt: {e}") from e
    return LoadedImage(im, (w, h), fmt)


def read_image_file(path: str | Path) -> bytes:
    """The bytes of an image file of at most MAX_FILE_BYTES. A FIFO, a device (a /dev/zero link), a directory or
    a larger file is refused from its type and size alone, before anything is read: ImageError."""
    try:
        return read_bounded(path, MAX_FILE_BYTES, follow_symlinks=True)
    except FileNotFoundError:
        raise ImageError("No such file.") from None
    except ValueError as e:
        raise ImageError(f"The file cannot be used: {e}.") from None
    except OSError as e:
        raise ImageError(f"The file cannot be read: {e.strerror or e}.") from None


def load_image_file(path: str | Path, max_side: int = DISPLAY_SIDE) -> LoadedImage:
    """An image file read (read_image_file) and decoded (open_image); raises ImageError."""
    return open_image(read_image_file(path), max_side)
