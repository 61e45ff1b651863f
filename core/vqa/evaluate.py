"""Evaluate a VQA checkpoint on its world's test split: accuracy per question type, beside the question-only
baseline, multiple-choice accuracy, and grounding of the last attention hop in the mask of what is asked about.

    python -m core.vqa.evaluate --model checkpoints/vqa-easy
    python -m core.vqa.evaluate --model checkpoints/vqa-photos --photo-features data/caption
    python -m core.vqa.evaluate --model checkpoints/vqa-photos --photo-features data/caption --split val

(`--split val` scores the photo world's 250 validation photos instead: the split to choose settings on.)

Grounding: the last hop's map is upsampled to the image and normalised; its mass inside the mask is compared
with a uniform map's (the mask's area fraction). easy-VQA: the shape's mask, mass_ratio = mean mass / mean
uniform mass over the questions about the shape's colour or kind ("what colour", "what shape"). Photo world:
the visible mask of the question's objects (the answer's object for left/right questions), mass_ratio over
every question that has one ("is there" questions answered no and zero counts show nothing).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from core.vision.maps import upsample_map
from core.vision.photos import PhotoWorldError
from core.vqa.batches import Batcher
from core.vqa.checkpoint import VQACheckpointError, load_checked
from core.vqa.colours import with_photo_colours
from core.vqa.data import VQADataError, VQASplit, load_split, with_features
from core.vqa.model import StackedAttentionVQA
from core.vqa.photo_data import (
    ENCODER_STAGE,
    PHOTO_SEED,
    photo_features,
    photo_vqa_split,
)

PHOTO_IMAGES = {"test": 300, "val": 250}       # the photo world's held-out splits, as the trainer's defaults


@torch.no_grad()
def predict(model: StackedAttentionVQA, batcher: Batcher, batch_size: int = 512
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predicted answer ids (Q,), multiple-choice picks (Q,) and the last hop's attention (Q, L) (or (Q, 0))."""
    model.eval()
    preds, picks, last = [], [], []
    for i in range(0, len(batcher), batch_size):
        idx = torch.arange(i, min(i + batch_size, len(batcher)))
        tok, feats, image_index, _, cands, _ = batcher.batch(idx)
        logits, alphas, u = model(tok, feats, image_index)
        scores = model.candidate_logprobs(logits, u, cands, batcher.candidates[idx])
        preds.append(logits.argmax(1))
        picks.append(scores.argmax(1))
        last.append(alphas[:, -1] if alphas.shape[1] else alphas.new_zeros(len(tok), 0))
    return torch.cat(preds).numpy(), torch.cat(picks).numpy(), torch.cat(last).numpy()


def accuracy_table(correct: np.ndarray, types: list[str], order: tuple[str, ...]) -> dict[str, dict]:
    """{type: {"n", "accuracy"}} for every question type present (in the given order), plus "all"."""
    types_arr = np.array(types)
    table = {t: {"n": int((types_arr == t).sum()), "accuracy": float(correct[types_arr == t].mean())}
             for t in order if (types_arr == t).any()}
    table["all"] = {"n": len(correct), "accuracy": float(correct.mean())}
    return table


def grounding(last: np.ndarray, split: VQASplit, types: list[str], grid: int) -> dict[str, dict]:
    """Per question type: mean attention mass inside the mask of what the question is about, the uniform
    mass (the mask's area fraction) and their ratio; questions without a mask are left out."""
    mass, uniform = np.full(len(last), np.nan), np.full(len(last), np.nan)
    for i in range(len(split.paths)):
        for q, mask in split.masks_of_image(i).items():
            up = upsample_map(last[q].reshape(grid, grid), *mask.shape)
            mass[q], uniform[q] = up[mask].sum() / up.sum(), mask.mean()
    types_arr, has_mask = np.array(types), ~np.isnan(mass)
    name, grounded = split.GROUNDED
    out = {}
    for t, sel in [(t, types_arr == t) for t in split.TYPES] + [(name, np.isin(types_arr, grounded))]:
        sel = sel & has_mask
        if sel.any():
            out[t] = {"n": int(sel.sum()), "mass": float(mass[sel].mean()), "uniform": float(uniform[sel].mean()),
                      "ratio": float(mass[sel].mean() / uniform[sel].mean())}
    return out


def evaluate_split(model: StackedAttentionVQA, question_only: StackedAttentionVQA, batcher: Batcher,
                   split: VQASplit) -> dict:
    """Test metrics of the model and its question-only baseline: per-type accuracy, multiple choice, grounding.
    Multiple choice is scored over all candidate sets and over those with four real candidates."""
    types = split.types()
    answers = batcher.answers.numpy()
    target = batcher.target.numpy()
    pred, pick, last = predict(model, batcher)
    q_pred, q_pick, _ = predict(question_only, batcher)
    ground = grounding(last, split, types, model.cfg.grid)
    four = batcher.four_choices()
    four_types = [t for t, f in zip(types, four) if f]
    return {"split": split.name, "questions": len(answers),
            "accuracy": accuracy_table(pred == answers, types, split.TYPES),
            "question_only": accuracy_table(q_pred == answers, types, split.TYPES),
            "multiple_choice": {"accuracy": float((pick == target).mean()),
                                "question_only": float((q_pick == target).mean()),
                                "four_choices": accuracy_table((pick == target)[four], four_types, split.TYPES),
                                "four_choices_question_only": accuracy_table((q_pick == target)[four], four_types,
                                                                             split.TYPES)},
            "grounding": ground, "mass_ratio": ground[split.GROUNDED[0]]["ratio"]}


def format_report(metrics: dict) -> str:
    """The per-type table, multiple choice, and the closing `accuracy=... question_only=... mass_ratio=...` line."""
    acc, qo, g = metrics["accuracy"], metrics["question_only"], metrics["grounding"]
    mc = metrics["multiple_choice"]
    four, four_qo = mc["four_choices"], mc["four_choices_question_only"]
    lines = [f"{'question type':26s} {'n':>5s} {'model':>7s} {'q-only':>7s} {'4-choice model / q-only':>24s} "
             f"{'mass in mask / uniform':>24s}"]
    for t in acc:
        gr = g.get(t)
        ground = f"{gr['mass']:.2f} / {gr['uniform']:.2f} = {gr['ratio']:.2f}x" if gr else ""
        choice = f"{four[t]['accuracy']:.4f} / {four_qo[t]['accuracy']:.4f} (n {four[t]['n']})" if t in four else ""
        lines.append(f"{t:26s} {acc[t]['n']:5d} {acc[t]['accuracy']:7.4f} {qo[t]['accuracy']:7.4f} {choice:>24s} "
                     f"{ground:>24s}")
    lines.append(f"multiple choice, every candidate set (correct + up to 3 same-kind distractors): model "
                 f"{mc['accuracy']:.4f}, question-only {mc['question_only']:.4f}")
    lines.append(f"multiple choice, four candidates ({four['all']['n']} questions): model {four['all']['accuracy']:.4f}, "
                 f"question-only {four_qo['all']['accuracy']:.4f}")
    lines.append(f"accuracy={acc['all']['accuracy']:.4f} question_only={qo['all']['accuracy']:.4f} "
                 f"mass_ratio={metrics['mass_ratio']:.2f}")
    return "\n".join(lines)


def load_test(world: str, a: argparse.Namespace, colours: bool = False) -> VQASplit:
    """The split to score with its grids: easy-VQA's own test split, or the photo world's held-out test (or
    validation) photos (raw grids, with colour channels when the model reads them; the photo model projects
    them itself)."""
    if world == "photos":
        from core.vision.encoder import Encoder
        from core.vision.worlds import photo_split
        n = a.images or PHOTO_IMAGES[a.split]
        encoder = Encoder(ENCODER_STAGE)
        feats = photo_features(photo_split(a.split, n, PHOTO_SEED, a.photo_features, encoder))
        if colours:
            feats = with_photo_colours(feats, a.split, PHOTO_SEED, a.photo_features)
        return photo_vqa_split(a.split, n, PHOTO_SEED, feats, a.cache_dir)
    if a.split != "test":
        raise VQADataError("--split val is the photo world's; easy-VQA is scored on its test split")
    return with_features(load_split("test"), a.cache_dir)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="checkpoints/vqa-easy")
    p.add_argument("--world", choices=("easy", "photos"), help="test data (default: the world in the model's card)")
    p.add_argument("--cache-dir", default="data/vqa", help="where easy-VQA grids and photo questions are cached")
    p.add_argument("--photo-features", default="data/caption", help="photo world: the captioner's feature cache")
    p.add_argument("--split", choices=tuple(PHOTO_IMAGES), default="test",
                   help="photo world: the held-out test photos, or the validation photos that choose settings")
    p.add_argument("--images", "--test-images", type=int, default=0,
                   help="photo world: photos of the split scored (default: 300 test, 250 val)")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(max(1, a.threads))
    if a.images < 0:
        p.error("--images cannot be negative (0: the split's default)")
    try:
        ckpt = load_checked(a.model)
        world = a.world or ("photos" if ckpt.card.get("world") == "photos" else "easy")
        if (world == "photos") != (ckpt.model.cfg.encoder == ENCODER_STAGE):
            raise VQADataError(f"{a.model} reads the {ckpt.model.cfg.encoder!r} encoder stage; the {world} test "
                               f"split is not its world")
        split = load_test(world, a, bool(ckpt.model.cfg.colours))
        batcher = Batcher(split, ckpt.vocab, ckpt.answers)
    except (VQACheckpointError, VQADataError, PhotoWorldError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    metrics = evaluate_split(ckpt.model, ckpt.question_only, batcher, split)
    print(format_report(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
