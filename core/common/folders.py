"""Checkpoint folders of every model kind (character model, captioner, VQA), read through one hardened reader.

A folder holds safetensors weights and JSON files, never pickles. Before anything large is read or allocated the
reader refuses special files (FIFOs, devices, /dev/zero links), files larger than the config implies, configs
that describe another kind of model or more than MAX_PARAMS parameters, and safetensors headers whose names,
dtypes, shapes or byte ranges do not match; after loading it refuses non-finite weights. Every message names the
file. Writing goes through core.common.io (atomic_directory: all or nothing; claim_directory: no clobbering).
"""
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import MISSING, fields
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from torch.overrides import TorchFunctionMode

from core.common.io import (
    MAX_JSON_BYTES,
    config_kind,
    open_regular,
    parse_json,
    read_bounded,
)

WIDTH = (1, 65_536)  # the range config_from_json allows a layer's width (MAX_PARAMS bounds their products)
MAX_PARAMS = 50_000_000  # 200 MB of float32 weights; a config claiming more is refused before any allocation
HEADER_BYTES = 2**20  # a safetensors header (names, dtypes, shapes) is far smaller
WEIGHT_DTYPES = {"F32", "F16", "BF16"}  # what floating-point weights may be stored as
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
INTEGER_DTYPES = {torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
                  torch.bool: "BOOL"}  # a non-float buffer is stored as exactly its own dtype
READ_TRIES = 20  # attempts to read one whole version of a folder a writer is swapping
KIND_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list",
              dict: "an object", type(None): "null"}
ANNOTATION_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,),
                    "float | None": (int, float, type(None)), "int | None": (int, type(None))}

T = TypeVar("T")
Shapes = dict[str, tuple[tuple[int, ...], torch.dtype]]  # tensor name -> (shape, dtype) a model expects


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged or does not match its config; the message says which."""


def _is(value, kinds: tuple) -> bool:
    return isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)


def check_fields(obj, types: dict, where: str, required: tuple = (), optional: bool = True,
                 error: type[CheckpointError] = CheckpointError) -> dict:
    """obj as a dict whose known keys hold the given types (None allowed when optional), or `error`."""
    if not isinstance(obj, dict):
        raise error(f"{where} must be a JSON object, not {type(obj).__name__}")
    for key in required:
        if key not in obj:
            raise error(f"{where} lacks {key!r}")
    for key, kinds in types.items():
        value = obj.get(key)
        if key in obj and not (_is(value, kinds) or (optional and value is None and key not in required)):
            names = " or ".join(KIND_NAMES[k] for k in kinds if not (k is int and float in kinds))
            raise error(f"{where}: {key!r} must be {names}, not {value!r:.60}")
        if isinstance(value, float) and not math.isfinite(value):
            raise error(f"{where}: {key!r} must be a finite number, not {value}")
    return obj


def check_kind(raw, kind: str, where: str, error: type[CheckpointError] = CheckpointError) -> dict:
    """raw (a config.json's content) without its "kind", after checking it is an object of the given kind."""
    if not isinstance(raw, dict):
        raise error(f"{where} must be a JSON object, not {type(raw).__name__}")
    found = config_kind(raw)
    if found not in (kind, None):
        raise error(f"{where} is a {found!r} model, not a {kind} model")
    return {k: v for k, v in raw.items() if k != "kind"}


def config_from_json(cls: type[T], raw, where: str, error: type[CheckpointError] = CheckpointError,
                     limits: dict[str, tuple[float, float]] | None = None) -> T:
    """A config dataclass from JSON: no unknown or missing keys, each value of its field's type and finite,
    numbers within `limits` (field -> (low, high)); anything else is `error` naming `where` and the field."""
    known = {f.name: f for f in fields(cls)}
    if not isinstance(raw, dict):
        raise error(f"{where} must be a JSON object, not {type(raw).__name__}")
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise error(f"{where} has unknown keys {unknown}; a {cls.__name__} has {sorted(known)}")
    needed = tuple(n for n, f in known.items() if f.default is MISSING and f.default_factory is MISSING)
    types = {n: ANNOTATION_TYPES[_type_name(f.type)] for n, f in known.items()
             if _type_name(f.type) in ANNOTATION_TYPES}
    check_fields(raw, types, where, required=needed, optional=False, error=error)
    for key, (low, high) in (limits or {}).items():
        value = raw.get(key)
        if _is(value, (int, float)) and not low <= value <= high:
            raise error(f"{where}: {key!r} is {value}, outside {low:g}..{high:g}")
    try:
        return cls(**raw)
    except (TypeError, ValueError) as e:
        raise error(f"{where} is invalid: {e}") from None


def _type_name(annotation) -> str:
    """A field's annotation as written ("int", "float | None"), whether or not annotations are postponed."""
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))


class _NoFill(TorchFunctionMode):
    """Skips in-place writes to meta tensors (weight init: there is no data to fill), which would otherwise
    import torch's compiler for the meta kernel of normal_ (seconds, once per process)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name, target = getattr(func, "__name__", ""), args[0] if args else kwargs.get("tensor")
        if name.endswith("_") and not name.startswith("_") and isinstance(target, torch.Tensor) and target.is_meta:
            return target
        return func(*args, **kwargs)


def expected_tensors(build: Callable[[], torch.nn.Module], where: str,
                     error: type[CheckpointError] = CheckpointError) -> Shapes:
    """Name -> (shape, dtype) of every tensor in build()'s state dict, built on the meta device (no memory),
    refused when it adds up to more than MAX_PARAMS."""
    with torch.device("meta"), _NoFill():
        model = build()
    shapes = {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}
    total = sum(math.prod(shape) for shape, _ in shapes.values())
    if total > MAX_PARAMS:
        raise error(f"{where} describes {total:,} parameters; the limit is {MAX_PARAMS:,}")
    return shapes


def check_header(head: bytes, file_size: int, expected: Shapes, name: str,
                 error: type[CheckpointError] = CheckpointError) -> None:
    """Check a safetensors header (the file's first bytes) against what the config implies: names, dtypes,
    shapes and byte ranges that tile the file exactly, before any tensor is allocated."""
    try:
        size = int.from_bytes(head[:8], "little")
        if len(head) < 8 or size > min(HEADER_BYTES, file_size - 8) or len(head) < 8 + size:
            raise ValueError("the header length is out of range")
        header = json.loads(head[8:8 + size])
        entries = {k: v for k, v in header.items() if k != "__metadata__"}
        dtypes = {k: v["dtype"] for k, v in entries.items()}
        shapes = {k: tuple(int(n) for n in v["shape"]) for k, v in entries.items()}
        spans = sorted((int(v["data_offsets"][0]), int(v["data_offsets"][1]), k) for k, v in entries.items())
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as e:
        raise error(f"{name} is damaged: {e}") from None
    if set(shapes) != set(expected):
        gone, extra = sorted(set(expected) - set(shapes)), sorted(set(shapes) - set(expected))
        parts = [f"{what} {names}" for what, names in (("lacks", gone), ("has unexpected", extra)) if names]
        raise error(f"{name} does not match config.json: it {' and '.join(parts)}")
    for key, (shape, dtype) in expected.items():
        allowed = WEIGHT_DTYPES if dtype.is_floating_point else {INTEGER_DTYPES[dtype]}
        if dtypes[key] not in allowed:
            raise error(f"{name}: weight {key} is stored as {dtypes[key]}; it must be one of "
                        f"{', '.join(sorted(allowed))}")
        if shapes[key] != shape:
            raise error(f"{name}: weight {key} has shape {shapes[key]}, config.json implies {shape}")
    at = 0
    for begin, end, key in spans:
        if begin != at or end - begin != DTYPE_BYTES[dtypes[key]] * math.prod(shapes[key]):
            raise error(f"{name} is damaged: the bytes of weight {key} do not follow its dtype and shape")
        at = end
    limit = _weights_limit(expected)
    if file_size > limit:
        raise error(f"{name} cannot be read: it has {file_size:,} bytes, more than the {limit:,} allowed")
    if 8 + size + at != file_size:
        raise error(f"{name} is damaged: it has {file_size:,} bytes, its header describes {8 + size + at:,}")


class FolderFiles:
    """The files of one version of a checkpoint folder, read through the folder as it was opened; every
    problem is `error` naming the file."""

    def __init__(self, dir_fd: int, error: type[CheckpointError] = CheckpointError):
        self.dir_fd, self.error = dir_fd, error

    def has(self, name: str) -> bool:
        """Whether the folder has an entry of that name (of any type: reading it says what is wrong)."""
        try:
            os.stat(name, dir_fd=self.dir_fd, follow_symlinks=False)
        except OSError:
            return False
        return True

    def read(self, name: str, limit: int) -> bytes:
        """The bytes of a regular file of at most limit bytes, or `error`."""
        try:
            return read_bounded(name, limit, dir_fd=self.dir_fd)
        except FileNotFoundError:
            raise self.error(f"the checkpoint is missing {name}") from None
        except (OSError, ValueError) as e:
            raise self.error(f"{name} cannot be read: {e}") from None

    def json(self, name: str, what: str, default=None):
        """A JSON file's content; default when the file is absent and a default is given."""
        if default is not None and not self.has(name):
            return default
        return parse_json(self.read(name, MAX_JSON_BYTES), name, what, self.error)

    def header(self, name: str, expected: Shapes) -> None:
        """Check a safetensors file's header against `expected` and the file's size, reading the header only."""
        try:
            fd = open_regular(name, 2**62, dir_fd=self.dir_fd)  # any size: the header says what is wrong with it
        except FileNotFoundError:
            raise self.error(f"the checkpoint is missing {name}") from None
        except (OSError, ValueError) as e:
            raise self.error(f"{name} cannot be read: {e}") from None
        try:
            size = os.fstat(fd).st_size
            head = os.pread(fd, 8, 0)
            head += os.pread(fd, min(int.from_bytes(head.ljust(8, b"\0"), "little"), HEADER_BYTES), 8)
        finally:
            os.close(fd)
        check_header(head, size, expected, name, self.error)

    def weights(self, name: str, expected: Shapes) -> dict[str, torch.Tensor]:
        """The tensors of a safetensors file, checked against `expected` before they are materialised and for
        NaN and infinity after."""
        self.header(name, expected)  # names, dtypes, shapes: said before a too-large file is just "too large"
        data = self.read(name, _weights_limit(expected))
        check_header(data[:8 + HEADER_BYTES], len(data), expected, name, self.error)
        try:
            tensors = load_safetensors(data)
        except (SafetensorError, ValueError) as e:
            raise self.error(f"{name} is damaged: {e}") from None
        for key, tensor in tensors.items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise self.error(f"{name}: weight {key} holds NaN or infinite values")
        return tensors


def _weights_limit(expected: Shapes) -> int:
    """The largest file `expected` can be stored in: a header and every tensor at its widest dtype."""
    return 8 + HEADER_BYTES + sum(math.prod(shape) * (4 if dtype.is_floating_point else dtype.itemsize)
                                  for shape, dtype in expected.values())


def read_folder(path: str | Path, load: Callable[[FolderFiles], T],
                error: type[CheckpointError] = CheckpointError) -> T:
    """load(files) on one version of the folder; when a writer swaps a new version in while it is read (a file
    vanishes, files disagree), the load starts over on the new one."""
    path = Path(path)
    for attempt in range(READ_TRIES):
        try:
            dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            raise error(f"{path} is not a checkpoint directory") from None
        try:
            return load(FolderFiles(dir_fd, error))
        except CheckpointError:
            if _same_directory(dir_fd, path):
                raise
        finally:
            os.close(dir_fd)
        time.sleep(0.001 * attempt)
    raise error(f"{path} was replaced {READ_TRIES} times while it was read; try again")


def _same_directory(dir_fd: int, path: Path) -> bool:
    try:
        now, opened = os.stat(path), os.fstat(dir_fd)
    except OSError:
        return False
    return (now.st_ino, now.st_dev) == (opened.st_ino, opened.st_dev)
