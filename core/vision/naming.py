"""Decoupled naming: the decoder writes the sentence, and each noun it writes is a slot whose word is read from a
concept memory under the attention of that step (the idea of the Decoupled Novel Object Captioner, Wu et al. 2018,
whose decoder emits a placeholder filled from a memory of detected objects, and of Neural Baby Talk, Lu et al.
2018, whose visual words come from the region the slot points at; no retraining here).

The memory holds, per grid cell, the encoder's own late-stage annotation (the ImageNet head read on the attended
annotation gives 1000 class probabilities, pooled into the open vocabulary's basic-level nouns, core.vision
.vocabulary) and the share of the cell a detected person covers (core.vision.faces). At a noun slot the attention
mass on people picks "person" ("people" for two faces or more) when it reaches FACE_MASS (faces under FACE_FLOOR
are left out: animal faces); else, when the decoder itself gave its word less than DECODER_SURE, the best open noun
not yet said replaces the decoder's word when its probability reaches NOUN_PROB; else the decoder's own word stays
(a sure decoder, or an unsure memory: giraffes and planets are no ImageNet class). The thresholds were chosen on
the photo world's val split, the dev check set and people-dev (see the README), never on GCompris or test.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from PIL import Image
from torch import nn

from core.vision.faces import Face, person_grid
from core.vision.imagenet import class_name
from core.vision.photo_stamps import noun_forms
from core.vision.vocabulary import (
    PERSON,
    class_to_noun_matrix,
    in_photo_noun,
    open_nouns,
    plural,
)

NOUN_PROB = 0.5         # an open noun replaces the decoder's when the attended head gives it this much
FACE_MASS = 0.2         # "person" when this much attention (times face probability) lies on detected people
DECODER_SURE = 0.6      # the decoder's word stays when the decoder gives it at least this probability
FACE_FLOOR = 0.95       # faces below this O-Net probability are left out (animal faces and stamps reach 0.81)


@dataclass
class NounSource:
    """Where one caption noun came from: the word written, the decoder's own word and the evidence."""
    noun: str                                   # singular noun said (open vocabulary, or the decoder's)
    word: str                                   # the word written (singular or plural)
    decoder_word: str                           # what the decoder wrote in that slot
    evidence: list[tuple[str, float]] = field(default_factory=list)   # (ImageNet class or "face", probability)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)   # face boxes (pixels)
    drops_article: bool = False                 # faces made the decoder's singular slot plural ("a" goes)
    decoder_prob: float = 1.0                   # the decoder's probability for its own word in that slot
    kept_because: str = ""                      # why the decoder's word stayed: "sure", "unsure memory", "person"
    memory_best: tuple[str, float] | None = None   # the memory's best other noun then, with its probability

    @property
    def from_memory(self) -> bool:
        return bool(self.evidence)

    def describe(self, own: str = "the decoder's own word") -> str:
        """One line: "cat <- Egyptian Mau 0.21, tabby cat 0.06", "person <- face, p 0.99", or the decoder's word
        and why it stayed ("cow <- the decoder's own word, p 0.74 (it was sure; the concept memory says: sheep
        0.67)"); `own` names the decoder (the VQA page: the model's own answer)."""
        if not self.evidence:
            best = f"{self.memory_best[0]} {self.memory_best[1]:.2f}" if self.memory_best else "nothing"
            agrees = self.memory_best is not None and in_photo_noun(self.memory_best[0], self.noun)
            why = {"sure": f"it was sure; the concept memory {'agrees' if agrees else 'says'}: {best}",
                   "unsure memory": f"the concept memory was unsure: {best} at best",
                   "person": "ImageNet has no person class, and no face lies where it looked"}.get(self.kept_because)
            return f"{self.word} <- {own}, p {self.decoder_prob:.2f}" + (f" ({why})" if why else "")
        if self.evidence[0][0] == "face":
            return f"{self.word} <- " + ", ".join(f"face, p {p:.2f}" for _, p in self.evidence)
        return f"{self.word} <- " + ", ".join(f"{name} {p:.2f}" for name, p in self.evidence)


class ConceptMemory:
    """What each grid cell of one image shows, in open-vocabulary nouns: the ImageNet head over the attended
    late-stage annotations (L, 1280), and the person cover of its faces (L,)."""

    def __init__(self, feats: torch.Tensor, head: nn.Linear, faces: list[Face] | None = None,
                 image_size: tuple[int, int] | None = None, face_floor: float = FACE_FLOOR) -> None:
        self.feats, self.head = feats.float(), head                                   # (L, 1280)
        grid = int(round(feats.shape[0] ** 0.5))
        self.faces = [f for f in faces or [] if f.prob >= face_floor]
        cover = person_grid(self.faces, image_size, grid) if self.faces else None
        self.person = torch.zeros(feats.shape[0]) if cover is None else torch.from_numpy(cover).flatten()  # (L,)
        self.to_nouns, self.nouns = class_to_noun_matrix(), open_nouns()                # (1000, N)

    @torch.no_grad()
    def class_probs(self, alpha: torch.Tensor) -> torch.Tensor:
        """(1000,) ImageNet softmax of the annotation attended with alpha (L,)."""
        return torch.softmax(self.head(alpha.float() @ self.feats), -1)

    @torch.no_grad()
    def candidate_probs(self, alpha: torch.Tensor, candidates: list[str]) -> torch.Tensor:
        """(C,) probability the memory under alpha (L,) gives each candidate: the open nouns that name it pooled
        (an open noun is itself, a photo-world noun its concept's), "person" the attention mass on people."""
        per_noun = self.class_probs(alpha) @ self.to_nouns                             # (N,)
        return torch.tensor([self.person_mass(alpha) if c == PERSON else
                             sum(float(per_noun[k]) for k, n in enumerate(self.nouns) if in_photo_noun(n, c))
                             for c in candidates])

    def person_mass(self, alpha: torch.Tensor) -> float:
        """Attention mass (L,) on detected people, weighted by face probability and cover."""
        return float(alpha.float() @ self.person)


class Namer:
    """Fills the noun slots of one image's caption from its ConceptMemory; `name` is called per written word."""

    def __init__(self, memory: ConceptMemory, decoder_nouns: dict[str, str], noun_prob: float = NOUN_PROB,
                 face_mass: float = FACE_MASS, decoder_sure: float = DECODER_SURE) -> None:
        self.memory, self.forms = memory, decoder_nouns          # decoder word (either number) -> its noun
        self.noun_prob, self.face_mass, self.decoder_sure = noun_prob, face_mass, decoder_sure

    def name(self, alpha: torch.Tensor, word: str, said: set[str] = frozenset(),
             word_prob: float = 0.0) -> NounSource | None:
        """The slot's noun for the decoder's word written with probability word_prob (0: not known, the memory is
        read) under attention alpha (L,), never one of the nouns already said (the memory's best other noun, else
        the decoder's own); None for a non-noun, or when even the decoder's own noun was said."""
        if word not in self.forms:
            return None
        own, many = self.forms[word], word != self.forms[word]
        m = self.memory
        if PERSON not in said and m.faces and m.person_mass(alpha) >= self.face_mass:
            crowd = len(m.faces) >= 2
            return NounSource(PERSON, plural(PERSON) if many or crowd else PERSON, word,
                              [("face", f.prob) for f in m.faces], [f.box for f in m.faces], crowd and not many)
        probs = m.class_probs(alpha)                                                   # (1000,)
        per_noun = probs @ m.to_nouns                                                  # (N,)
        best = next(((m.nouns[k], float(per_noun[k])) for k in per_noun.argsort(descending=True)[:len(said) + 1]
                     .tolist() if m.nouns[k] not in said), None)          # the memory's best noun not yet said
        if own == PERSON or word_prob >= self.decoder_sure:   # ImageNet has no person class; a sure decoder
            return NounSource(own, word, word, decoder_prob=word_prob,
                              kept_because="person" if own == PERSON else "sure", memory_best=best)
        if best is None or best[1] < self.noun_prob:
            return NounSource(own, word, word, decoder_prob=word_prob, kept_because="unsure memory",
                              memory_best=best)
        noun, k = best[0], m.nouns.index(best[0])
        classes = (m.to_nouns[:, k] * probs).topk(2)
        evidence = [(class_name(int(i)), float(p)) for p, i in zip(classes.values, classes.indices) if p >= 0.01]
        return NounSource(noun, plural(noun) if many else noun, word, evidence, decoder_prob=word_prob)


def make_namer(image: Image.Image | None, feats: torch.Tensor, head: nn.Linear, faces: list[Face] | None,
               noun_prob: float = NOUN_PROB, face_mass: float = FACE_MASS,
               decoder_sure: float = DECODER_SURE) -> Namer:
    """A Namer for one image's raw late-stage annotations (L, 1280), faces found on it (None: none looked for)."""
    size = image.size if image is not None else None
    return Namer(ConceptMemory(feats, head, faces, size), noun_forms(), noun_prob, face_mass, decoder_sure)
