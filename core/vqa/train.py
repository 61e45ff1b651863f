"""Train the stacked-attention VQA model (Yang et al. 2016) and its question-only baseline on easy-VQA or on
the photo world's generated questions.

    python -m core.vqa.train --out checkpoints/vqa-easy --seed 0 --threads 1
    python -m core.vqa.train --world photos --train-images 1000 --photo-features data/caption --out checkpoints/vqa-photos

Cached, frozen encoder grids (core.caption.encoder). easy-VQA: the package's train split minus every tenth
image (the validation images that pick the best weights), its test split scored once at the end. Photo
world: the late-stage grids the captioner caches (1280-d, projected onto their top principal components,
a frozen layer of the model), train/val/test photo seeds whose val and test objects are held-out stamp
files. Test metrics (core.vqa.evaluate) go into card.json. Adam with warm-up and cosine decay, gradient
clipping, classification cross-entropy plus the multiple-choice candidate-scoring loss.
"""
from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from core.caption.photos import PhotoWorldError

from .batches import Batcher
from .checkpoint import save_vqa
from .data import VQADataError, VQASplit, WordVocab, answer_list, load_split, select_images, with_features
from .evaluate import evaluate_split, format_report, predict
from .model import StackedAttentionVQA, VQAConfig, vqa_loss
from .photo_data import ENCODER_STAGE, PHOTO_SEED, photo_features, photo_vqa_split
from .photo_questions import photo_answers

KNOBS = ("embed_size", "hidden_size", "attention_size", "hops", "dropout", "batch_images", "lr", "mc_weight",
         "max_steps", "max_minutes", "seed")
WORLDS = ("easy", "photos")


def set_seed(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators."""
    import random
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def val_accuracy(model: StackedAttentionVQA, batcher: Batcher) -> tuple[float, float]:
    """Answer accuracy and four-candidate multiple-choice accuracy on a validation batcher."""
    pred, pick, _ = predict(model, batcher)
    model.train()
    four = batcher.four_choices()
    mc = (pick == batcher.target.numpy())[four]
    return float((pred == batcher.answers.numpy()).mean()), float(mc.mean()) if len(mc) else float("nan")


def fit(cfg: VQAConfig, train: Batcher, val: Batcher, a: argparse.Namespace, log: Callable[[str], None],
        reduce: torch.nn.Linear | None = None) -> tuple[StackedAttentionVQA, dict]:
    """Train one model within the step/time budget; returns it with the best validation weights, and a summary.
    `reduce` gives the frozen projection of raw grids (cfg.input_dim > 0) its weights."""
    set_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    model = StackedAttentionVQA(cfg)
    if cfg.use_image and reduce is not None:
        model.reduce.load_state_dict(reduce.state_dict())
    model.to(a.device)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    name = "model" if cfg.use_image else "question-only"
    t0, step, best, best_step, best_state, curve = time.time(), 0, -1.0, 0, None, []

    def checkpoint_if_best() -> None:
        nonlocal best, best_step, best_state
        model.cpu()
        acc, mc = val_accuracy(model, val)
        model.to(a.device)
        curve.append({"step": step, "loss": round(loss.item(), 4), "val_accuracy": round(acc, 4),
                      "val_four_choices": round(mc, 4), "minutes": round((time.time() - t0) / 60, 2)})
        log(f"{name} step {step} loss {loss.item():.4f} val accuracy {acc:.4f}, four-candidate multiple choice "
            f"{mc:.4f} ({(time.time() - t0) / 60:.1f} min)")
        if acc > best:
            best, best_step = acc, step
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    model.train()
    while (progress := max(step / a.max_steps, (time.time() - t0) / (60 * a.max_minutes))) < 1:
        for g in opt.param_groups:
            g["lr"] = a.lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * progress))
        batch = (t.to(a.device) for t in train.batch(train.image_batch(a.batch_images, rng), rng))
        loss, _ = vqa_loss(model, *batch, mc_weight=a.mc_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        if step % a.eval_every == 0:
            checkpoint_if_best()
    if step % a.eval_every != 0:
        checkpoint_if_best()
    model.cpu().load_state_dict(best_state)
    summary = {"steps": step, "best_step": best_step, "best_val_accuracy": best,
               "train_seconds": round(time.time() - t0, 1), "curve": curve}
    return model.eval(), summary


def split_train_val(train: VQASplit) -> tuple[VQASplit, VQASplit]:
    """The package's train split without / with every tenth image (validation for picking the best step)."""
    rows = np.arange(len(train.paths))
    return select_images(train, rows[rows % 10 != 0], "train"), select_images(train, rows[rows % 10 == 0], "val")


def photo_splits(a: argparse.Namespace, log: Callable[[str], None]
                 ) -> tuple[dict[str, VQASplit], torch.nn.Linear]:
    """Photo-world train/val/test splits over grids projected by a PCA fitted on the training grids."""
    from core.caption.data import photo_split
    from core.caption.encoder import Encoder
    from core.caption.train import pca_layer
    encoder = Encoder(ENCODER_STAGE)
    sizes = {"train": a.train_images, "val": a.val_images, "test": a.test_images}
    raw = {s: photo_split(s, n, PHOTO_SEED, a.photo_features, encoder,
                          lambda i, total, s=s: log(f"encoding {s} photos: {i}/{total}") if i % 500 == 0 else None)
           for s, n in sizes.items()}
    reduce = pca_layer(raw["train"].feats, a.project_dim, seed=a.seed)
    log(f"projecting the {encoder.feature_dim}-d grids onto their top {a.project_dim} principal components")
    return {s: photo_vqa_split(s, n, PHOTO_SEED, photo_features(raw[s], reduce), a.cache_dir)
            for s, n in sizes.items()}, reduce


def easy_splits(a: argparse.Namespace, log: Callable[[str], None]) -> dict[str, VQASplit]:
    """easy-VQA's train and test splits with their cached grids."""
    def progress(name: str) -> Callable[[int, int], None]:
        return lambda i, total: log(f"encoding {name}: {i}/{total}") if i == total or i % 500 == 0 else None
    return {n: with_features(load_split(n), a.cache_dir, progress=progress(n)) for n in ("train", "test")}


def data_note(a: argparse.Namespace, train_b: Batcher, val_b: Batcher, test: VQASplit) -> dict[str, str]:
    """The card's "data" and "encoder" lines."""
    counts = f"{len(train_b)} / {len(val_b)} / {len(test.questions)} questions"
    if a.world == "photos":
        from core.caption.train import ENCODER_NOTES
        return {"data": (f"photo world (core.caption.photos, Tux Paint photo cut-outs on real backgrounds; val/test "
                         f"objects are held-out stamp files), questions from core.vqa.photo_questions: "
                         f"{a.train_images} train / {a.val_images} val / {a.test_images} test photos "
                         f"(seed {PHOTO_SEED}); {counts}"),
                "encoder": (f"{ENCODER_NOTES[ENCODER_STAGE]}, projected inside the model onto their top "
                            f"{a.project_dim} principal components (frozen PCA of 300 training photos)")}
    return {"data": (f"easy-VQA (PyPI easy-vqa==1.0, MIT): its own split, {len(train_b.questions_of)} train + "
                     f"{len(val_b.questions_of)} validation images (every tenth train image) / {len(test.paths)} "
                     f"test images; {counts}"),
            "encoder": "core.caption.encoder (EfficientNet-Lite0, ImageNet, frozen): 14x14 grid of 192-d vectors"}


def train(a: argparse.Namespace, splits: dict[str, VQASplit] | None = None, log: Callable[[str], None] = print,
          argv_cmd: list[str] | None = None) -> tuple[Path, dict]:
    """Train the model and the question-only baseline, score both on the test split, write the checkpoint.
    `splits` holds train and test (and val; without one, every tenth train image validates)."""
    torch.set_num_threads(a.threads)
    reduce = None
    if splits is None:
        splits, reduce = photo_splits(a, log) if a.world == "photos" else (easy_splits(a, log), None)
    train_split, val_split = ((splits["train"], splits["val"]) if "val" in splits
                              else split_train_val(splits["train"]))
    answers = photo_answers() if a.world == "photos" else answer_list()
    vocab = WordVocab.build(train_split.questions + answers)
    train_b, val_b = Batcher(train_split, vocab, answers, a.seed), Batcher(val_split, vocab, answers, a.seed)
    grid = int(round(math.sqrt(train_split.feats.shape[1])))
    knobs = dict(embed_size=a.embed_size, hidden_size=a.hidden_size, attention_size=a.attention_size,
                 hops=a.hops, dropout=a.dropout)
    grids = dict(encoder=ENCODER_STAGE, input_dim=reduce.in_features) if reduce is not None else {}
    cfg = VQAConfig(len(vocab), len(answers), train_split.feats.shape[2], grid, **knobs, **grids)
    log(f"{len(vocab)} words, {len(answers)} answers, {len(train_b)} train / {len(val_b)} val questions")
    model, model_summary = fit(cfg, train_b, val_b, a, log, reduce)
    qcfg = VQAConfig(len(vocab), len(answers), cfg.feature_dim, grid, **{**knobs, "hops": 0}, use_image=False,
                     **grids)
    question_only, qo_summary = fit(qcfg, train_b, val_b, a, log)
    test = splits["test"]
    metrics = evaluate_split(model, question_only, Batcher(test, vocab, answers, a.seed), test)
    log(format_report(metrics))
    device = a.device if a.device == "cpu" else torch.cuda.get_device_name(a.device)
    card = {"name": Path(a.out).name, "world": "photos" if a.world == "photos" else "easy-VQA",
            **data_note(a, train_b, val_b, test),
            "model": cfg.to_dict(), "n_params": sum(p.numel() for p in model.parameters()),
            "question_only_params": sum(p.numel() for p in question_only.parameters()),
            "training": {k: getattr(a, k) for k in KNOBS}, "fit": model_summary, "fit_question_only": qo_summary,
            "test": metrics,
            "train_seconds": round(model_summary["train_seconds"] + qo_summary["train_seconds"], 1),
            "hardware": f"{device} ({platform.processor() or platform.machine()}), {a.threads} torch thread(s)",
            "command": "python -m core.vqa.train " + " ".join(sys.argv[1:] if argv_cmd is None else argv_cmd),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return save_vqa(a.out, model, question_only, vocab, answers, card, half=a.half), metrics


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="checkpoints/vqa-easy")
    p.add_argument("--world", choices=WORLDS, default="easy", help="easy-VQA or the photo world's questions")
    p.add_argument("--cache-dir", default="data/vqa", help="where easy-VQA grids and photo questions are cached")
    p.add_argument("--photo-features", default="data/caption",
                   help="photo world: the captioner's feature cache (late-stage grids, shards of 500 photos)")
    p.add_argument("--train-images", type=int, default=1000, help="photo world: training photos")
    p.add_argument("--val-images", type=int, default=250, help="photo world: validation photos")
    p.add_argument("--test-images", type=int, default=300, help="photo world: test photos")
    p.add_argument("--project-dim", type=int, default=256, help="photo world: principal components kept")
    p.add_argument("--embed-size", type=int, default=64)
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--attention-size", type=int, default=64)
    p.add_argument("--hops", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--batch-images", type=int, default=12, help="images per batch, with all their questions")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--mc-weight", type=float, default=0.5, help="weight of the multiple-choice scoring loss")
    p.add_argument("--max-steps", type=int, default=6000)
    p.add_argument("--max-minutes", type=float, default=25.0, help="budget per model")
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--half", action="store_true", help="store fp16 weights (for shipping)")
    a = p.parse_args(argv)
    for name in ("embed_size", "hidden_size", "attention_size", "hops", "batch_images", "max_steps", "eval_every",
                 "threads", "train_images", "val_images", "test_images", "project_dim"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} has to be at least 1")
    if not 0 <= a.dropout < 1 or a.lr <= 0 or a.max_minutes <= 0 or a.mc_weight < 0:
        p.error("--dropout must be in [0, 1); --lr and --max-minutes positive; --mc-weight >= 0")
    if a.device != "cpu" and not (a.device.startswith("cuda") and torch.cuda.is_available()):
        p.error(f"--device {a.device} is not available here (use cpu)")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    try:
        out, _ = train(a, log=lambda m: print(m, flush=True), argv_cmd=argv)
    except (VQADataError, PhotoWorldError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
