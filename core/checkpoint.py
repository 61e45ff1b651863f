"""Checkpoints as directories of safetensors weights and JSON, written atomically, never unpickled.

A checkpoint directory holds `model.safetensors`, `config.json`, `vocab.json`, `card.json`, `samples.json`
and, while it can still be trained further, `train_state.safetensors` + `train_state.json` (a TrainState:
optimizer, data position, random-number-generator state), written and read here.
"""
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from core.io import atomic_directory, read_json, write_json
from core.model import CharRNN, CharRNNConfig
from core.vocab import Vocab

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


def _read_json(path: Path, what: str):
    return read_json(path, what, CheckpointError)


def config_kind(raw: dict) -> str | None:
    """The model kind a config.json holds: its "kind", or "char-rnn" for older char configs naming a cell."""
    return raw.get("kind") or ("char-rnn" if "cell" in raw else None)


def load_config(path: Path) -> CharRNNConfig:
    """Read and validate config.json."""
    raw = _read_json(path / "config.json", "model config")
    names = {f.name for f in fields(CharRNNConfig)}
    if isinstance(raw, dict) and config_kind(raw) not in (KIND, None):
        raise CheckpointError(f"config.json is a {raw['kind']!r} model, not a character model ({KIND})")
    raw = {k: v for k, v in raw.items() if k != "kind"} if isinstance(raw, dict) else raw
    if not isinstance(raw, dict) or "vocab_size" not in raw or set(raw) - names:
        raise CheckpointError(f"config.json must hold {sorted(names)}, found {raw!r:.200}")
    try:
        return CharRNNConfig(**raw)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"config.json is invalid: {e}") from None


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load a checkpoint directory into a float32 CPU model in eval mode, checking every file and shape."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a checkpoint directory")
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if missing:
        raise CheckpointError(f"{path} is missing {', '.join(missing)}")
    config = load_config(path)
    try:
        vocab = Vocab.load(path / "vocab.json")
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"vocab.json cannot be read: {e}") from None
    if len(vocab) != config.vocab_size:
        raise CheckpointError(f"vocab.json has {len(vocab)} symbols but config.json says {config.vocab_size}")
    try:
        weights = load_file(path / "model.safetensors")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"model.safetensors is damaged: {e}") from None
    model = CharRNN(config)
    expected = model.state_dict()
    if set(weights) != set(expected):
        gone, extra = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
        raise CheckpointError(f"model.safetensors does not match config.json: missing {gone}, unexpected {extra}")
    for name, tensor in weights.items():
        if tensor.shape != expected[name].shape:
            raise CheckpointError(f"weight {name} has shape {tuple(tensor.shape)}, config.json implies "
                                  f"{tuple(expected[name].shape)}")
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    model.eval()
    card = _read_json(path / "card.json", "model card") if (path / "card.json").exists() else {}
    samples = _read_json(path / "samples.json", "sample timeline") if (path / "samples.json").exists() else {}
    return Checkpoint(path, model, vocab, config, card, samples)


def load_train_state(path: Path) -> TrainState:
    """The optimizer / data / RNG state saved for --resume (the inverse of what save_checkpoint writes)."""
    if not (path / "train_state.json").exists():
        raise CheckpointError(f"{path} has no training state to resume from (it was exported for shipping)")
    try:
        tensors = load_file(path / "train_state.safetensors")
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"train_state.safetensors is damaged: {e}") from None
    meta = _read_json(path / "train_state.json", "train state")
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = value
    hidden = None
    if "state.h" in tensors:
        hidden = (tensors["state.h"], tensors["state.c"]) if "state.c" in tensors else tensors["state.h"]
    return TrainState({"state": state, "param_groups": meta["param_groups"]}, tensors["rng"], hidden,
                      meta["step"], meta["pos"], meta["epoch"], meta["elapsed"], meta.get("base_step", 0),
                      meta.get("base_elapsed", 0.0), meta["config"])


def list_checkpoints(root: str | Path = "checkpoints") -> list[Path]:
    """Every character-model checkpoint directory under root (config.json of kind "char-rnn", a vocab.json)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob("*/config.json")
                  if (p.parent / "vocab.json").exists() and not p.parent.name.startswith(".")
                  and _is_char_config(p))


def _is_char_config(path: Path) -> bool:
    try:
        raw = read_json(path, "model config")
    except ValueError:
        return False
    return isinstance(raw, dict) and config_kind(raw) == KIND


def export_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Copy a trained checkpoint for shipping: fp16 weights, no optimizer state (it cannot be resumed)."""
    ckpt = load_checkpoint(src)
    return save_checkpoint(dst, ckpt.model, ckpt.vocab, {**ckpt.card, "name": Path(dst).name}, ckpt.samples,
                           half=True)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m core.checkpoint", description="Inspect or export checkpoints.")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write a shipping copy (fp16 weights, no optimizer state)")
    e.add_argument("src")
    e.add_argument("dst")
    args = p.parse_args(argv)
    try:
        path = export_checkpoint(args.src, args.dst)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    size = sum(f.stat().st_size for f in path.iterdir())
    print(f"exported {args.src} -> {path} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
