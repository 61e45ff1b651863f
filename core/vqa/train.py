"""Train the stacked-attention VQA model (Yang et al. 2016) and its question-only baseline on easy-VQA or on
the photo world's generated questions.

Cached, frozen encoder grids (core.vision.encoder). easy-VQA: the package's train split minus every tenth
image (the validation images that pick the best weights), its test split scored once at the end. Photo
world: the late-stage grids the captioner caches (1280-d, projected onto their top principal components,
a frozen layer of the model), train/val/test photo seeds whose val and test objects are held-out stamp
files. Test metrics (core.vqa.evaluate) go into card.json. Classification cross-entropy plus the
multiple-choice candidate-scoring loss; each model's run is core.common.loop's (Adam with warm-up and cosine
decay, gradient clipping, a wall-clock budget that counts the validations, the weights of the best validation
accuracy kept). An out folder that holds a checkpoint is refused unless `overwrite`, and it is locked while
training. The command line is core.cli.vqa_train.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch

from core.common.config_args import check_ranges, command_line, within
from core.common.device import DEVICES, resolve_device
from core.common.io import claim_directory
from core.common.loop import Loop, LoopConfig, Task, card_header
from core.common.words import WordVocab
from core.vision.concepts import NOUN_CLASSES, ConceptLayer, copy_map, read_annotations
from core.vision.encoder import Encoder
from core.vision.readout import CONCEPT_NOTE, ENCODER_NOTES, imagenet_layer, pca_layer
from core.vision.worlds import photo_masks, photo_split
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

KNOBS = ("embed_size", "hidden_size", "attention_size", "hops", "dropout", "batch_images", "lr", "grad_clip",
         "warmup_steps", "mc_weight",
         "noun_evidence", "colours", "attend_objects", "max_steps", "max_minutes", "seed")
WORLDS = ("easy", "photos")


@dataclass
class VQATrainConfig:
    """The model's size and how to train it; `python -m core.cli.vqa_train` has one flag per field."""

    out: str = "checkpoints/vqa-easy"
    world: str = "easy"
    cache_dir: str = "data/vqa"
    photo_features: str = "data/caption"
    train_images: int = field(default=1000, metadata=within(1, 100_000))  # photo world
    val_images: int = field(default=250, metadata=within(1, 100_000))
    test_images: int = field(default=300, metadata=within(1, 100_000))
    project_dim: int = field(default=256, metadata=within(1, 8192))
    concepts: bool = False  # photo world: the ImageNet head's per-cell noun concepts beside the PCA grid
    noun_evidence: bool = False  # photo world, with concepts: the question's noun steers attention, feeds counts
    colours: bool = False  # photo world: per-cell colour-name shares of the pixels beside the grid
    attend_objects: float = field(default=0.0, metadata=within(0, 100))  # photo world: weight of the supervised-attention loss (0: off)
    embed_size: int = field(default=64, metadata=within(1, 8192))
    hidden_size: int = field(default=128, metadata=within(1, 8192))
    attention_size: int = field(default=64, metadata=within(1, 8192))
    hops: int = field(default=2, metadata=within(1, 16))
    dropout: float = field(default=0.1, metadata=within(0, 0.95))
    batch_images: int = field(default=12, metadata=within(1, 4096))  # images per batch, with all their questions
    lr: float = field(default=2e-3, metadata=within(1e-08, 10))
    grad_clip: float = field(default=5.0, metadata=within(1e-06, 1000000.0))
    warmup_steps: int = field(default=100, metadata=within(0, 10_000_000))
    mc_weight: float = field(default=0.5, metadata=within(0, 100))
    max_steps: int = field(default=6000, metadata=within(0, 100_000_000))
    max_minutes: float = field(default=25.0, metadata=within(0, 100_000))  # per model
    eval_every: int = field(default=500, metadata=within(1, 10_000_000))
    seed: int = field(default=0, metadata=within(0, 2**63 - 1))
    threads: int = field(default=1, metadata=within(1, 256))
    device: str = "auto"
    half: bool = False
    overwrite: bool = False

    def __post_init__(self):
        check_ranges(self)
        if self.world not in WORLDS:
            raise ValueError(f"--world must be one of {', '.join(WORLDS)}, not {self.world!r}")
        if self.max_steps < 1 or self.max_minutes <= 0:
            raise ValueError("--max-steps and --max-minutes have to be positive")
        if self.noun_evidence and not self.concepts:
            raise ValueError("--noun-evidence reads the concept channels: add --concepts")
        if self.colours and self.world != "photos":
            raise ValueError("--colours is for the photo world (easy-VQA's grid already knows its flat colours)")
        if self.attend_objects < 0 or (self.attend_objects and self.world != "photos"):
            raise ValueError("--attend-objects is a non-negative weight, for the photo world (it has the masks)")
        if self.device not in DEVICES:
            raise ValueError(f"--device must be one of {', '.join(DEVICES)}, not {self.device!r}")


def set_seed(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators."""
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


class Answering(Task):
    """One VQA model's side of the loop: batches of images with all their questions, vqa_loss, val accuracy."""

    def __init__(self, model: StackedAttentionVQA, train: Batcher, val: Batcher, a: VQATrainConfig, loop: Loop,
                 log: Callable[[str], None]):
        self.model, self.train, self.val, self.a, self.loop, self.log = model, train, val, a, loop, log
        self.device = loop.device
        self.rng = np.random.default_rng(a.seed)
        self.name = "model" if model.cfg.use_image else "question-only"
        self.accuracy: dict[int, float] = {}  # validation accuracy by step
        self.curve: list[dict] = []

    def loss(self) -> torch.Tensor:
        idx = self.train.image_batch(self.a.batch_images, self.rng)
        batch = (t.to(self.device) for t in self.train.batch(idx, self.rng))
        targets = self.train.attention_targets
        looks = None if targets is None else targets[idx].to(self.device)  # (B, L)
        loss, _ = vqa_loss(self.model, *batch, mc_weight=self.a.mc_weight, attention_targets=looks,
                           attention_weight=self.a.attend_objects)
        return loss

    def validate(self) -> float:
        """1 - answer accuracy on the validation questions (a curve point and a log line)."""
        self.model.cpu()
        acc, mc = val_accuracy(self.model, self.val)
        self.model.to(self.device)
        step, minutes, loss = self.loop.step, self.loop.elapsed / 60, self.loop.train_loss
        self.accuracy[step] = acc
        self.curve.append({"step": step, "loss": round(loss, 4), "val_accuracy": round(acc, 4),
                           "val_four_choices": round(mc, 4), "minutes": round(minutes, 2)})
        self.log(f"{self.name} step {step} loss {loss:.4f} val accuracy {acc:.4f}, four-candidate multiple choice "
                 f"{mc:.4f} ({minutes:.1f} min)")
        return 1.0 - acc

    def kept(self) -> str:
        return "no checkpoint was written (the model and its baseline are saved together at the end)"


def fit(cfg: VQAConfig, train: Batcher, val: Batcher, a: VQATrainConfig, device: torch.device,
        log: Callable[[str], None], frozen: dict[str, torch.nn.Module] | None = None,
        vocab: WordVocab | None = None) -> tuple[StackedAttentionVQA, dict]:
    """Train one model on device within the step/time budget; returns it (on the CPU) with the best validation
    weights, and a summary. `frozen` gives the frozen layers that read raw grids (reduce, concepts) their weights;
    a model with noun evidence takes its word-to-concept map from `vocab`."""
    set_seed(a.seed)
    model = StackedAttentionVQA(cfg)
    for name, layer in (frozen or {}).items() if cfg.use_image else ():
        getattr(model, name).load_state_dict(layer.state_dict())
    if cfg.use_image and cfg.noun_evidence:
        model.copy_map.copy_(copy_map(vocab.itos))
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loop = Loop(LoopConfig(a.lr, a.max_steps, a.max_minutes, a.eval_every, a.grad_clip, a.warmup_steps,
                           count_validation=True), model, opt, device)
    task = Answering(model, train, val, a, loop, log)
    model.train()
    loop.run(task)  # ends with the best validation's weights
    summary = {"steps": loop.trained_steps, "best_step": loop.best.step,
               "best_val_accuracy": task.accuracy[loop.best.step],
               "train_seconds": round(loop.trained_seconds, 1), "curve": task.curve}
    return model.cpu().eval(), summary


def split_train_val(train: VQASplit) -> tuple[VQASplit, VQASplit]:
    """The package's train split without / with every tenth image (validation for picking the best step)."""
    rows = np.arange(len(train.paths))
    return select_images(train, rows[rows % 10 != 0], "train"), select_images(train, rows[rows % 10 == 0], "val")


def photo_splits(a: VQATrainConfig, log: Callable[[str], None]
                 ) -> tuple[dict[str, VQASplit], dict[str, torch.nn.Module]]:
    """Photo-world train/val/test splits over grids read by a PCA fitted on the training grids (and the ImageNet
    head's concepts), and those frozen layers by the model's attribute names."""
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
          command: str = "") -> tuple[Path, dict]:
    """Train the model and the question-only baseline, score both on the test split, write the checkpoint to
    a.out (refused when it holds one, unless a.overwrite; locked while training). `splits` holds train and
    test (and val; without one, every tenth train image validates). The card's command is `command`, else one
    built from a."""
    device = resolve_device(a.device)
    with claim_directory(a.out, CHECKPOINT_FILES, overwrite=a.overwrite, kind="vqa"):
        return _train(a, device, splits, log, command or command_line("python -m core.cli.vqa_train", a))


def _train(a: VQATrainConfig, device: torch.device, splits: dict[str, VQASplit] | None, log: Callable[[str], None],
           command: str) -> tuple[Path, dict]:
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
    header = card_header(Path(a.out).name, device, command)
    card = {"name": header["name"], "world": "photos" if a.world == "photos" else "easy-VQA",
            **data_note(a, train_b, val_b, test),
            "model": cfg.to_dict(), "n_params": sum(p.numel() for p in model.parameters()),
            "question_only_params": sum(p.numel() for p in question_only.parameters()),
            "training": {k: getattr(a, k) for k in KNOBS}, "fit": model_summary, "fit_question_only": qo_summary,
            "test": metrics,
            "train_seconds": round(model_summary["train_seconds"] + qo_summary["train_seconds"], 1),
            "hardware": header["hardware"], "command": command, "created": header["created"]}
    return save_vqa(a.out, model, question_only, vocab, answers, card, half=a.half), metrics
