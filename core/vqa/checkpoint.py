"""VQA checkpoints: a directory of safetensors weights and JSON, written atomically, never unpickled.

    model.safetensors          the stacked-attention model (fp16 when shipped)
    question_only.safetensors  the question-only baseline (same code, use_image=False)
    config.json                {"kind": "vqa", "model": VQAConfig, "question_only": VQAConfig}
    vocab.json                 question words (index 0 <pad>, 1 <unk>)
    answers.json               the answer vocabulary
    card.json                  data, sizes, test accuracy per question type, training time, hardware, command
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

from core.common.folders import (
    WIDTH,
    CheckpointError,
    FolderFiles,
    check_fields,
    check_kind,
    config_from_json,
    expected_tensors,
    read_folder,
)
from core.common.io import atomic_directory, write_json
from core.common.words import QUESTION_SPECIALS, WordVocab
from core.vision.encoder import STAGES, reading_problem
from core.vqa.colours import N_COLOURS
from core.vqa.model import StackedAttentionVQA, VQAConfig

KIND = "vqa"  # config.json's "kind"
FILES = ("model.safetensors", "question_only.safetensors", "config.json", "vocab.json", "answers.json")
CHECKPOINT_FILES = (*FILES, "card.json")  # what save_vqa writes
CONFIG_LIMITS = {**dict.fromkeys(("feature_dim", "embed_size", "hidden_size", "attention_size"), WIDTH),
                 "vocab_size": (3, 1_000_000), "n_answers": (2, 1_000_000), "grid": (1, 64), "hops": (0, 16), "dropout": (0, 0.99), "input_dim": (0, WIDTH[1]), "concepts": (0, WIDTH[1]),
                 "colours": (0, N_COLOURS)}


class VQACheckpointError(CheckpointError):
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
        write_json(staging / "config.json", {"kind": KIND, "model": model.cfg.to_dict(),
                                             "question_only": question_only.cfg.to_dict()})
        write_json(staging / "vocab.json", vocab.itos, indent=None)
        write_json(staging / "answers.json", answers, indent=None)
        write_json(staging / "card.json", card)
    return Path(out)


def parse_vqa_config(raw, where: str) -> VQAConfig:
    """One model's part of config.json as a VQAConfig: keys, types, sizes and a known encoder stage (whether
    its grid fits that encoder is checked where they meet: load_checked)."""
    cfg = config_from_json(VQAConfig, raw, where, VQACheckpointError, CONFIG_LIMITS)
    if cfg.encoder not in STAGES:
        raise VQACheckpointError(f"{where}: encoder {cfg.encoder!r} is not one of {', '.join(STAGES)}")
    if cfg.colours not in (0, N_COLOURS):
        raise VQACheckpointError(f"{where}: colours must be 0 or {N_COLOURS}, not {cfg.colours}")
    return cfg


def _model(files: FolderFiles, cfg: VQAConfig, name: str) -> StackedAttentionVQA:
    weights = files.weights(name, expected_tensors(lambda: StackedAttentionVQA(cfg), "config.json",
                                                   VQACheckpointError))
    model = StackedAttentionVQA(cfg)
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    return model.eval()


def _load_from(path: Path, files: FolderFiles) -> VQACheckpoint:
    missing = [f for f in FILES if not files.has(f)]
    if missing:
        raise VQACheckpointError(f"{path} is missing {', '.join(missing)}")
    config = check_kind(files.json("config.json", "model config"), KIND, "config.json", VQACheckpointError)
    if set(config) != {"model", "question_only"}:
        raise VQACheckpointError(f"config.json must hold \"model\" and \"question_only\", found {sorted(config)}")
    cfg = parse_vqa_config(config["model"], "config.json model")
    qcfg = parse_vqa_config(config["question_only"], "config.json question_only")
    itos, answers = files.json("vocab.json", "question words"), files.json("answers.json", "answer vocabulary")
    try:
        vocab = WordVocab(itos, QUESTION_SPECIALS)
    except ValueError as e:
        raise VQACheckpointError(f"vocab.json: {e}") from None
    if not isinstance(answers, list) or not all(isinstance(a, str) and a for a in answers) \
            or len(set(answers)) != len(answers):
        raise VQACheckpointError("answers.json must be a list of distinct answers (non-empty strings)")
    for where, c in (("model", cfg), ("question_only", qcfg)):
        if (c.vocab_size, c.n_answers) != (len(vocab), len(answers)):
            raise VQACheckpointError(f"config.json {where} has {c.vocab_size} words and {c.n_answers} answers; "
                                     f"vocab.json has {len(vocab)}, answers.json {len(answers)}")
    card = check_fields(files.json("card.json", "model card", {}), {}, "card.json", error=VQACheckpointError)
    return VQACheckpoint(path, _model(files, cfg, "model.safetensors"),
                         _model(files, qcfg, "question_only.safetensors"), vocab, answers, card)


def load_vqa(path: str | Path) -> VQACheckpoint:
    """Load a VQA checkpoint directory through core.common.folders (every file bounded and checked, sizes before
    anything is allocated); raises VQACheckpointError naming the file."""
    path = Path(path)
    return read_folder(path, lambda files: _load_from(path, files), VQACheckpointError)


def load_checked(path: str | Path) -> VQACheckpoint:
    """A VQA checkpoint for a command line: loaded, and checked to read its encoder stage's grids."""
    ckpt = load_vqa(path)
    cfg = ckpt.model.cfg
    problem = reading_problem(cfg.encoder, cfg.grid, cfg.input_dim or cfg.feature_dim)
    if problem:
        raise VQACheckpointError(f"config.json: {problem}")
    return ckpt
