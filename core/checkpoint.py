"""Checkpoints as directories of safetensors weights and JSON, written atomically, never unpickled.

A checkpoint directory holds `model.safetensors`, `config.json`, `vocab.json`, `card.json`, `samples.json`
and, while it can still be trained further, `train_state.safetensors` + `train_state.json` (optimizer,
data position, random-number-generator state).
"""
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from core.model import CharRNN, CharRNNConfig
from core.vocab import Vocab

REQUIRED = ("model.safetensors", "config.json", "vocab.json")


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


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield an empty staging directory; on success it replaces `path` whole, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    staging.chmod(0o755)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if path.exists():  # swap: old -> trash, staging -> path, so a crash leaves one whole directory
        trash = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-old-"))
        os.replace(path, trash / "ckpt")
        os.replace(staging, path)
        shutil.rmtree(trash)
    else:
        os.replace(staging, path)


def save_checkpoint(path: str | Path, model: CharRNN, vocab: Vocab, card: dict, samples: dict,
                    train_state: dict | None = None, half: bool = False) -> Path:
    """Write a whole checkpoint directory; it replaces the old one in a single rename."""
    with atomic_directory(path) as staging:
        weights = {k: (v.half() if half else v) for k, v in model.state_dict().items()}
        save_file({k: v.contiguous() for k, v in weights.items()}, staging / "model.safetensors")
        (staging / "config.json").write_text(json.dumps(model.config.to_dict(), indent=1))
        vocab.save(staging / "vocab.json")
        (staging / "card.json").write_text(json.dumps(card, indent=1, ensure_ascii=False))
        (staging / "samples.json").write_text(json.dumps(samples, indent=1, ensure_ascii=False))
        if train_state is not None:
            save_file(train_state["tensors"], staging / "train_state.safetensors")
            (staging / "train_state.json").write_text(json.dumps(train_state["meta"], indent=1))
    return Path(path)


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path.name} ({what}) cannot be read: {e}") from None


def load_config(path: Path) -> CharRNNConfig:
    """Read and validate config.json."""
    raw = _read_json(path / "config.json", "model config")
    names = {f.name for f in fields(CharRNNConfig)}
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


def load_train_state(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The optimizer / data / RNG state saved for --resume."""
    if not (path / "train_state.json").exists():
        raise CheckpointError(f"{path} has no training state to resume from (it was exported for shipping)")
    try:
        return load_file(path / "train_state.safetensors"), _read_json(path / "train_state.json", "train state")
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"train_state.safetensors is damaged: {e}") from None


def list_checkpoints(root: str | Path = "checkpoints") -> list[Path]:
    """Every character-model checkpoint directory under root (a config.json naming a cell, a vocab.json)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob("*/config.json")
                  if (p.parent / "vocab.json").exists() and not p.parent.name.startswith(".")
                  and '"cell"' in p.read_text(encoding="utf-8", errors="replace"))


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
