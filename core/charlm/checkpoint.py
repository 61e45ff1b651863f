"""Checkpoints as directories of safetensors weights and JSON, written atomically, never unpickled.

A checkpoint directory holds `model.safetensors`, `config.json`, `vocab.json`, `card.json`, `samples.json`
and, while it can still be trained further, `train_state.safetensors` + `train_state.json` (a TrainState:
optimizer, data position, random-number-generator state), written and read here.
"""
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.recurrent import N_GATES
from core.charlm.vocab import Vocab
from core.common.folders import (
    HEADER_BYTES,
    MAX_PARAMS,
    CheckpointError,
    FolderFiles,
    check_fields,
    check_kind,
    config_from_json,
    read_folder,
)
from core.common.io import (
    DirectoryLock,
    OutputError,
    atomic_directory,
    claim_directory,
    config_kind,
    read_json,
    write_json,
)

REQUIRED = ("model.safetensors", "config.json", "vocab.json")
KIND = "char-rnn"  # config.json's "kind" for these checkpoints


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

NUMBER, INT, TEXT = (int, float), (int,), (str,)
CARD_TYPES = {**{k: TEXT for k in ("name", "corpus", "cell", "command", "hardware", "created", "manifest_sha256")},
              **{k: INT for k in ("n_layer", "hidden_size", "vocab_size", "n_params", "steps", "tokens_seen")},
              **{k: NUMBER for k in ("epochs", "train_loss", "val_loss", "train_bpc", "val_bpc", "train_seconds")},
              "commands": (list,), "train_config": (dict,)}
TIMELINE_TYPES = {"step": INT, "text": TEXT, "val_loss": NUMBER, "val_bpc": NUMBER}
CURVE_TYPES = {"step": INT, "train_loss": NUMBER, "val_loss": NUMBER, "tokens_per_s": NUMBER}
TRAIN_STATE_TYPES = {"param_groups": (list,), "step": INT, "pos": INT, "epoch": INT, "elapsed": NUMBER,
                     "base_step": INT, "base_elapsed": NUMBER, "config": (dict,)}


def parse_config(raw) -> CharRNNConfig:
    """A config.json's content as a CharRNNConfig, checking kind, keys, types and the model's size."""
    config = config_from_json(CharRNNConfig, check_kind(raw, KIND, "config.json"), "config.json")
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


def _json_parts(path: Path, files: FolderFiles) -> tuple[CharRNNConfig, Vocab, dict, dict]:
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


def expected_tensors(config: CharRNNConfig) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Name -> (shape, float32) of every weight of CharRNN(config), as core.common.folders checks them."""
    return {k: (shape, torch.float32) for k, shape in weight_shapes(config).items()}


def _load_from(path: Path, files: FolderFiles) -> Checkpoint:
    config, vocab, card, samples = _json_parts(path, files)
    weights = files.weights("model.safetensors", expected_tensors(config))
    model = CharRNN(config)
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    model.eval()
    return Checkpoint(path, model, vocab, config, card, samples)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load a checkpoint directory into a float32 CPU model in eval mode, checking every file, type and shape
    (sizes before anything is allocated); a save swapping in a new version meanwhile is waited out."""
    path = Path(path)
    return read_folder(path, lambda files: _load_from(path, files))


def _train_state_from(path: Path, files: FolderFiles) -> TrainState:
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
    return read_folder(path, lambda files: _train_state_from(path, files))


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
    """Why the checkpoint at path cannot be used, from its JSON files and its weights' size and header (cheap),
    or None."""
    def check(files: FolderFiles) -> None:
        config = _json_parts(Path(path), files)[0]
        files.header("model.safetensors", expected_tensors(config))

    try:
        read_folder(Path(path), check)
    except CheckpointError as e:
        return str(e)
    return None


def claim_output(path: str | Path, resume: bool = False, overwrite: bool = False,
                 flag: str = "--out") -> DirectoryLock:
    """Lock `path` for writing a char-model checkpoint (core.common.io.claim_directory with this format's files);
    the caller releases the returned lock."""
    return claim_directory(path, CHECKPOINT_FILES, resume, overwrite, flag, resumable=flag == "--out", kind=KIND)


def export_checkpoint(src: str | Path, dst: str | Path, overwrite: bool = False) -> Path:
    """Copy a trained checkpoint for shipping: fp16 weights, no optimizer state (it cannot be resumed). dst
    must be new or empty, or a checkpoint replaced on purpose (overwrite); never src itself."""
    if os.path.realpath(src) == os.path.realpath(dst):
        raise OutputError(f"export {src} onto itself would drop its training state; choose another DST")
    ckpt = load_checkpoint(src)
    with claim_output(dst, overwrite=overwrite, flag="DST"):
        return save_checkpoint(dst, ckpt.model, ckpt.vocab, {**ckpt.card, "name": Path(dst).name}, ckpt.samples,
                               half=True)
