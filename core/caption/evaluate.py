"""Evaluate a Show, Attend and Tell captioner: COCO caption metrics and attention grounding.

Language: BLEU-1..4, ROUGE-L and CIDEr from `pycocoevalcap` (pure Python; METEOR and SPICE need Java and are
left out), on already-tokenised captions. Grounding (generated worlds, where every object has a mask):
attention mass inside the named object and the pointing game, each beside a uniform-attention baseline.
Photo world also: object-noun recall, the share of objects whose noun (either number) is in the caption.

    rnnlens caption-evaluate --model checkpoints/captioner-scenes [--beam 3] [--test-scenes 500]
    rnnlens caption-evaluate --model checkpoints/captioner-photos --world photos [--naming]
"""
from __future__ import annotations

import numpy as np
import torch

from core.caption.model import AttentionDecoder
from core.caption.search import caption
from core.common.words import WordVocab
from core.vision import photo_stamps, photos
from core.vision.encoder import imagenet_net
from core.vision.faces import load_detector
from core.vision.maps import grounding
from core.vision.naming import make_namer
from core.vision.scenes import COLORS, SHAPES, make_scene
from core.vision.vocabulary import singular_forms
from core.vision.worlds import CaptionSplit

WORLDS = ("scenes", "photos")


def language_metrics(refs: list[list[str]], hyps: list[str]) -> dict[str, float]:
    """BLEU-1..4, ROUGE-L and CIDEr of hypotheses against reference lists (space-joined tokens)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    gts = {i: r for i, r in enumerate(refs)}
    res = {i: [h if h else "<empty>"] for i, h in enumerate(hyps)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, _ = Rouge().compute_score(gts, res)
    cider, _ = Cider().compute_score(gts, res)
    return {"bleu1": bleu[0], "bleu2": bleu[1], "bleu3": bleu[2], "bleu4": bleu[3],
            "rouge_l": float(rouge), "cider": float(cider)}


@torch.no_grad()
def evaluate_split(model: AttentionDecoder, vocab: WordVocab, split: CaptionSplit, beam: int = 3,
                   world: str | None = "scenes", naming: bool = False) -> dict:
    """Decode every image of split; language metrics, plus grounding (and noun recall) for a generated world.
    naming (photo world, late-stage annotations): nouns read from the concept memory (core.vision.naming)."""
    model.eval()
    refs, hyps, rows, named, n_objects, recalled, mean_logp = [], [], [], 0, 0, 0, []
    nouns = photo_stamps.noun_forms().keys() | singular_forms().keys()
    head, detector = _naming_parts() if naming and world == "photos" else (None, None)
    for i in range(len(split.keys)):
        feats = torch.from_numpy(np.asarray(split.feats[i], dtype=np.float32))
        scene = photos.make_photo(int(split.keys[i])) if world == "photos" else None
        namer = None if head is None else make_namer(scene.image, feats, head, detector.detect(scene.image))
        cap = caption(model, vocab, feats, beam, namer=namer)
        refs.append([" ".join(c) for c in split.captions[i]])
        hyps.append(cap.text)
        mean_logp.append(cap.logprob / (len(cap.words) + 1))
        if world == "scenes":
            named += sum(w in COLORS or w.rstrip("s") in SHAPES for w in cap.words)
            rows += grounding(cap.alphas, cap.words, make_scene(int(split.keys[i])).objects)
        elif world == "photos":
            objects = scene.objects
            named += sum(w in nouns for w in cap.words)
            n_objects += len(objects)
            recalled += photos.named_objects(cap.words, objects)
            rows += grounding(cap.alphas, cap.words, objects, photos.word_masks(cap.words, objects))
    out = {"n_images": len(hyps), "beam": beam, **language_metrics(refs, hyps),
           "mean_word_logprob_p05": float(np.percentile(mean_logp, 5))}
    if n_objects:
        out.update({"objects": n_objects, "object_noun_recall": recalled / n_objects})
    if rows:
        mass = float(np.mean([r["mass"] for r in rows]))
        uni = float(np.mean([r["uniform_mass"] for r in rows]))
        out.update({"object_words": len(rows), "object_words_without_object": named - len(rows),
                    "attention_mass_in_object": mass, "uniform_mass_in_object": uni,
                    "mass_ratio_vs_uniform": mass / uni,
                    "pointing_game": float(np.mean([r["hit"] for r in rows])),
                    "uniform_pointing_game": float(np.mean([r["uniform_hit"] for r in rows]))})
    out["examples"] = [{"hyp": h, "refs": r[:2]} for h, r in zip(hyps[:5], refs[:5])]
    return out


def _naming_parts():
    """The ImageNet head and the face detector a Namer reads with."""
    return imagenet_net()._fc, load_detector()
