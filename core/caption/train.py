"""Train the Show, Attend and Tell decoder (Xu et al. 2015) on cached, frozen encoder features.

Scene world (default), the photo world of real object cut-outs, or a real dataset in Karpathy-split JSON
(Flickr8k / Flickr30k / COCO):

    python -m core.caption.train --out checkpoints/captioner-scenes --max-minutes 40
    python -m core.caption.train --world photos --encoder late --out checkpoints/captioner-photos
    python -m core.caption.train --karpathy-json dataset_flickr8k.json --images Flicker8k_Dataset --out checkpoints/captioner-flickr8k

Teacher forcing, cross-entropy plus the doubly stochastic attention penalty, dropout, Adam with cosine
decay, gradient clipping; the best validation-loss weights are kept, then scored on the test split
(`core.caption.evaluate`) and written with the metrics into card.json.
Every flag is a field of CaptionTrainConfig (core.common.config_args). `--device auto|cpu|cuda|mps` picks where the decoder
trains (the features are encoded on the CPU); an --out that holds a checkpoint is refused unless --overwrite,
and it is locked while training.

The penalty's weight defaults to lambda = 0.1, not the paper's 1. The penalty asks every grid location to
receive a total attention of 1 over the caption. Scenes are mostly background, and with lambda = 1 the
decoder learns to spend the step of a shape word (whose object it already read at the colour word) on
background it has not covered yet: on the test split the pointing game for shape words fell from 48% to 36%
as training went on, against 72% with lambda = 0.1.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from core.caption.evaluate import WORLDS
from core.caption.model import (
    CHECKPOINT_FILES,
    AttentionDecoder,
    DecoderConfig,
    caption_loss,
    save_captioner,
)
from core.common.config_args import add_config_args, config_from_args
from core.common.device import DEVICE_HELP, DEVICES, describe, resolve_device
from core.common.io import OVERWRITE_HELP, claim_directory
from core.common.words import PAD, WordVocab
from core.vision.concepts import NOUN_CLASSES, ConceptLayer, copy_map
from core.vision.encoder import STAGES
from core.vision.grounded import NounAttentionTargets, attention_mass_loss
from core.vision.photos import PhotoWorldError
from core.vision.readout import (
    CONCEPT_NOTE,
    ENCODER_NOTES,
    imagenet_layer,
    pca_layer,
    project_split,
)
from core.vision.worlds import CaptionSplit, photo_masks

TRAINING_KNOBS = ("lr", "alpha_c", "grad_clip", "max_steps", "max_minutes", "seed")
WORLD_NOTES = {"scenes": "generated scene world (core.vision.scenes)",
               "photos": "photo world (core.vision.photos): Tux Paint photo cut-outs on real backgrounds, "
                         "val/test objects are held-out stamp files"}


@dataclass
class CaptionTrainConfig:
    """What to train on, the decoder's size and how to train it; `python -m core.caption.train` has one flag each."""

    out: str = "checkpoints/captioner-scenes"
    world: str = "scenes"
    encoder: str = "mid"
    karpathy_json: str | None = None
    images: str | None = None
    train_scenes: int = 5000
    val_scenes: int = 250
    test_scenes: int = 500
    cache_dir: str = "data/caption"
    min_count: int | None = None  # None: 1 for the generated worlds, 5 for a real dataset
    embed_size: int = 64
    hidden_size: int = 128
    attention_size: int = 64
    dropout: float = 0.2
    project_dim: int = 0
    project_imagenet: bool = False
    concepts: bool = False
    copy: bool = False
    feature_drop: float = 0.0
    attend_nouns: float = 0.0
    alpha_c: float = 0.1
    batch_size: int = 32
    lr: float = 3e-3
    grad_clip: float = 5.0
    max_steps: int = 20000
    max_minutes: float = 40.0
    eval_every: int = 500
    beam: int = 3
    test: bool = True  # score the test split at the end (--no-test skips it)
    seed: int = 0
    threads: int = 1
    device: str = "auto"
    overwrite: bool = False

    def __post_init__(self):
        if (self.karpathy_json is None) != (self.images is None):
            raise ValueError("--karpathy-json and --images go together")
        for name, allowed in (("world", WORLDS), ("encoder", tuple(STAGES)), ("device", DEVICES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"--{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        for name in ("train_scenes", "val_scenes", "test_scenes", "batch_size", "max_steps", "eval_every",
                     "embed_size", "hidden_size", "attention_size", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} has to be at least 1")
        if self.project_dim < 0 or (self.project_imagenet and (self.project_dim or self.encoder != "late")):
            raise ValueError("--project-dim has to be 0 (off) or positive; --project-imagenet needs --encoder late "
                             "and no --project-dim")
        if self.concepts and not (self.project_dim and self.encoder == "late"):
            raise ValueError("--concepts needs --encoder late and a --project-dim")
        if self.copy and not self.concepts:
            raise ValueError("--copy needs --concepts")
        if not 0 <= self.feature_drop < 1:
            raise ValueError("--feature-drop must be in [0, 1)")
        if self.attend_nouns < 0 or (self.attend_nouns and (self.world != "photos" or self.karpathy_json)):
            raise ValueError("--attend-nouns is a non-negative weight, and needs --world photos (object masks)")
        if not 0 <= self.dropout < 1 or self.lr <= 0 or self.max_minutes <= 0 or self.grad_clip <= 0 or \
                self.alpha_c < 0:
            raise ValueError("--dropout must be in [0, 1); --lr, --max-minutes and --grad-clip positive; "
                             "--alpha-c >= 0")
        if not 1 <= self.beam <= 10:
            raise ValueError("--beam has to be between 1 and 10")


CLI_HELP = {"world": "generated world to train on: " + " | ".join(WORLDS),
            "encoder": "encoder stage (core.vision.encoder): " + " | ".join(STAGES),
            "karpathy_json": "Karpathy-split JSON (dataset_flickr8k.json, dataset_coco.json, ...)",
            "images": "folder the JSON's filepath/filename entries are relative to",
            "cache_dir": "where encoder features are cached",
            "min_count": "drop rarer words to <unk> (default 1 scenes, 5 real)",
            "project_dim": "project the annotations onto their top principal components first (0: off)",
            "project_imagenet": "late stage only: read each cell through the ImageNet classifier head (1000 class "
                                "logits)",
            "concepts": "late stage with --project-dim: append per-cell noun concepts from the ImageNet head "
                        "(core.vision.concepts)",
            "copy": "with --concepts: a gated path from the attended concepts to the words of their nouns (LSTM-C)",
            "attend_nouns": "photo world: weight of the supervised-attention loss that puts each noun word's "
                            "attention on its object's mask (core.vision.grounded; 0: off)",
            "feature_drop": "training only: chance to hide an image's projected annotations, so that the words "
                            "lean on the concepts too",
            "alpha_c": "doubly stochastic attention weight (lambda)",
            "beam": "beam size for the final test evaluation", "test": "skip the final test-split evaluation",
            "threads": "torch CPU threads", "device": DEVICE_HELP, "overwrite": OVERWRITE_HELP}


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


def cli_parser() -> argparse.ArgumentParser:
    """The command line of `python -m core.caption.train`: one flag per CaptionTrainConfig field."""
    p = argparse.ArgumentParser(prog="python -m core.caption.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(p, CaptionTrainConfig, help=CLI_HELP)
    return p


def load_splits(a: CaptionTrainConfig, log) -> dict[str, CaptionSplit]:
    """Encode (or read cached) features for train/val/test of the chosen data source."""
    from core.caption.data import karpathy_split, read_karpathy_json
    from core.vision.encoder import Encoder
    from core.vision.worlds import photo_split, scene_split
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


def train(a: CaptionTrainConfig, log=print, argv_cmd: list[str] | None = None) -> Path:
    """Train as configured and write the checkpoint to a.out (refused when it holds one, unless a.overwrite;
    locked while training); returns its directory."""
    device = resolve_device(a.device)
    with claim_directory(a.out, CHECKPOINT_FILES, overwrite=a.overwrite, kind="captioner"):
        return _train(a, device, log, argv_cmd)


def _train(a: CaptionTrainConfig, device: torch.device, log, argv_cmd: list[str] | None) -> Path:
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
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
    train_img, train_tok = pairs(splits["train"], vocab)
    targets = None
    if a.attend_nouns:
        masks, nouns = photo_masks("train", a.train_scenes, a.seed, a.cache_dir, cfg.grid)
        targets = NounAttentionTargets(masks, nouns, train_img, train_tok, vocab)
    val_split = splits.get("val") or splits["train"]
    val_img, val_tok = pairs(val_split, vocab)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=a.lr)
    log(f"vocab {len(vocab)} words, {len(train_img)} training captions, "
        f"{sum(p.numel() for p in model.parameters())} parameters")
    t0, step, best, best_step, best_state, curve, extra = time.time(), 0, float("inf"), 0, None, [], {}

    def card() -> dict:
        return {"name": Path(a.out).name, "world": None if a.karpathy_json else a.world,
                "data": (f"Karpathy-split JSON {a.karpathy_json}" if a.karpathy_json else
                         f"{WORLD_NOTES[a.world]}, seed {a.seed}: {a.train_scenes} train / "
                         f"{a.val_scenes} val / {a.test_scenes} test images, 5 captions each"),
                "encoder": ENCODER_NOTES[a.encoder] + (CONCEPT_NOTE if a.concepts else ""),
                "decoder": asdict(cfg), "n_params": sum(p.numel() for p in model.parameters()), "steps": step,
                "training": {k: getattr(a, k) for k in TRAINING_KNOBS}, "batch_size": a.batch_size,
                "best_step": best_step, "best_val_ce": best, "train_seconds": round(time.time() - t0, 1),
                "hardware": f"{describe(device)}, torch {torch.__version__}",
                "command": "python -m core.caption.train " + " ".join(sys.argv[1:] if argv_cmd is None else argv_cmd),
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "curve": curve}

    model.train()
    while True:
        progress = max(step / a.max_steps, (time.time() - t0) / (60 * a.max_minutes))
        if progress >= 1:
            break
        for g in opt.param_groups:
            g["lr"] = a.lr * min(1.0, (step + 1) / 200) * 0.5 * (1 + math.cos(math.pi * progress))
        idx = torch.randint(len(train_img), (a.batch_size,), generator=gen)
        feats, tok = batch(splits["train"], train_img, train_tok, idx, device)
        logits, alphas = model(feats, tok)
        loss, ce = caption_loss(logits, alphas, tok[:, 1:], alpha_c=a.alpha_c)
        if targets is not None:
            loss = loss + a.attend_nouns * attention_mass_loss(alphas, targets.weights(idx, alphas.shape[1]).to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
        opt.step()
        step += 1
        if step % a.eval_every == 0 or step == a.max_steps:
            vl = val_loss(model, val_split, val_img, val_tok)
            curve.append({"step": step, "train_ce": ce.item(), "val_ce": vl, "minutes": (time.time() - t0) / 60})
            log(f"step {step} train ce {ce.item():.4f} val ce {vl:.4f} ({(time.time() - t0) / 60:.1f} min)")
            if vl < best:
                best, best_step, best_state = vl, step, {k: v.clone() for k, v in model.state_dict().items()}
                save_captioner(a.out, model, vocab, card())          # a usable checkpoint at every new best
    if a.encoder == "late":                                   # for the page's "unlike the training world" caveat
        from core.vision.imagenet import top1_classes_seen
        extra["imagenet_top1_seen"] = top1_classes_seen(raw_train)
    if best_state is None:                                    # fewer steps than one evaluation interval
        best, best_step = val_loss(model, val_split, val_img, val_tok), step
        best_state = model.state_dict()
    model.cpu().load_state_dict(best_state)                 # the test split is decoded on the CPU
    model.eval()
    final = {**card(), **extra}
    if a.test and "test" in splits:
        from core.caption.evaluate import evaluate_split
        log("evaluating on the test split ...")
        final["test"] = evaluate_split(model, vocab, splits["test"], a.beam,
                                       world=None if a.karpathy_json else a.world)
        log(json.dumps({k: v for k, v in final["test"].items() if k != "examples"}, indent=1))
    return save_captioner(a.out, model, vocab, final)


def main(argv: list[str] | None = None) -> int:
    args = vars(cli_parser().parse_args(argv))
    try:
        out = train(config_from_args(CaptionTrainConfig, args), log=lambda m: print(m, flush=True), argv_cmd=argv)
    except (ValueError, PhotoWorldError) as e:  # a bad flag, DeviceError, OutputError, CaptionDataError
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
