"""Read the files inside a Qt resource archive (.rcc), as GCompris ships its images.

Layout (Qt's rcc format, versions 1-3): a 20-byte header b"qres", version, tree, data and names offsets (all
big-endian uint32); a tree of fixed-size nodes (14 bytes, 22 from version 2 with a modification time), each
with a name offset and flags (2: directory with child count and first child index; 1: zlib data with a
4-byte length prefix; 4: zstd data); data entries are a uint32 length and the bytes; names are a uint16
length, a uint32 hash and UTF-16BE characters.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Iterator

DIRECTORY, ZLIB, ZSTD = 2, 1, 4


class ResourceError(ValueError):
    """Not a readable Qt resource archive."""


def rcc_files(path: str | Path) -> Iterator[tuple[str, bytes]]:
    """(path inside the archive, file bytes) for every file of a .rcc archive."""
    b = Path(path).read_bytes()
    if b[:4] != b"qres" or len(b) < 20:
        raise ResourceError(f"{path} is not a Qt resource archive")
    version, tree, data, names = struct.unpack(">IIII", b[4:20])
    node_size = 22 if version >= 2 else 14

    def name(offset: int) -> str:
        (n,) = struct.unpack(">H", b[names + offset:names + offset + 2])
        return b[names + offset + 6:names + offset + 6 + 2 * n].decode("utf-16-be")

    def walk(index: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        at = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", b[at:at + 6])
        here = prefix + (name(name_offset) if index else "")
        if flags & DIRECTORY:
            count, first = struct.unpack(">II", b[at + 6:at + 14])
            for child in range(first, first + count):
                yield from walk(child, here + "/")
            return
        (offset,) = struct.unpack(">I", b[at + 10:at + 14])
        (length,) = struct.unpack(">I", b[data + offset:data + offset + 4])
        raw = b[data + offset + 4:data + offset + 4 + length]
        if flags & ZSTD:
            raise ResourceError(f"{here} in {path} is zstd-compressed, which this reader does not handle")
        yield here, zlib.decompress(raw[4:]) if flags & ZLIB else raw

    yield from walk(0, "")
