"""Greedy and beam-search caption decoding with per-word attention maps (Show, Attend and Tell).

Beam search keeps `beam` live hypotheses; a hypothesis that emits <end> leaves the beam into the finished
list (the beam is refilled from the next-best candidates instead of shrinking, the bug of popular
tutorials), and the search stops once `beam` hypotheses finished, or the best finished score beats every
live one (log-probabilities only fall), or max_len words were written. Scores are summed log-probs, so
beam 1 is exactly greedy. In the photo world a noun is written once: its captions count equal objects ("two
cats"), so after a noun both its forms are ruled out for the rest of the caption (`noun_once`), which stops a
large animal from being named twice ("a cat and a cat"). Given a Namer (core.vision.naming), each noun the
decoder writes is re-read from the image's concept memory under that word's attention; a candidate whose noun was
already said is passed over, as `noun_once` does for the decoder's own words.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from core.caption.model import AttentionDecoder
from core.common.words import END, PAD, START, WordVocab, agree_articles
from core.vision.naming import Namer, NounSource
from core.vision.photo_stamps import BACKGROUNDS, TEXTURES, noun_forms

MAX_BEAM = 10  # the largest beam a caption is searched with


@dataclass
class Caption:
    """A decoded caption: its words, one (grid, grid) attention map per word, the summed log-prob and, when a
    Namer filled the nouns, where each word came from (None for a word that is not a noun)."""
    words: list[str]
    alphas: np.ndarray            # (T, grid, grid), each map sums to 1
    logprob: float
    sources: list[NounSource | None] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.words)


def validate_beam(beam: int, max_len: int) -> None:
    """Raise ValueError with a clear message for an unusable beam size or length."""
    if not 1 <= int(beam) <= MAX_BEAM:
        raise ValueError(f"beam size has to be between 1 and {MAX_BEAM}, got {beam}")
    if not 1 <= int(max_len) <= 100:
        raise ValueError(f"max_len has to be between 1 and 100, got {max_len}")


def _logp(logits: torch.Tensor, vocab: WordVocab, ruled_out: list[set[int]] | None = None) -> torch.Tensor:
    """Log-probabilities (B, V) with <pad> and <start> ruled out (they are never output words), and each row's
    ruled_out words."""
    logits = logits.clone()
    logits[:, [vocab.stoi[PAD], vocab.stoi[START]]] = float("-inf")
    for row, ids in enumerate(ruled_out or []):
        if ids:
            logits[row, list(ids)] = float("-inf")
    return F.log_softmax(logits, dim=-1)


def noun_once(vocab: WordVocab) -> dict[int, set[int]]:
    """word id -> the ids it rules out for the rest of a caption: both forms of a photo-world noun, which its
    captions write once (nouns that its background phrases also use, like "trees", are left free). Empty for a
    vocabulary of another world (the shapes world writes "a red circle and a blue circle")."""
    if "an" not in vocab.stoi:                 # the photo world's captions are the ones that write "an"
        return {}
    scenery = {w for phrase in [p for p, _ in BACKGROUNDS.values()] + list(TEXTURES.values()) for w in phrase.split()}
    forms = {w: noun for w, noun in noun_forms().items() if w in vocab.stoi}
    free = {forms[w] for w in scenery if w in forms}
    groups: dict[str, set[int]] = {}
    for w, noun in forms.items():
        if noun not in free:
            groups.setdefault(noun, set()).add(vocab.stoi[w])
    return {i: ids for ids in groups.values() for i in ids}


def _slot(namer: Namer | None, alpha: torch.Tensor, word: str, said: set[str],
          logp: float) -> tuple[NounSource | None, bool]:
    """The Namer's source for a written word (decoder log-prob logp) under alpha (L,), and whether it may be
    written (its noun unsaid)."""
    src = namer.name(alpha, word, said, float(np.exp(logp))) if namer is not None else None
    return src, src is None or src.noun not in said


@torch.no_grad()
def greedy_caption(model: AttentionDecoder, vocab: WordVocab, feats: torch.Tensor, max_len: int = 30,
                   namer: Namer | None = None) -> Caption:
    """Arg-max decoding of one image's annotations feats (L, D); a namer fills the noun slots."""
    validate_beam(1, max_len)
    once = noun_once(vocab)
    a, a_proj, state = model.prepare(feats[None])
    prev = torch.tensor([vocab.stoi[START]])
    ids, alphas, sources, score, ruled_out, said = [], [], [], 0.0, set(), set()
    for _ in range(max_len):
        logits, state, alpha = model.step(a, a_proj, prev, state)
        logp = _logp(logits, vocab, [ruled_out])[0]   # (V,)
        for nxt in logp.argsort(descending=True).tolist():
            if nxt == vocab.stoi[END]:
                break
            src, free = _slot(namer, alpha[0], vocab.itos[nxt], said, float(logp[nxt]))
            if free:
                break
        score += float(logp[nxt])
        if nxt == vocab.stoi[END]:
            break
        ids.append(nxt)
        sources.append(src)
        said |= {src.noun} if src else set()
        ruled_out |= once.get(nxt, set())
        alphas.append(alpha[0])
        prev = torch.tensor([nxt])
    return _caption(model, vocab, ids, alphas, score, sources if namer else None)


def _caption(model: AttentionDecoder, vocab: WordVocab, ids: list[int], alphas: list[torch.Tensor],
             score: float, sources: list[NounSource | None] | None = None) -> Caption:
    g = model.cfg.grid
    maps = torch.stack(alphas).reshape(-1, g, g).numpy() if alphas else np.zeros((0, g, g), np.float32)
    if sources is None:
        return Caption(caption_words(vocab, ids), maps, score)
    words = [src.word if src else vocab.itos[i] for i, src in zip(ids, sources)]
    # "a person" stays, "a people" loses its article (two faces or more make a singular slot plural)
    keep = [not (w in ("a", "an") and k + 1 < len(words) and sources[k + 1] is not None
                 and sources[k + 1].drops_article) for k, w in enumerate(words)]
    words = [w for w, k in zip(words, keep) if k]
    return Caption(caption_words(vocab, [], words), maps[np.array(keep, bool)] if len(keep) else maps, score,
                   [s for s, k in zip(sources, keep) if k])


def caption_words(vocab: WordVocab, ids: list[int], words: list[str] | None = None) -> list[str]:
    """The words of ids (or the given words); in a world whose captions write "an" (the photos), each article
    agrees with the next word (the copy path or a Namer can change the noun after the decoder chose "a")."""
    words = [vocab.itos[i] for i in ids] if words is None else words
    return agree_articles(words) if "an" in vocab.stoi else words


@torch.no_grad()
def beam_caption(model: AttentionDecoder, vocab: WordVocab, feats: torch.Tensor, beam: int = 3,
                 max_len: int = 30, namer: Namer | None = None) -> Caption:
    """Beam search over one image's annotations feats (L, D); returns the best finished caption (a namer fills
    the noun slots of every hypothesis as it grows)."""
    validate_beam(beam, max_len)
    end = vocab.stoi[END]
    once = noun_once(vocab)
    a, a_proj, state = model.prepare(feats[None])
    live_ids: list[list[int]] = [[]]
    live_ruled_out: list[set[int]] = [set()]
    live_alphas: list[list[torch.Tensor]] = [[]]
    live_sources: list[list[NounSource | None]] = [[]]
    live_scores = torch.zeros(1)
    prev = torch.tensor([vocab.stoi[START]])
    finished: list[tuple[float, list[int], list[torch.Tensor], list[NounSource | None]]] = []
    for t in range(max_len):
        k = len(live_ids)
        logits, state, alpha = model.step(a.expand(k, -1, -1), a_proj.expand(k, -1, -1), prev, state)
        cand = (live_scores[:, None] + _logp(logits, vocab, live_ruled_out)).flatten()   # (k * V,)
        top = cand.topk(min(2 * beam + (8 if namer else 0), cand.numel()))
        keep_rows, keep_ids, keep_scores, keep_sources = [], [], [], []
        for rank, (s, flat) in enumerate(zip(top.values.tolist(), top.indices.tolist())):
            row, word = divmod(flat, logits.shape[-1])
            if word == end:
                if rank < beam and len(finished) < beam:      # only an <end> among the best `beam` finishes
                    finished.append((s, live_ids[row], live_alphas[row], live_sources[row]))
            elif len(keep_rows) < beam:
                src, free = _slot(namer, alpha[row], vocab.itos[word],
                                  {x.noun for x in live_sources[row] if x is not None}, s - float(live_scores[row]))
                if free:
                    keep_rows.append(row)
                    keep_ids.append(word)
                    keep_scores.append(s)
                    keep_sources.append(src)
        if not keep_rows and not finished:                    # every way on names a noun already said: stop here
            finished = [(float(s), i, al, so) for s, i, al, so in zip(live_scores, live_ids, live_alphas, live_sources)]
        if len(finished) >= beam or not keep_rows or (finished and max(f[0] for f in finished) >= keep_scores[0]):
            break
        if t == max_len - 1:                                  # out of length: the live ones count as done
            finished += [(s, live_ids[r] + [w], live_alphas[r] + [alpha[r]], live_sources[r] + [src])
                         for r, w, s, src in zip(keep_rows, keep_ids, keep_scores, keep_sources)]
            break
        rows = torch.tensor(keep_rows)
        live_ids = [live_ids[r] + [w] for r, w in zip(keep_rows, keep_ids)]
        live_ruled_out = [live_ruled_out[r] | once.get(w, set()) for r, w in zip(keep_rows, keep_ids)]
        live_alphas = [live_alphas[r] + [alpha[r]] for r in keep_rows]
        live_sources = [live_sources[r] + [src] for r, src in zip(keep_rows, keep_sources)]
        live_scores = torch.tensor(keep_scores)
        state = (state[0][rows], state[1][rows])
        prev = torch.tensor(keep_ids)
    score, ids, alphas, sources = max(finished, key=lambda f: f[0])
    return _caption(model, vocab, ids, alphas, score, sources if namer else None)


def caption(model: AttentionDecoder, vocab: WordVocab, feats: torch.Tensor, beam: int = 3,
            max_len: int = 30, namer: Namer | None = None) -> Caption:
    """Greedy for beam 1, beam search otherwise; a namer (core.vision.naming) fills the noun slots."""
    if beam == 1:
        return greedy_caption(model, vocab, feats, max_len, namer)
    return beam_caption(model, vocab, feats, beam, max_len, namer)
