"""Photo-world VQA on real photos it never trained on: the captioner's check sets (core.vision.checksets).

Every photo whose object has a photo-world noun is asked four things:
  open     "what animal is this?" (its noun's category; "what is this?" for things), open-ended
  four     the same question with four candidates: the noun and three of its category (seeded)
  four open  the noun and three open-vocabulary nouns of its kind (animals, or things), none of which names it,
           chosen by the concept memory under the last hop's attention (with naming)
  yes      "is there a <noun>?"                        the answer should be yes
  no       "is there a <other>?" for a noun of another category, drawn at random: should be no
One line per photo, then the accuracy of each, beside the question-only baseline's open answer (the same for every
photo of a category: what the image adds).

    rnnlens vqa-realcheck --model checkpoints/vqa-photos [--set dev|gcompris] [--seed 0]
"""
from __future__ import annotations

import random
from typing import Callable

import torch

from core.vision.photos import names
from core.vision.vocabulary import PERSON, classes_of, in_photo_noun, open_nouns
from core.vqa.checkpoint import VQACheckpoint
from core.vqa.photo_questions import categories, four_candidates
from core.vqa.pipeline import Answer, answer_question, choose

CHECKS = ("open", "four", "yes", "no", "question only", "four open")
ANIMAL_CLASSES = 398                 # ImageNet-1k classes 0-397 are animals, the rest things


def open_candidates(noun: str, rng: random.Random) -> tuple[str, ...]:
    """The photo-world noun and three open-vocabulary nouns of its kind (animals for an animal, else things),
    none of which names it, in random order."""
    animal = categories()[noun] == "animal"
    pool = [n for n in open_nouns() if n != PERSON and (max(classes_of(n)) < ANIMAL_CLASSES) == animal
            and not in_photo_noun(n, noun)]
    cands = [noun, *rng.sample(pool, 3)]
    rng.shuffle(cands)
    return tuple(cands)


def object_question(noun: str) -> str:
    """The photo world's question for what a one-object photo shows."""
    category = categories()[noun]
    return "what is this?" if category == "object" else f"what {category} is this?"


def ask_about(ckpt: VQACheckpoint, feats: torch.Tensor, noun: str, rng: random.Random,
              reread: Callable[[Answer], str] | None = None,
              pick_open: Callable[[Answer, list[str]], int] | None = None,
              open_rng: random.Random | None = None) -> dict[str, str]:
    """The model's answers for a photo (1, L, D) of `noun`: {"open", "four", "yes", "no"}, the question-only
    baseline's open answer ("question only") and the absent noun asked about ("absent"); reread turns the open
    answer into an open-vocabulary noun (core.vqa.pipeline.open_answer), and pick_open chooses among
    open_candidates drawn with open_rng ("four open": core.vqa.pipeline.choose_open)."""
    question = object_question(noun)
    candidates = list(four_candidates(noun, rng, question))
    category = categories()[noun]
    absent = rng.choice(sorted(n for n, c in categories().items() if c != category))
    opened = answer_question(ckpt, feats, question)
    out = {"open": reread(opened) if reread else opened.best[0],
           "question only": ckpt.answers[int(opened.question_only_probs.argmax())],
           "four": candidates[int(choose(ckpt, feats, question, candidates).argmax())],
           "yes": answer_question(ckpt, feats, f"is there a {noun}?").best[0],
           "no": answer_question(ckpt, feats, f"is there a {absent}?").best[0],
           "absent": absent}
    if pick_open is not None:
        cands = list(open_candidates(noun, open_rng or rng))
        out["four open"] = cands[pick_open(opened, cands)]
    return out


def is_right(check: str, noun: str, answers: dict[str, str]) -> bool:
    """Whether the answer to one check is the right one."""
    if check == "open":
        return names(answers[check], noun)
    if check == "four open":
        return answers.get(check) == noun
    return answers[check] == {"yes": "yes", "no": "no"}.get(check, noun)
