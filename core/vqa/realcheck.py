"""Photo-world VQA on real photos it never trained on: the captioner's check sets (core.vision.checksets).

Every photo whose object has a photo-world noun is asked four things:
  open     "what animal is this?" (its noun's category; "what is this?" for things), open-ended
  four     the same question with four candidates: the noun and three of its category (seeded)
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
from core.vqa.checkpoint import VQACheckpoint
from core.vqa.photo_questions import categories, four_candidates
from core.vqa.pipeline import Answer, answer_question, choose

CHECKS = ("open", "four", "yes", "no", "question only")


def object_question(noun: str) -> str:
    """The photo world's question for what a one-object photo shows."""
    category = categories()[noun]
    return "what is this?" if category == "object" else f"what {category} is this?"


def ask_about(ckpt: VQACheckpoint, feats: torch.Tensor, noun: str, rng: random.Random,
              reread: Callable[[Answer], str] | None = None) -> dict[str, str]:
    """The model's answers for a photo (1, L, D) of `noun`: {"open", "four", "yes", "no"}, the question-only
    baseline's open answer ("question only") and the absent noun asked about ("absent"); reread turns the open
    answer into an open-vocabulary noun (core.vqa.pipeline.open_answer)."""
    question = object_question(noun)
    candidates = list(four_candidates(noun, rng, question))
    category = categories()[noun]
    absent = rng.choice(sorted(n for n, c in categories().items() if c != category))
    opened = answer_question(ckpt, feats, question)
    return {"open": reread(opened) if reread else opened.best[0],
            "question only": ckpt.answers[int(opened.question_only_probs.argmax())],
            "four": candidates[int(choose(ckpt, feats, question, candidates).argmax())],
            "yes": answer_question(ckpt, feats, f"is there a {noun}?").best[0],
            "no": answer_question(ckpt, feats, f"is there a {absent}?").best[0],
            "absent": absent}


def is_right(check: str, noun: str, answers: dict[str, str]) -> bool:
    """Whether the answer to one check is the right one."""
    if check == "open":
        return names(answers[check], noun)
    return answers[check] == {"yes": "yes", "no": "no"}.get(check, noun)
