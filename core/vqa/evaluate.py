"""Evaluate a VQA checkpoint on the easy-VQA test split: accuracy per question type, beside the question-only
baseline, multiple-choice accuracy, and grounding of the last attention hop in the shape's mask.

    python -m core.vqa.evaluate --model checkpoints/vqa-easy

Grounding: the last hop's 14 x 14 map is upsampled to the 64 x 64 image and normalised; its mass inside the
shape mask is compared with a uniform map's (the mask's area fraction). mass_ratio = mean mass / mean
uniform mass over the questions about the shape's colour or kind ("what colour", "what shape").
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from core.caption.maps import upsample_map

from .batches import Batcher
from .checkpoint import VQACheckpointError, load_vqa
from .data import QUESTION_TYPES, VQADataError, VQASplit, load_split, shape_mask, with_features
from .model import StackedAttentionVQA

GROUNDED_TYPES = ("what colour", "what shape")


@torch.no_grad()
def predict(model: StackedAttentionVQA, batcher: Batcher, batch_size: int = 512
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predicted answer ids (Q,), multiple-choice picks (Q,) and the last hop's attention (Q, L) (or (Q, 0))."""
    model.eval()
    preds, picks, last = [], [], []
    for i in range(0, len(batcher), batch_size):
        tok, feats, image_index, _, cands, _ = batcher.batch(torch.arange(i, min(i + batch_size, len(batcher))))
        logits, alphas, u = model(tok, feats, image_index)
        scores = model.score_candidates(u, cands).masked_fill((cands == 0).all(-1), float("-inf"))
        preds.append(logits.argmax(1))
        picks.append(scores.argmax(1))
        last.append(alphas[:, -1] if alphas.shape[1] else alphas.new_zeros(len(tok), 0))
    return torch.cat(preds).numpy(), torch.cat(picks).numpy(), torch.cat(last).numpy()


def accuracy_table(correct: np.ndarray, types: list[str]) -> dict[str, dict]:
    """{type: {"n", "accuracy"}} for every question type present, plus "all"."""
    types_arr = np.array(types)
    table = {t: {"n": int((types_arr == t).sum()), "accuracy": float(correct[types_arr == t].mean())}
             for t in QUESTION_TYPES if (types_arr == t).any()}
    table["all"] = {"n": len(correct), "accuracy": float(correct.mean())}
    return table


def grounding(last: np.ndarray, split: VQASplit, types: list[str], grid: int) -> dict[str, dict]:
    """Per question type: mean attention mass inside the shape mask, the uniform mass and their ratio."""
    masks = [shape_mask(split.image(i)) for i in range(len(split.paths))]
    mass, uniform = np.zeros(len(last)), np.zeros(len(last))
    for q, alpha in enumerate(last):
        mask = masks[split.image_index[q]]
        up = upsample_map(alpha.reshape(grid, grid), *mask.shape)
        mass[q], uniform[q] = up[mask].sum() / up.sum(), mask.mean()
    types_arr = np.array(types)
    out = {}
    groups = [(t, types_arr == t) for t in QUESTION_TYPES] + [("colour/shape", np.isin(types_arr, GROUNDED_TYPES))]
    for name, sel in groups:
        if sel.any():
            out[name] = {"mass": float(mass[sel].mean()), "uniform": float(uniform[sel].mean()),
                         "ratio": float(mass[sel].mean() / uniform[sel].mean())}
    return out


def evaluate_split(model: StackedAttentionVQA, question_only: StackedAttentionVQA, batcher: Batcher,
                   split: VQASplit) -> dict:
    """Test metrics of the model and its question-only baseline: per-type accuracy, multiple choice, grounding."""
    types = split.types()
    answers = batcher.answers.numpy()
    target = batcher.target.numpy()
    pred, pick, last = predict(model, batcher)
    q_pred, q_pick, _ = predict(question_only, batcher)
    ground = grounding(last, split, types, model.cfg.grid)
    return {"split": split.name, "questions": len(answers),
            "accuracy": accuracy_table(pred == answers, types),
            "question_only": accuracy_table(q_pred == answers, types),
            "multiple_choice": {"accuracy": float((pick == target).mean()),
                                "question_only": float((q_pick == target).mean())},
            "grounding": ground, "mass_ratio": ground["colour/shape"]["ratio"]}


def format_report(metrics: dict) -> str:
    """The per-type table and the closing `accuracy=... question_only=... mass_ratio=...` line."""
    acc, qo, g = metrics["accuracy"], metrics["question_only"], metrics["grounding"]
    lines = [f"{'question type':26s} {'n':>5s} {'model':>7s} {'q-only':>7s} {'mass in mask / uniform':>24s}"]
    for t in [*QUESTION_TYPES, "all"]:
        if t in acc:
            gr = g.get(t)
            ground = f"{gr['mass']:.2f} / {gr['uniform']:.2f} = {gr['ratio']:.2f}x" if gr else ""
            lines.append(f"{t:26s} {acc[t]['n']:5d} {acc[t]['accuracy']:7.4f} {qo[t]['accuracy']:7.4f} {ground:>24s}")
    mc = metrics["multiple_choice"]
    lines.append(f"multiple choice (correct + up to 3 same-kind distractors): model {mc['accuracy']:.4f}, "
                 f"question-only {mc['question_only']:.4f}")
    lines.append(f"accuracy={acc['all']['accuracy']:.4f} question_only={qo['all']['accuracy']:.4f} "
                 f"mass_ratio={metrics['mass_ratio']:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="checkpoints/vqa-easy")
    p.add_argument("--cache-dir", default="data/vqa", help="where encoder features are cached")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(max(1, a.threads))
    try:
        ckpt = load_vqa(a.model)
        split = with_features(load_split("test"), a.cache_dir)
    except (VQACheckpointError, VQADataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    metrics = evaluate_split(ckpt.model, ckpt.question_only, Batcher(split, ckpt.vocab, ckpt.answers), split)
    print(format_report(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
