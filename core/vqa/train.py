"""Train the stacked-attention VQA model (Yang et al. 2016) and its question-only baseline on easy-VQA or on
the photo world's generated questions.

    python -m core.vqa.train --out checkpoints/vqa-easy --seed 0 --threads 1
    python -m core.vqa.train --world photos --train-images 1000 --photo-features data/caption --out checkpoints/vqa-photos

Cached, frozen encoder grids (core.vision.encoder). easy-VQA: the package's train split minus every tenth
image (the validation images that pick the best weights), its test split scored once at the end. Photo
world: the late-stage grids the captioner caches (1280-d, projected onto their top principal components,
a frozen layer of the model), train/val/test photo seeds whose val and test objects are held-out stamp
files. Test metrics (core.vqa.evaluate) go into card.json. Adam with warm-up and cosine decay, gradient
clipping, classification cross-entropy plus the multiple-choice candidate-scoring loss.
Every flag is a field of VQATrainConfig (core.common.config_args); `--device auto|cpu|cuda|mps` picks where the models train;
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
from functools import partial
from pathlib import Path

import numpy as np
import torch

from core.common.config_args import add_config_args, config_from_args
from core.common.device import DEVICE_HELP, DEVICES, describe, resolve_device
from core.common.io import OVERWRITE_HELP, claim_directory
from core.common.words import WordVocab
from core.vision.concepts import copy_map
from core.vision.photos import PhotoWorldError
from core.vqa.batches import Batcher
from core.vqa.checkpoint import CHECKPOINT_FILES, save_vqa
from core.vqa.colours import N_COLOURS, with_photo_colours
from core.vqa.data import (
    VQASplit,
    answer_list,
    load_split,
    question_vocab,
    select_images,
    with_features,
)
from core.vqa.evaluate import evaluate_split, format_report, predict
from core.vqa.model import StackedAttentionVQA, VQAConfig, vqa_loss
from core.vqa.photo_data import (
    ENCODER_STAGE,
    PHOTO_SEED,
    attention_targets,
    photo_features,
    photo_vqa_split,
)
from core.vqa.photo_questions import photo_answers

KNOBS = ("embed_size", "hidden_size", "attention_size", "hops", "dropout", "batch_images", "lr", "mc_weight",
         "noun_evidence", "colours", "attend_objects", "max_steps", "max_minutes", "seed")
WORLDS = ("easy", "photos")


@dataclass
class VQATrainConfig:
    """The model's size and how to train it; `python -m core.vqa.train` has one flag per field."""

    out: str = "checkpoints/vqa-easy"
    world: str = "easy"
    cache_dir: str = "data/vqa"
    photo_features: str = "data/caption"
    train_images: int = 1000  # photo world
    val_images: int = 250
    test_images: int = 300
    project_dim: int = 256
    concepts: bool = False  # photo world: the ImageNet head's per-cell noun concepts beside the PCA grid
    noun_evidence: bool = False  # photo world, with concepts: the question's noun steers attention, feeds counts
    colours: bool = False  # photo world: per-cell colour-name shares of the pixels beside the grid
    attend_objects: float = 0.0  # photo world: weight of the supervised-attention loss (0: off)
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
        if self.world not in WORLDS:
            raise ValueError(f"--world must be one of {', '.join(WORLDS)}, not {self.world!r}")
        for name in ("embed_size", "hidden_size", "attention_size", "hops", "batch_images", "max_steps",
                     "eval_every", "threads", "train_images", "val_images", "test_images", "project_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} has to be at least 1")
        if not 0 <= self.dropout < 1 or self.lr <= 0 or self.max_minutes <= 0 or self.mc_weight < 0:
            raise ValueError("--dropout must be in [0, 1); --lr and --max-minutes positive; --mc-weight >= 0")
        if self.noun_evidence and not self.concepts:
            raise ValueError("--noun-evidence reads the concept channels: add --concepts")
        if self.colours and self.world != "photos":
            raise ValueError("--colours is for the photo world (easy-VQA's grid already knows its flat colours)")
        if self.attend_objects < 0 or (self.attend_objects and self.world != "photos"):
            raise ValueError("--attend-objects is a non-negative weight, for the photo world (it has the masks)")
        if self.device not in DEVICES:
            raise ValueError(f"--device must be one of {', '.join(DEVICES)}, not {self.device!r}")


CLI_HELP = {"world": "easy-VQA or the photo world's questions: " + " | ".join(WORLDS),
            "cache_dir": "where easy-VQA grids and photo questions are cached",
            "photo_features": "photo world: the captioner's feature cache (late-stage grids, shards of 500 photos)",
            "train_images": "photo world: training photos", "val_images": "photo world: validation photos",
            "test_images": "photo world: test photos", "project_dim": "photo world: principal components kept",
            "concepts": "photo world: add the ImageNet head's per-cell noun concepts (core.vision.concepts)",
            "noun_evidence": "photo world: the concept map of the noun a question names steers each hop's "
                             "attention and feeds a count pathway (core.vqa.evidence)",
            "colours": "photo world: add each cell's share of pixels per basic colour name (core.vqa.colours)",
            "attend_objects": "photo world: weight of the supervised-attention loss, -log(attention mass on the "
                              "question's objects) at every hop (core.vision.grounded; 0: off)",
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
def val_accuracy(model: StackedAttentionVQA, batcher: Batcher) -> tuple[float, float]:
    """Answer accuracy and four-candidate multiple-choice accuracy on a validation batcher."""
    pred, pick, _ = predict(model, batcher)
    model.train()
    four = batcher.four_choices()
    mc = (pick == batcher.target.numpy())[four]
    return float((pred == batcher.answers.numpy()).mean()), float(mc.mean()) if len(mc) else float("nan")


def fit(cfg: VQAConfig, train: Batcher, val: Batcher, a: VQATrainConfig, device: torch.device,
        log: Callable[[str], None], frozen: dict[str, torch.nn.Module] | None = None,
        vocab: WordVocab | None = None) -> tuple[StackedAttentionVQA, dict]:
    """Train one model on device within the step/time budget; returns it (on the CPU) with the best validation
    weights, and a summary. `frozen` gives the frozen layers that read raw grids (reduce, concepts) their weights;
    a model with noun evidence takes its word-to-concept map from `vocab`."""
    set_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    model = StackedAttentionVQA(cfg)
    for name, layer in (frozen or {}).items() if cfg.use_image else ():
        getattr(model, name).load_state_dict(layer.state_dict())
    if cfg.use_image and cfg.noun_evidence:
        model.copy_map.copy_(copy_map(vocab.itos))
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    name = "model" if cfg.use_image else "question-only"
    t0, step, best, best_step, best_state, curve = time.time(), 0, -1.0, 0, None, []

    def checkpoint_if_best() -> None:
        nonlocal best, best_step, best_state
        model.cpu()
        acc, mc = val_accuracy(model, val)
        model.to(device)
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
        idx = train.image_batch(a.batch_images, rng)
        batch = (t.to(device) for t in train.batch(idx, rng))
        looks = None if train.attention_targets is None else train.attention_targets[idx].to(device)   # (B, L)
        loss, _ = vqa_loss(model, *batch, mc_weight=a.mc_weight, attention_targets=looks,
                           attention_weight=a.attend_objects)
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


def photo_splits(a: VQATrainConfig, log: Callable[[str], None]
                 ) -> tuple[dict[str, VQASplit], dict[str, torch.nn.Module]]:
    """Photo-world train/val/test splits over grids read by a PCA fitted on the training grids (and the ImageNet
    head's concepts), and those frozen layers by the model's attribute names."""
    from core.vision.concepts import NOUN_CLASSES, ConceptLayer, read_annotations
    from core.vision.encoder import Encoder
    from core.vision.readout import imagenet_layer, pca_layer
    from core.vision.worlds import photo_split
    encoder = Encoder(ENCODER_STAGE)
    sizes = {"train": a.train_images, "val": a.val_images, "test": a.test_images}
    raw = {s: photo_split(s, n, PHOTO_SEED, a.photo_features, encoder,
                          lambda i, total, s=s: log(f"encoding {s} photos: {i}/{total}") if i % 500 == 0 else None)
           for s, n in sizes.items()}
    frozen = {"reduce": pca_layer(raw["train"].feats, a.project_dim, seed=a.seed)}
    if a.concepts:
        frozen["concepts"] = ConceptLayer(imagenet_layer())
    n_concepts = len(NOUN_CLASSES) if a.concepts else 0
    log(f"projecting the {encoder.feature_dim}-d grids onto their top {a.project_dim} principal components"
        + (f", plus {n_concepts} concepts" if a.concepts else ""))
    read = partial(read_annotations, project=frozen["reduce"], concepts=frozen.get("concepts"))
    grids = {s: photo_features(raw[s], read, a.project_dim + n_concepts) for s in sizes}
    if a.colours:
        grids = {s: with_photo_colours(g, s, PHOTO_SEED, a.photo_features) for s, g in grids.items()}
    return {s: photo_vqa_split(s, n, PHOTO_SEED, grids[s], a.cache_dir) for s, n in sizes.items()}, frozen


def easy_splits(a: VQATrainConfig, log: Callable[[str], None]) -> dict[str, VQASplit]:
    """easy-VQA's train and test splits with their cached grids."""
    def progress(name: str) -> Callable[[int, int], None]:
        return lambda i, total: log(f"encoding {name}: {i}/{total}") if i == total or i % 500 == 0 else None
    return {n: with_features(load_split(n), a.cache_dir, progress=progress(n)) for n in ("train", "test")}


def data_note(a: VQATrainConfig, train_b: Batcher, val_b: Batcher, test: VQASplit) -> dict[str, str]:
    """The card's "data" and "encoder" lines."""
    counts = f"{len(train_b)} / {len(val_b)} / {len(test.questions)} questions"
    if a.world == "photos":
        from core.vision.readout import CONCEPT_NOTE, ENCODER_NOTES
        return {"data": (f"photo world (core.vision.photos, Tux Paint photo cut-outs on real backgrounds; val/test "
                         f"objects are held-out stamp files), questions from core.vqa.photo_questions: "
                         f"{a.train_images} train / {a.val_images} val / {a.test_images} test photos "
                         f"(seed {PHOTO_SEED}); {counts}"),
                "encoder": (f"{ENCODER_NOTES[ENCODER_STAGE]}, projected inside the model onto their top "
                            f"{a.project_dim} principal components (frozen PCA of 300 training photos)"
                            + (CONCEPT_NOTE if a.concepts else "")
                            + ("; plus, per cell, the share of its pixels under each of the 11 basic colour names "
                               "(core.vqa.colours)" if a.colours else ""))}
    return {"data": (f"easy-VQA (PyPI easy-vqa==1.0, MIT): its own split, {len(train_b.questions_of)} train + "
                     f"{len(val_b.questions_of)} validation images (every tenth train image) / {len(test.paths)} "
                     f"test images; {counts}"),
            "encoder": "core.vision.encoder (EfficientNet-Lite0, ImageNet, frozen): 14x14 grid of 192-d vectors"}


def train(a: VQATrainConfig, splits: dict[str, VQASplit] | None = None, log: Callable[[str], None] = print,
          argv_cmd: list[str] | None = None) -> tuple[Path, dict]:
    """Train the model and the question-only baseline, score both on the test split, write the checkpoint to
    a.out (refused when it holds one, unless a.overwrite; locked while training). `splits` holds train and
    test (and val; without one, every tenth train image validates)."""
    device = resolve_device(a.device)
    with claim_directory(a.out, CHECKPOINT_FILES, overwrite=a.overwrite, kind="vqa"):
        return _train(a, device, splits, log, argv_cmd)


def _train(a: VQATrainConfig, device: torch.device, splits: dict[str, VQASplit] | None, log: Callable[[str], None],
           argv_cmd: list[str] | None) -> tuple[Path, dict]:
    torch.set_num_threads(a.threads)
    frozen = None
    if splits is None:
        splits, frozen = photo_splits(a, log) if a.world == "photos" else (easy_splits(a, log), None)
    train_split, val_split = ((splits["train"], splits["val"]) if "val" in splits
                              else split_train_val(splits["train"]))
    answers = photo_answers() if a.world == "photos" else answer_list()
    vocab = question_vocab(train_split.questions + answers)
    train_b, val_b = Batcher(train_split, vocab, answers, a.seed), Batcher(val_split, vocab, answers, a.seed)
    grid = int(round(math.sqrt(train_split.feats.shape[1])))
    if a.attend_objects:
        from core.vision.worlds import photo_masks
        train_b.attention_targets = attention_targets(
            train_split, *photo_masks("train", len(train_split.paths), PHOTO_SEED, a.photo_features, grid))
    knobs = dict(embed_size=a.embed_size, hidden_size=a.hidden_size, attention_size=a.attention_size,
                 hops=a.hops, dropout=a.dropout)
    grids = {} if frozen is None else dict(encoder=ENCODER_STAGE, input_dim=frozen["reduce"].in_features,
                                           concepts=frozen["concepts"].to_nouns.shape[1] if "concepts" in frozen else 0)
    colours = N_COLOURS if a.colours else 0
    width = train_split.feats.shape[2] - grids.get("concepts", 0) - colours   # the PCA part of each read cell
    cfg = VQAConfig(len(vocab), len(answers), width, grid, **knobs, **grids, noun_evidence=a.noun_evidence,
                    colours=colours)
    log(f"{len(vocab)} words, {len(answers)} answers, {len(train_b)} train / {len(val_b)} val questions")
    model, model_summary = fit(cfg, train_b, val_b, a, device, log, frozen, vocab)
    qcfg = VQAConfig(len(vocab), len(answers), cfg.feature_dim, grid, **{**knobs, "hops": 0}, use_image=False,
                     **grids, colours=colours)
    question_only, qo_summary = fit(qcfg, train_b, val_b, a, device, log)
    test = splits["test"]
    metrics = evaluate_split(model, question_only, Batcher(test, vocab, answers, a.seed), test)
    log(format_report(metrics))
    card = {"name": Path(a.out).name, "world": "photos" if a.world == "photos" else "easy-VQA",
            **data_note(a, train_b, val_b, test),
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
    except (ValueError, PhotoWorldError) as e:  # a bad flag, DeviceError, OutputError, VQADataError, missing photos
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
