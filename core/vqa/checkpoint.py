"""VQA checkpoints: a directory of safetensors weights and JSON, written atomically, never unpickled.

    model.safetensors          the stacked-attention model (fp16 when shipped)
    question_only.safetensors  the question-only baseline (same code, use_image=False)
    config.json                {"kind": "vqa", "model": VQAConfig, "question_only": VQAConfig}
    vocab.json                 question words (index 0 <pad>, 1 <unk>)
    answers.json               the answer vocabulary
    card.json                  data, sizes, test accuracy per question type, training time, hardware, command
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from core.common.io import atomic_directory
from core.vqa.data import WordVocab
from core.vqa.model import StackedAttentionVQA, VQAConfig

FILES = ("model.safetensors", "question_only.safetensors", "config.json", "vocab.json", "answers.json")
CHECKPOINT_FILES = (*FILES, "card.json")  # what save_vqa writes


class VQACheckpointError(ValueError):
    """A VQA checkpoint directory that cannot be loaded; the message says why."""


@dataclass
class VQACheckpoint:
    """A loaded VQA checkpoint (float32, eval mode, cpu)."""
    path: Path
    model: StackedAttentionVQA
    question_only: StackedAttentionVQA
    vocab: WordVocab
    answers: list[str]
    card: dict


def _weights(model: StackedAttentionVQA, half: bool) -> dict[str, torch.Tensor]:
    return {k: (v.half() if half else v).detach().contiguous() for k, v in model.state_dict().items()}


def save_vqa(out: str | Path, model: StackedAttentionVQA, question_only: StackedAttentionVQA, vocab: WordVocab,
             answers: list[str], card: dict, half: bool = False) -> Path:
    """Write the whole checkpoint directory; it replaces `out` in a single rename."""
    with atomic_directory(out) as staging:
        save_file(_weights(model, half), str(staging / "model.safetensors"))
        save_file(_weights(question_only, half), str(staging / "question_only.safetensors"))
        config = {"kind": "vqa", "model": model.cfg.to_dict(), "question_only": question_only.cfg.to_dict()}
        (staging / "config.json").write_text(json.dumps(config, indent=1))
        (staging / "vocab.json").write_text(json.dumps(vocab.itos))
        (staging / "answers.json").write_text(json.dumps(answers))
        (staging / "card.json").write_text(json.dumps(card, indent=1, ensure_ascii=False))
    return Path(out)


def _build(cfg: dict, weights_file: Path) -> StackedAttentionVQA:
    model = StackedAttentionVQA(VQAConfig(**cfg))
    weights = load_file(str(weights_file))
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    return model.eval()


def load_vqa(path: str | Path) -> VQACheckpoint:
    """Load a VQA checkpoint directory; raises VQACheckpointError with a clear message."""
    path = Path(path)
    if not path.is_dir():
        raise VQACheckpointError(f"{path} is not a checkpoint directory")
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise VQACheckpointError(f"{path} is missing {', '.join(missing)}")
    try:
        config = json.loads((path / "config.json").read_text())
        if not isinstance(config, dict) or config.get("kind") != "vqa":
            raise VQACheckpointError(f"{path}/config.json is not a VQA model (kind {config.get('kind')!r})"
                                     if isinstance(config, dict) else f"{path}/config.json is not an object")
        vocab = WordVocab(json.loads((path / "vocab.json").read_text()))
        answers = json.loads((path / "answers.json").read_text())
        card = json.loads((path / "card.json").read_text()) if (path / "card.json").exists() else {}
        model = _build(config["model"], path / "model.safetensors")
        question_only = _build(config["question_only"], path / "question_only.safetensors")
    except VQACheckpointError:
        raise
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, SafetensorError) as e:
        raise VQACheckpointError(f"{path} is not a usable VQA checkpoint: {e}") from e
    if len(vocab) != model.cfg.vocab_size or len(answers) != model.cfg.n_answers:
        raise VQACheckpointError(f"{path}: vocab.json / answers.json do not match the sizes in config.json")
    return VQACheckpoint(path, model, question_only, vocab, answers, card)
