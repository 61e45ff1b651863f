"""Train the stacked-attention VQA model (Yang et al. 2016) and its question-only baseline on easy-VQA.

    python -m core.vqa.train --out checkpoints/vqa-easy --seed 0 --threads 1

Cached, frozen encoder grids (core.caption.encoder); the package's train split minus every tenth image
(the validation images that pick the best weights); the package's test split is scored once at the end
(core.vqa.evaluate) and written into card.json. Adam with warm-up and cosine decay, gradient clipping,
classification cross-entropy plus the multiple-choice candidate-scoring loss.
Every flag is a field of VQATrainConfig (core.cli); `--device auto|cpu|cuda|mps` picks where the models train;
an --out that holds a checkpoint is refused unless --overwrite, and it is locked while training.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from core.cli import add_config_args, config_from_args
from core.device import DEVICE_HELP, DEVICES, describe, resolve_device
from core.io import OVERWRITE_HELP, claim_directory

from .batches import Batcher
from .checkpoint import CHECKPOINT_FILES, save_vqa
from .data import VQASplit, WordVocab, answer_list, load_split, select_images, with_features
from .evaluate import evaluate_split, format_report, predict
from .model import StackedAttentionVQA, VQAConfig, vqa_loss

KNOBS = ("embed_size", "hidden_size", "attention_size", "hops", "dropout", "batch_images", "lr", "mc_weight",
         "max_steps", "max_minutes", "seed")


@dataclass
class VQATrainConfig:
    """The model's size and how to train it; `python -m core.vqa.train` has one flag per field."""

    out: str = "checkpoints/vqa-easy"
    cache_dir: str = "data/vqa"
    embed_size: int = 64
    hidden_size: int = 128
    attention_size: int = 64
    hops: int = 2
    dropout: float = 0.1
    batch_images: int = 12  # images per batch, with all their questions
    lr: float = 2e-3
    mc_weight: float = 0.5
    max_steps: int = 6000
    max_minutes: float = 25.0  # per model
    eval_every: int = 500
    seed: int = 0
    threads: int = 1
    device: str = "auto"
    half: bool = False
    overwrite: bool = False

    def __post_init__(self):
        for name in ("embed_size", "hidden_size", "attention_size", "hops", "batch_images", "max_steps",
                     "eval_every", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} has to be at least 1")
        if not 0 <= self.dropout < 1 or self.lr <= 0 or self.max_minutes <= 0 or self.mc_weight < 0:
            raise ValueError("--dropout must be in [0, 1); --lr and --max-minutes positive; --mc-weight >= 0")
        if self.device not in DEVICES:
            raise ValueError(f"--device must be one of {', '.join(DEVICES)}, not {self.device!r}")


CLI_HELP = {"cache_dir": "where encoder features are cached",
            "batch_images": "images per batch, with all their questions",
            "mc_weight": "weight of the multiple-choice scoring loss", "max_minutes": "budget per model",
            "threads": "torch CPU threads", "device": DEVICE_HELP, "half": "store fp16 weights (for shipping)",
            "overwrite": OVERWRITE_HELP}


def set_seed(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators."""
    import random
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def val_accuracy(model: StackedAttentionVQA, batcher: Batcher) -> float:
    """Answer accuracy on a validation batcher."""
    pred, _, _ = predict(model, batcher)
    model.train()
    return float((pred == batcher.answers.numpy()).mean())


def fit(cfg: VQAConfig, train: Batcher, val: Batcher, a: VQATrainConfig, device: torch.device,
        log: Callable[[str], None]) -> tuple[StackedAttentionVQA, dict]:
    """Train one model on device within the step/time budget; returns it (on the CPU) with the best validation
    weights, and a summary."""
    set_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    model = StackedAttentionVQA(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    name = "model" if cfg.use_image else "question-only"
    t0, step, best, best_step, best_state, curve = time.time(), 0, -1.0, 0, None, []

    def checkpoint_if_best() -> None:
        nonlocal best, best_step, best_state
        model.cpu()
        acc = val_accuracy(model, val)
        model.to(device)
        curve.append({"step": step, "loss": round(loss.item(), 4), "val_accuracy": round(acc, 4),
                      "minutes": round((time.time() - t0) / 60, 2)})
        log(f"{name} step {step} loss {loss.item():.4f} val accuracy {acc:.4f} ({(time.time() - t0) / 60:.1f} min)")
        if acc > best:
            best, best_step = acc, step
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    model.train()
    while (progress := max(step / a.max_steps, (time.time() - t0) / (60 * a.max_minutes))) < 1:
        for g in opt.param_groups:
            g["lr"] = a.lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * progress))
        batch = (t.to(device) for t in train.batch(train.image_batch(a.batch_images, rng), rng))
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


def train(a: VQATrainConfig, splits: dict[str, VQASplit] | None = None, log: Callable[[str], None] = print,
          argv_cmd: list[str] | None = None) -> tuple[Path, dict]:
    """Train the model and the question-only baseline, score both on the test split, write the checkpoint to
    a.out (refused when it holds one, unless a.overwrite; locked while training)."""
    device = resolve_device(a.device)
    with claim_directory(a.out, CHECKPOINT_FILES, overwrite=a.overwrite):
        return _train(a, device, splits, log, argv_cmd)


def _train(a: VQATrainConfig, device: torch.device, splits: dict[str, VQASplit] | None, log: Callable[[str], None],
           argv_cmd: list[str] | None) -> tuple[Path, dict]:
    torch.set_num_threads(a.threads)
    if splits is None:
        def progress(name: str) -> Callable[[int, int], None]:
            return lambda i, total: log(f"encoding {name}: {i}/{total}") if i == total or i % 500 == 0 else None
        splits = {n: with_features(load_split(n), a.cache_dir, progress=progress(n)) for n in ("train", "test")}
    train_split, val_split = split_train_val(splits["train"])
    answers = answer_list()
    vocab = WordVocab.build(train_split.questions + answers)
    train_b, val_b = Batcher(train_split, vocab, answers, a.seed), Batcher(val_split, vocab, answers, a.seed)
    grid = int(round(math.sqrt(train_split.feats.shape[1])))
    knobs = dict(embed_size=a.embed_size, hidden_size=a.hidden_size, attention_size=a.attention_size,
                 hops=a.hops, dropout=a.dropout)
    cfg = VQAConfig(len(vocab), len(answers), train_split.feats.shape[2], grid, **knobs)
    log(f"{len(vocab)} words, {len(answers)} answers, {len(train_b)} train / {len(val_b)} val questions")
    model, model_summary = fit(cfg, train_b, val_b, a, device, log)
    qcfg = VQAConfig(len(vocab), len(answers), cfg.feature_dim, grid, **{**knobs, "hops": 0}, use_image=False)
    question_only, qo_summary = fit(qcfg, train_b, val_b, a, device, log)
    test = splits["test"]
    metrics = evaluate_split(model, question_only, Batcher(test, vocab, answers, a.seed), test)
    log(format_report(metrics))
    card = {"name": Path(a.out).name, "world": "easy-VQA",
            "data": (f"easy-VQA (PyPI easy-vqa==1.0, MIT): its own split, {len(train_split.paths)} train + "
                     f"{len(val_split.paths)} validation images (every tenth train image) / {len(test.paths)} "
                     f"test images; {len(train_b)} / {len(val_b)} / {len(test.questions)} questions"),
            "encoder": "core.caption.encoder (EfficientNet-Lite0, ImageNet, frozen): 14x14 grid of 192-d vectors",
            "model": cfg.to_dict(), "n_params": sum(p.numel() for p in model.parameters()),
            "question_only_params": sum(p.numel() for p in question_only.parameters()),
            "training": {k: getattr(a, k) for k in KNOBS}, "fit": model_summary, "fit_question_only": qo_summary,
            "test": metrics,
            "train_seconds": round(model_summary["train_seconds"] + qo_summary["train_seconds"], 1),
            "hardware": f"{describe(device)}, torch {torch.__version__}",
            "command": "python -m core.vqa.train " + " ".join(sys.argv[1:] if argv_cmd is None else argv_cmd),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return save_vqa(a.out, model, question_only, vocab, answers, card, half=a.half), metrics


def cli_parser() -> argparse.ArgumentParser:
    """The command line of `python -m core.vqa.train`: one flag per VQATrainConfig field."""
    p = argparse.ArgumentParser(prog="python -m core.vqa.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(p, VQATrainConfig, help=CLI_HELP)
    return p


def main(argv: list[str] | None = None) -> int:
    args = vars(cli_parser().parse_args(argv))
    try:
        out, _ = train(config_from_args(VQATrainConfig, args), log=lambda m: print(m, flush=True), argv_cmd=argv)
    except ValueError as e:  # a bad flag, DeviceError, OutputError, VQADataError
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
