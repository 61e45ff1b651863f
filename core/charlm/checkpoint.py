"""Checkpoints as directories of safetensors weights and JSON, written atomically, never unpickled.

A checkpoint directory holds `model.safetensors`, `config.json`, `vocab.json`, `card.json`, `samples.json`
and, while it can still be trained further, `train_state.safetensors` + `train_state.json` (a TrainState:
optimizer, data position, random-number-generator state), written and read here.
"""
import json
import math
import os
import time
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.recurrent import N_GATES
from core.charlm.vocab import Vocab
from core.common.io import (
    MAX_JSON_BYTES,
    DirectoryLock,
    OutputError,
    atomic_directory,
    claim_directory,
    parse_json,
    read_bounded,
    read_json,
    write_json,
)

REQUIRED = ("model.safetensors", "config.json", "vocab.json")
KIND = "char-rnn"  # config.json's "kind" for these checkpoints


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged or does not match its config; the message says which."""


@dataclass
class Checkpoint:
    path: Path
    model: CharRNN
    vocab: Vocab
    config: CharRNNConfig
    card: dict
    samples: dict


@dataclass
class TrainState:
    """What --resume needs beyond the weights: optimizer, RNG, carried hidden state, data position, clocks."""
    optimizer: dict  # torch.optim state_dict
    rng: torch.Tensor
    hidden: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None  # the carried h, or (h, c)
    step: int
    pos: int
    epoch: int
    elapsed: float  # training seconds so far, fine-tuned parent's included
    base_step: int  # where this run's budget starts (a fine-tune's parent's steps and seconds)
    base_elapsed: float
    config: dict  # the TrainConfig as a dict

    @property
    def spent_minutes(self) -> float:
        """Minutes counted against this run's --max-minutes budget."""
        return (self.elapsed - self.base_elapsed) / 60


def _write_train_state(folder: Path, ts: TrainState) -> None:
    opt = ts.optimizer
    tensors = {f"opt.{i}.{k}": v for i, st in opt["state"].items() for k, v in st.items()}
    tensors["rng"] = ts.rng
    if ts.hidden is not None:
        h, c = ts.hidden if isinstance(ts.hidden, tuple) else (ts.hidden, None)
        tensors["state.h"] = h
        if c is not None:
            tensors["state.c"] = c
    meta = {"param_groups": opt["param_groups"], "step": ts.step, "pos": ts.pos, "epoch": ts.epoch,
            "elapsed": ts.elapsed, "base_step": ts.base_step, "base_elapsed": ts.base_elapsed, "config": ts.config}
    save_file({k: v.contiguous() for k, v in tensors.items()}, folder / "train_state.safetensors")
    write_json(folder / "train_state.json", meta)


def save_checkpoint(path: str | Path, model: CharRNN, vocab: Vocab, card: dict, samples: dict,
                    train_state: TrainState | None = None, half: bool = False) -> Path:
    """Write a whole checkpoint directory; it replaces the old one in a single rename."""
    with atomic_directory(path) as staging:
        weights = {k: (v.half() if half else v) for k, v in model.state_dict().items()}
        save_file({k: v.contiguous() for k, v in weights.items()}, staging / "model.safetensors")
        write_json(staging / "config.json", {"kind": KIND, **model.config.to_dict()})
        vocab.save(staging / "vocab.json")
        write_json(staging / "card.json", card)
        write_json(staging / "samples.json", samples)
        if train_state is not None:
            _write_train_state(staging, train_state)
    return Path(path)


CHECKPOINT_FILES = {*REQUIRED, "card.json", "samples.json", "train_state.safetensors", "train_state.json"}
MAX_VOCAB = 65_536  # characters; a vocabulary over this is not a character model
MAX_PARAMS = 50_000_000  # 200 MB of float32 weights; a checkpoint claiming more is refused before any allocation
HEADER_BYTES = 2**20  # the safetensors header (names, dtypes, shapes)
WEIGHT_DTYPES = {"F32", "F16", "BF16"}  # what a checkpoint's weights may be stored as
READ_TRIES = 20  # attempts to read one whole version of a directory a writer is swapping

NUMBER, INT, TEXT = (int, float), (int,), (str,)
CONFIG_TYPES = {"vocab_size": INT, "cell": TEXT, "n_layer": INT, "hidden_size": INT, "dropout": NUMBER,
                "forget_bias": NUMBER + (type(None),)}
CARD_TYPES = {**{k: TEXT for k in ("name", "corpus", "cell", "command", "hardware", "created", "manifest_sha256")},
              **{k: INT for k in ("n_layer", "hidden_size", "vocab_size", "n_params", "steps", "tokens_seen")},
              **{k: NUMBER for k in ("epochs", "train_loss", "val_loss", "train_bpc", "val_bpc", "train_seconds")},
              "commands": (list,), "train_config": (dict,)}
TIMELINE_TYPES = {"step": INT, "text": TEXT, "val_loss": NUMBER, "val_bpc": NUMBER}
CURVE_TYPES = {"step": INT, "train_loss": NUMBER, "val_loss": NUMBER, "tokens_per_s": NUMBER}
TRAIN_STATE_TYPES = {"param_groups": (list,), "step": INT, "pos": INT, "epoch": INT, "elapsed": NUMBER,
                     "base_step": INT, "base_elapsed": NUMBER, "config": (dict,)}


KIND_NAMES = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object",
              type(None): "null"}


def _is(value, kinds: tuple) -> bool:
    return isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)


def check_fields(obj, types: dict, where: str, required: tuple = (), optional: bool = True) -> dict:
    """obj as a dict whose known keys hold the given types (None allowed when optional), or CheckpointError."""
    if not isinstance(obj, dict):
        raise CheckpointError(f"{where} must be a JSON object, not {type(obj).__name__}")
    for key in required:
        if key not in obj:
            raise CheckpointError(f"{where} lacks {key!r}")
    for key, kinds in types.items():
        value = obj.get(key)
        if key in obj and not (_is(value, kinds) or (optional and value is None and key not in required)):
            names = " or ".join(KIND_NAMES[k] for k in kinds if not (k is int and float in kinds))
            raise CheckpointError(f"{where}: {key!r} must be {names}, not {value!r:.60}")
    return obj


def parse_config(raw) -> CharRNNConfig:
    """A config.json's content as a CharRNNConfig, checking kind, keys, types and the model's size."""
    names = {f.name for f in fields(CharRNNConfig)}
    if isinstance(raw, dict) and config_kind(raw) not in (KIND, None):
        raise CheckpointError(f"config.json is a {raw['kind']!r} model, not a character model ({KIND})")
    raw = {k: v for k, v in raw.items() if k != "kind"} if isinstance(raw, dict) else raw
    if not isinstance(raw, dict) or "vocab_size" not in raw or set(raw) - names:
        raise CheckpointError(f"config.json must hold {sorted(names)}, found {raw!r:.200}")
    check_fields(raw, CONFIG_TYPES, "config.json", required=("vocab_size",), optional=False)
    try:
        config = CharRNNConfig(**raw)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"config.json is invalid: {e}") from None
    if not 2 <= config.vocab_size <= MAX_VOCAB:
        raise CheckpointError(f"config.json: vocab_size {config.vocab_size} is outside 2..{MAX_VOCAB}")
    if n_params(config) > MAX_PARAMS:
        raise CheckpointError(f"config.json describes {n_params(config):,} parameters; the limit is {MAX_PARAMS:,}")
    return config


def weight_shapes(config: CharRNNConfig) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor in CharRNN(config).state_dict(), computed without building it."""
    V, H, G = config.vocab_size, config.hidden_size, N_GATES[config.cell]
    shapes = {"embed.weight": (V, H), "head.weight": (V, H), "head.bias": (V,)}
    for k in range(config.n_layer):
        shapes.update({f"rnn.weight_ih_l{k}": (G * H, H), f"rnn.weight_hh_l{k}": (G * H, H),
                       f"rnn.bias_ih_l{k}": (G * H,), f"rnn.bias_hh_l{k}": (G * H,)})
    return shapes


def n_params(config: CharRNNConfig) -> int:
    """The parameter count of CharRNN(config), computed without building it."""
    return sum(math.prod(shape) for shape in weight_shapes(config).values())


class _Version:
    """The files of one version of a checkpoint directory, read through the directory as it was opened."""

    def __init__(self, dir_fd: int):
        self.dir_fd = dir_fd

    def has(self, name: str) -> bool:
        try:
            os.stat(name, dir_fd=self.dir_fd, follow_symlinks=False)
        except OSError:
            return False
        return True

    def read(self, name: str, limit: int) -> bytes:
        """The bytes of a regular file of at most limit bytes, or CheckpointError."""
        try:
            return read_bounded(name, limit, dir_fd=self.dir_fd)
        except FileNotFoundError:
            raise CheckpointError(f"the checkpoint is missing {name}") from None
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{name} cannot be read: {e}") from None

    def json(self, name: str, what: str, default=None):
        """A JSON file's content; default when the file is absent and a default is given."""
        if default is not None and not self.has(name):
            return default
        return parse_json(self.read(name, MAX_JSON_BYTES), name, what, CheckpointError)


def _read_consistently(path: Path, load):
    """load(files) on one version of the directory; when a writer swaps a new version in while it is read
    (a file vanishes, files disagree), the load starts over on the new one."""
    for attempt in range(READ_TRIES):
        try:
            dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            raise CheckpointError(f"{path} is not a checkpoint directory") from None
        try:
            return load(_Version(dir_fd))
        except CheckpointError:
            if _same_directory(dir_fd, path):
                raise
        finally:
            os.close(dir_fd)
        time.sleep(0.001 * attempt)
    raise CheckpointError(f"{path} was replaced {READ_TRIES} times while it was read; try again")


def _same_directory(dir_fd: int, path: Path) -> bool:
    try:
        now, opened = os.stat(path), os.fstat(dir_fd)
    except OSError:
        return False
    return (now.st_ino, now.st_dev) == (opened.st_ino, opened.st_dev)


def _parse_vocab(raw) -> Vocab:
    itos = raw.get("itos") if isinstance(raw, dict) else None
    if not isinstance(itos, list):
        raise CheckpointError("vocab.json must be an object with an \"itos\" list")
    try:
        return Vocab(itos)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"vocab.json: {e}") from None


def _parse_samples(raw) -> dict:
    check_fields(raw, {"timeline": (list,), "curve": (list,)}, "samples.json")
    for key, types, needed in (("timeline", TIMELINE_TYPES, ("step", "text")), ("curve", CURVE_TYPES, ("step",))):
        for i, entry in enumerate(raw.get(key) or []):
            check_fields(entry, types, f"samples.json {key}[{i}]", required=needed)
    return raw


def check_safetensors(data: bytes, expected: dict[str, tuple], name: str = "model.safetensors") -> None:
    """Check a safetensors file's header (names, dtypes, shapes) against what the config implies, before any
    tensor is allocated."""
    try:
        size = int.from_bytes(data[:8], "little")
        if len(data) < 8 or size > min(HEADER_BYTES, len(data) - 8):
            raise ValueError("the header length is out of range")
        header = json.loads(data[8:8 + size])
        entries = {k: v for k, v in header.items() if k != "__metadata__"}
        shapes = {k: tuple(v["shape"]) for k, v in entries.items()}
        dtypes = {k: v["dtype"] for k, v in entries.items()}
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as e:
        raise CheckpointError(f"{name} is damaged: {e}") from None
    if set(shapes) != set(expected):
        gone, extra = sorted(set(expected) - set(shapes)), sorted(set(shapes) - set(expected))
        raise CheckpointError(f"{name} does not match config.json: missing {gone}, unexpected {extra}")
    for key, shape in shapes.items():
        if dtypes[key] not in WEIGHT_DTYPES:
            raise CheckpointError(f"weight {key} is stored as {dtypes[key]}; weights must be one of "
                                  f"{', '.join(sorted(WEIGHT_DTYPES))}")
        if shape != expected[key]:
            raise CheckpointError(f"weight {key} has shape {shape}, config.json implies {expected[key]}")


def _json_parts(path: Path, files: _Version) -> tuple[CharRNNConfig, Vocab, dict, dict]:
    """Config, vocabulary, card and samples of a checkpoint, each checked (cheap: no weights are read)."""
    missing = [name for name in REQUIRED if not files.has(name)]
    if missing:
        raise CheckpointError(f"{path} is missing {', '.join(missing)}")
    config = parse_config(files.json("config.json", "model config"))
    vocab = _parse_vocab(files.json("vocab.json", "vocabulary"))
    if len(vocab) != config.vocab_size:
        raise CheckpointError(f"vocab.json has {len(vocab)} symbols but config.json says {config.vocab_size}")
    card = check_fields(files.json("card.json", "model card", {}), CARD_TYPES, "card.json")
    samples = _parse_samples(files.json("samples.json", "sample timeline", {}))
    return config, vocab, card, samples


def _load_from(path: Path, files: _Version) -> Checkpoint:
    config, vocab, card, samples = _json_parts(path, files)
    expected = weight_shapes(config)
    data = files.read("model.safetensors", HEADER_BYTES + 4 * n_params(config))
    check_safetensors(data, expected)
    try:
        weights = load_safetensors(data)
    except (SafetensorError, ValueError) as e:
        raise CheckpointError(f"model.safetensors is damaged: {e}") from None
    for name, tensor in weights.items():
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"weight {name} holds NaN or infinite values")
    model = CharRNN(config)
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    model.eval()
    return Checkpoint(path, model, vocab, config, card, samples)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load a checkpoint directory into a float32 CPU model in eval mode, checking every file, type and shape
    (sizes before anything is allocated); a save swapping in a new version meanwhile is waited out."""
    path = Path(path)
    return _read_consistently(path, lambda read: _load_from(path, read))


def _train_state_from(path: Path, files: _Version) -> TrainState:
    meta = files.json("train_state.json", "train state", {})
    if not meta:
        raise CheckpointError(f"{path} has no training state to resume from (it was exported for shipping)")
    check_fields(meta, TRAIN_STATE_TYPES, "train_state.json", required=("param_groups", "step", "pos", "epoch",
                                                                         "elapsed", "config"), optional=False)
    data = files.read("train_state.safetensors", HEADER_BYTES + 16 * MAX_PARAMS)
    try:
        tensors = load_safetensors(data)
    except (SafetensorError, ValueError) as e:
        raise CheckpointError(f"train_state.safetensors is damaged: {e}") from None
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = value
    if "rng" not in tensors:
        raise CheckpointError("train_state.safetensors lacks the random-number-generator state")
    hidden = None
    if "state.h" in tensors:
        hidden = (tensors["state.h"], tensors["state.c"]) if "state.c" in tensors else tensors["state.h"]
    return TrainState({"state": state, "param_groups": meta["param_groups"]}, tensors["rng"], hidden,
                      meta["step"], meta["pos"], meta["epoch"], meta["elapsed"], meta.get("base_step", 0),
                      meta.get("base_elapsed", 0.0), meta["config"])


def load_train_state(path: Path) -> TrainState:
    """The optimizer / data / RNG state saved for --resume (the inverse of what save_checkpoint writes)."""
    path = Path(path)
    return _read_consistently(path, lambda read: _train_state_from(path, read))


def config_kind(raw: dict) -> str | None:
    """The model kind a config.json holds: its "kind", or "char-rnn" for older char configs naming a cell."""
    return raw.get("kind") or ("char-rnn" if "cell" in raw else None)


def list_checkpoints(root: str | Path = "checkpoints") -> list[Path]:
    """Every character-model checkpoint directory under root (a config.json of kind "char-rnn" and a
    vocab.json), and those whose config.json cannot be read, so that they can be shown as unusable."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob("*/config.json")
                  if (p.parent / "vocab.json").exists() and not p.parent.name.startswith(".")
                  and _may_be_char_config(p))


def _may_be_char_config(path: Path) -> bool:
    try:
        raw = read_json(path, "model config")
    except ValueError:
        return True  # unreadable: listed, and its loading says why
    return not isinstance(raw, dict) or config_kind(raw) in (KIND, None)


def checkpoint_problem(path: str | Path) -> str | None:
    """Why the checkpoint at path cannot be used, from its JSON files alone (cheap), or None."""
    try:
        _read_consistently(Path(path), lambda files: _json_parts(Path(path), files))
    except CheckpointError as e:
        return str(e)
    return None


def claim_output(path: str | Path, resume: bool = False, overwrite: bool = False,
                 flag: str = "--out") -> DirectoryLock:
    """Lock `path` for writing a char-model checkpoint (core.common.io.claim_directory with this format's files);
    the caller releases the returned lock."""
    return claim_directory(path, CHECKPOINT_FILES, resume, overwrite, flag, resumable=flag == "--out")


def export_checkpoint(src: str | Path, dst: str | Path, overwrite: bool = False) -> Path:
    """Copy a trained checkpoint for shipping: fp16 weights, no optimizer state (it cannot be resumed). dst
    must be new or empty, or a checkpoint replaced on purpose (overwrite); never src itself."""
    if os.path.realpath(src) == os.path.realpath(dst):
        raise OutputError(f"export {src} onto itself would drop its training state; choose another DST")
    ckpt = load_checkpoint(src)
    with claim_output(dst, overwrite=overwrite, flag="DST"):
        return save_checkpoint(dst, ckpt.model, ckpt.vocab, {**ckpt.card, "name": Path(dst).name}, ckpt.samples,
                               half=True)
