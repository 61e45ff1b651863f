"""Train the Show, Attend and Tell decoder (Xu et al. 2015) on cached, frozen encoder features.

Scene world (default), the photo world of real object cut-outs, or a real dataset in Karpathy-split JSON
(Flickr8k / Flickr30k / COCO):

Teacher forcing, cross-entropy plus the doubly stochastic attention penalty, dropout; the run is
core.common.loop's (Adam with warmup and cosine decay, gradient clipping, a wall-clock budget that counts the
validations, the best validation-loss weights kept and saved at each new best), then scored on the test split
(`core.caption.evaluate`) and written with the metrics into card.json. The features are encoded on the CPU; an
out folder that holds a checkpoint is refused unless `overwrite`, and it is locked while training. The command
line is core.cli.caption_train.

The penalty's weight defaults to lambda = 0.1, not the paper's 1. The penalty asks every grid location to
receive a total attention of 1 over the caption. Scenes are mostly background, and with lambda = 1 the
decoder learns to spend the step of a shape word (whose object it already read at the colour word) on
background it has not covered yet: on the test split the pointing game for shape words fell from 48% to 36%
as training went on, against 72% with lambda = 0.1.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.caption.data import karpathy_split, read_karpathy_json
from core.caption.evaluate import WORLDS, evaluate_split
from core.caption.model import (
    CHECKPOINT_FILES,
    AttentionDecoder,
    DecoderConfig,
    caption_loss,
    save_captioner,
)
from core.common.config_args import check_ranges, command_line, within
from core.common.device import DEVICES, resolve_device
from core.common.io import claim_directory
from core.common.loop import Loop, LoopConfig, Task, card_header
from core.common.words import PAD, WordVocab
from core.vision.concepts import NOUN_CLASSES, ConceptLayer, copy_map
from core.vision.encoder import STAGES, Encoder
from core.vision.grounded import NounAttentionTargets, attention_mass_loss
from core.vision.imagenet import top1_classes_seen
from core.vision.readout import (
    CONCEPT_NOTE,
    ENCODER_NOTES,
    imagenet_layer,
    pca_layer,
    project_split,
)
from core.vision.worlds import CaptionSplit, photo_masks, photo_split, scene_split

TRAINING_KNOBS = ("lr", "alpha_c", "grad_clip", "warmup_steps", "max_steps", "max_minutes", "seed")
WORLD_NOTES = {"scenes": "generated scene world (core.vision.scenes)",
               "photos": "photo world (core.vision.photos): Tux Paint photo cut-outs on real backgrounds, "
                         "val/test objects are held-out stamp files"}


@dataclass
class CaptionTrainConfig:
    """What to train on, the decoder's size and how to train it; `python -m core.cli.caption_train` has one flag each."""

    out: str = "checkpoints/captioner-scenes"
    world: str = "scenes"
    encoder: str = "mid"
    karpathy_json: str | None = None
    images: str | None = None
    train_scenes: int = field(default=5000, metadata=within(1, 100_000))
    val_scenes: int = field(default=250, metadata=within(1, 100_000))
    test_scenes: int = field(default=500, metadata=within(1, 100_000))
    cache_dir: str = "data/caption"
    min_count: int | None = field(default=None, metadata=within(1, 1_000_000))  # None: 1 for the generated worlds, 5 for a real dataset
    embed_size: int = field(default=64, metadata=within(1, 8192))
    hidden_size: int = field(default=128, metadata=within(1, 8192))
    attention_size: int = field(default=64, metadata=within(1, 8192))
    dropout: float = field(default=0.2, metadata=within(0, 0.95))
    project_dim: int = field(default=0, metadata=within(0, 8192))
    project_imagenet: bool = False
    concepts: bool = False
    copy: bool = False
    feature_drop: float = field(default=0.0, metadata=within(0, 0.95))
    attend_nouns: float = field(default=0.0, metadata=within(0, 100))
    alpha_c: float = field(default=0.1, metadata=within(0, 100))
    batch_size: int = field(default=32, metadata=within(1, 65_536))
    lr: float = field(default=3e-3, metadata=within(1e-08, 10))
    grad_clip: float = field(default=5.0, metadata=within(1e-06, 1000000.0))
    warmup_steps: int = field(default=200, metadata=within(0, 10_000_000))
    max_steps: int = field(default=20000, metadata=within(0, 100_000_000))
    max_minutes: float = field(default=40.0, metadata=within(0, 100_000))
    eval_every: int = field(default=500, metadata=within(1, 10_000_000))
    beam: int = field(default=3, metadata=within(1, 10))
    test: bool = True  # score the test split at the end (--no-test skips it)
    seed: int = field(default=0, metadata=within(0, 2**63 - 1))
    threads: int = field(default=1, metadata=within(1, 256))
    device: str = "auto"
    overwrite: bool = False

    def __post_init__(self):
        check_ranges(self)
        if (self.karpathy_json is None) != (self.images is None):
            raise ValueError("--karpathy-json and --images go together")
        for name, allowed in (("world", WORLDS), ("encoder", tuple(STAGES)), ("device", DEVICES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"--{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.max_steps < 1:
            raise ValueError("--max-steps has to be at least 1")
        if self.project_imagenet and (self.project_dim or self.encoder != "late"):
            raise ValueError("--project-imagenet needs --encoder late and no --project-dim")
        if self.concepts and not (self.project_dim and self.encoder == "late"):
            raise ValueError("--concepts needs --encoder late and a --project-dim")
        if self.copy and not self.concepts:
            raise ValueError("--copy needs --concepts")
        if self.attend_nouns and (self.world != "photos" or self.karpathy_json):
            raise ValueError("--attend-nouns needs --world photos (object masks)")
        if self.max_minutes <= 0:
            raise ValueError("--max-minutes has to be positive")


def pairs(split: CaptionSplit, vocab: WordVocab, max_words: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """All (image index, padded token ids) pairs of a split: (P,) and (P, T)."""
    img, seqs = [], []
    for i, caps in enumerate(split.captions):
        for c in caps:
            img.append(i)
            seqs.append(vocab.encode(c[:max_words]))
    T = max(map(len, seqs))
    tokens = torch.full((len(seqs), T), vocab.stoi[PAD], dtype=torch.long)
    for k, s in enumerate(seqs):
        tokens[k, : len(s)] = torch.tensor(s)
    return torch.tensor(img), tokens


def batch(split: CaptionSplit, img: torch.Tensor, tokens: torch.Tensor, idx: torch.Tensor,
          device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Features (B, L, D) and tokens (B, T') trimmed to the longest caption in the batch, on device."""
    tok = tokens[idx]
    T = int((tok != 0).sum(1).max())
    feats = torch.from_numpy(np.asarray(split.feats[img[idx].numpy()], dtype=np.float32))   # (B, L, D)
    return feats.to(device), tok[:, :T].to(device)


@torch.no_grad()
def val_loss(model: AttentionDecoder, split: CaptionSplit, img: torch.Tensor, tokens: torch.Tensor,
             batch_size: int = 256) -> float:
    """Mean per-word cross-entropy (nats) over a split."""
    model.eval()
    total, n, device = 0.0, 0, next(model.parameters()).device
    for i in range(0, len(img), batch_size):
        feats, tok = batch(split, img, tokens, torch.arange(i, min(i + batch_size, len(img))), device)
        logits, alphas = model(feats, tok)
        _, ce = caption_loss(logits, alphas, tok[:, 1:])
        w = int((tok[:, 1:] != 0).sum())
        total, n = total + float(ce) * w, n + w
    model.train()
    return total / max(n, 1)


def load_splits(a: CaptionTrainConfig, log: Callable[[str], None]) -> dict[str, CaptionSplit]:
    """Encode (or read cached) features for train/val/test of the chosen data source."""
    enc = Encoder(a.encoder)
    progress = lambda name: (lambda i, n: log(f"encoding {name}: {i}/{n}") if i == n or i % 1024 == 0 else None)  # noqa: E731
    if a.karpathy_json:
        entries = read_karpathy_json(a.karpathy_json)
        stem = Path(a.karpathy_json).stem
        return {s: karpathy_split(e, a.images, f"{stem}-{s}", a.cache_dir, enc, progress(s))
                for s, e in entries.items() if e}
    sizes = {"train": a.train_scenes, "val": a.val_scenes, "test": a.test_scenes}
    make_split = photo_split if a.world == "photos" else scene_split
    return {s: make_split(s, n, a.seed, a.cache_dir, enc, progress(s)) for s, n in sizes.items()
            if s != "test" or a.test}


def train(a: CaptionTrainConfig, log: Callable[[str], None] = print, command: str = "") -> Path:
    """Train as configured and write the checkpoint to a.out (refused when it holds one, unless a.overwrite;
    locked while training); returns its directory. The card's command is `command`, else one built from a."""
    device = resolve_device(a.device)
    with claim_directory(a.out, CHECKPOINT_FILES, overwrite=a.overwrite, kind="captioner"):
        return _train(a, device, log, command or command_line("python -m core.cli.caption_train", a))


class Captioning(Task):
    """The captioner's side of the loop: random caption batches, the attention-regularised loss, the val loss."""

    def __init__(self, a: CaptionTrainConfig, model: AttentionDecoder, splits: dict[str, CaptionSplit],
                 vocab: WordVocab, loop: Loop, log: Callable[[str], None], save: Callable[[], Path]):
        self.a, self.model, self.loop, self.log, self.save = a, model, loop, log, save
        self.device = loop.device
        self.train_split = splits["train"]
        self.train_img, self.train_tok = pairs(self.train_split, vocab)
        self.targets = None  # where each noun word should look: the photo world's object masks
        if a.attend_nouns:
            masks, nouns = photo_masks("train", a.train_scenes, a.seed, a.cache_dir, model.cfg.grid)
            self.targets = NounAttentionTargets(masks, nouns, self.train_img, self.train_tok, vocab)
        self.val_split = splits.get("val") or splits["train"]
        self.val_img, self.val_tok = pairs(self.val_split, vocab)
        self.gen = torch.Generator().manual_seed(a.seed)
        self.curve: list[dict] = []
        self.saved = False

    def loss(self) -> torch.Tensor:
        a = self.a
        idx = torch.randint(len(self.train_img), (a.batch_size,), generator=self.gen)  # (B,)
        feats, tok = batch(self.train_split, self.train_img, self.train_tok, idx, self.device)
        logits, alphas = self.model(feats, tok)  # (B, T, V), (B, T, L)
        loss, self.ce = caption_loss(logits, alphas, tok[:, 1:], alpha_c=a.alpha_c)
        if self.targets is not None:
            weights = self.targets.weights(idx, alphas.shape[1]).to(self.device)  # (B, T, L)
            loss = loss + a.attend_nouns * attention_mass_loss(alphas, weights)
        return loss

    def validate(self) -> float:
        """Per-word cross-entropy on the val split (a curve point and a log line)."""
        vl = val_loss(self.model, self.val_split, self.val_img, self.val_tok)
        step, minutes = self.loop.step, self.loop.elapsed / 60
        self.curve.append({"step": step, "train_ce": self.ce.item(), "val_ce": vl, "minutes": minutes})
        self.log(f"step {step} train ce {self.ce.item():.4f} val ce {vl:.4f} ({minutes:.1f} min)")
        return vl

    def after_step(self, val: float | None) -> None:
        if val is not None and self.loop.best.step == self.loop.step:  # a usable checkpoint at every new best
            self.save()
            self.saved = True

    def kept(self) -> str:
        return (f"the checkpoint of the best validation so far is kept in {self.a.out}" if self.saved else
                "no checkpoint was written yet")


def _train(a: CaptionTrainConfig, device: torch.device, log: Callable[[str], None], command: str) -> Path:
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    splits = load_splits(a, log)
    min_count = a.min_count if a.min_count is not None else (5 if a.karpathy_json else 1)
    vocab = WordVocab.build([c for caps in splits["train"].captions for c in caps], min_count)
    raw_train = splits["train"].feats
    raw_dim = raw_train.shape[2]
    projection = (imagenet_layer() if a.project_imagenet else
                  pca_layer(splits["train"].feats, a.project_dim, seed=a.seed) if a.project_dim else None)
    cfg = DecoderConfig(len(vocab), projection.out_features if projection else raw_dim,
                        int(round(math.sqrt(splits["train"].feats.shape[1]))),
                        a.embed_size, a.hidden_size, a.attention_size, a.dropout, a.encoder,
                        raw_dim if projection else 0, len(NOUN_CLASSES) if a.concepts else 0, a.feature_drop,
                        a.copy)
    model = AttentionDecoder(cfg)
    if a.concepts:
        model.concepts = ConceptLayer(imagenet_layer())
    if a.copy:
        model.copy_map.copy_(copy_map(vocab.itos))
    if projection is not None:
        model.project.load_state_dict(projection.state_dict())
        log(f"projecting the {raw_dim}-d annotations to {cfg.feature_dim} dimensions"
            + (f", plus {cfg.concepts} concepts" if cfg.concepts else ""))
        splits = {k: project_split(v, model.read, cfg.feature_dim + cfg.concepts) for k, v in splits.items()}
    model.to(device)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=a.lr)
    loop = Loop(LoopConfig(a.lr, a.max_steps, a.max_minutes, a.eval_every, a.grad_clip, a.warmup_steps,
                           count_validation=True), model, opt, device)

    def card(steps: int, seconds: float) -> dict:
        header = card_header(Path(a.out).name, device, command)
        return {"name": header["name"], "world": None if a.karpathy_json else a.world,
                "data": (f"Karpathy-split JSON {a.karpathy_json}" if a.karpathy_json else
                         f"{WORLD_NOTES[a.world]}, seed {a.seed}: {a.train_scenes} train / "
                         f"{a.val_scenes} val / {a.test_scenes} test images, 5 captions each"),
                "encoder": ENCODER_NOTES[a.encoder] + (CONCEPT_NOTE if a.concepts else ""),
                "decoder": asdict(cfg), "n_params": sum(p.numel() for p in model.parameters()), "steps": steps,
                "training": {k: getattr(a, k) for k in TRAINING_KNOBS}, "batch_size": a.batch_size,
                "best_step": loop.best.step, "best_val_ce": loop.best.score, "train_seconds": round(seconds, 1),
                "hardware": header["hardware"], "command": command, "created": header["created"],
                "curve": task.curve}

    task = Captioning(a, model, splits, vocab, loop, log,
                      lambda: save_captioner(a.out, model, vocab, card(loop.step, loop.elapsed)))
    log(f"vocab {len(vocab)} words, {len(task.train_img)} training captions, "
        f"{sum(p.numel() for p in model.parameters())} parameters")
    model.train()
    loop.run(task)  # ends with the best validation's weights
    final = card(loop.trained_steps, loop.trained_seconds)
    if a.encoder == "late":                                   # for the page's "unlike the training world" caveat
        final["imagenet_top1_seen"] = top1_classes_seen(raw_train)
    model.cpu().eval()                                        # the test split is decoded on the CPU
    if a.test and "test" in splits:
        log("evaluating on the test split ...")
        final["test"] = evaluate_split(model, vocab, splits["test"], a.beam,
                                       world=None if a.karpathy_json else a.world)
        log(json.dumps({k: v for k, v in final["test"].items() if k != "examples"}, indent=1))
    return save_captioner(a.out, model, vocab, final)
