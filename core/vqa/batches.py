"""Tensors for VQA training and evaluation: padded question tokens, grid features and multiple-choice sets.

A multiple-choice set is the correct answer plus up to three distractors of the same kind (colours
against colours, shapes against shapes, yes against no), in random order, like Visual7W's four candidates.
easy-VQA's are drawn here; the photo world's come with its questions (core.vqa.photo_questions).
"""
from __future__ import annotations

import numpy as np
import torch

from core.common.words import WordVocab
from core.vqa.data import MAX_WORDS, VQASplit, answer_kind, tokenize

N_CANDIDATES = 4


def question_tokens(questions: list[str], vocab: WordVocab, max_words: int = MAX_WORDS) -> torch.Tensor:
    """(Q, T) padded word ids of the questions (T = the longest, capped at max_words)."""
    ids = [vocab.ids(tokenize(q)[:max_words]) or [vocab.unk] for q in questions]
    out = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long)
    for k, s in enumerate(ids):
        out[k, :len(s)] = torch.tensor(s)
    return out


def answer_tokens(answers: list[str], vocab: WordVocab) -> torch.Tensor:
    """(A + 1, Ta) word ids of every answer; the extra last row is all padding (an empty candidate slot)."""
    rows = question_tokens(answers, vocab)                                  # (A, Ta)
    return torch.cat([rows, torch.zeros(1, rows.shape[1], dtype=torch.long)])


def candidate_sets(answer_ids: np.ndarray, answers: list[str], rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(Q, 4) candidate answer ids (len(answers) marks an empty slot) and (Q,) index of the correct one."""
    kinds: dict[str, list[int]] = {}
    for i, a in enumerate(answers):
        kinds.setdefault(answer_kind(a), []).append(i)
    cands = np.full((len(answer_ids), N_CANDIDATES), len(answers))
    target = np.zeros(len(answer_ids), dtype=np.int64)
    for q, a in enumerate(answer_ids):
        others = [i for i in kinds[answer_kind(answers[a])] if i != a]
        picked = [int(a)] + list(rng.choice(others, size=min(N_CANDIDATES - 1, len(others)), replace=False))
        order = rng.permutation(len(picked))
        cands[q, :len(picked)] = np.array(picked)[order]
        target[q] = int(np.argmax(order == 0))
    return cands, target


class Batcher:
    """Everything of one split as tensors; `batch(idx)` gives tokens, features, answers, candidates, target."""

    def __init__(self, split: VQASplit, vocab: WordVocab, answers: list[str], seed: int = 0) -> None:
        self.tokens = question_tokens(split.questions, vocab)                  # (Q, T)
        self.answers = torch.tensor(split.answers)                              # (Q,)
        self.image_index = torch.from_numpy(split.image_index)                  # (Q,)
        self.feats = torch.from_numpy(np.array(split.feats))                    # (N, L, D) fp16, in memory
        self.questions_of = [np.flatnonzero(split.image_index == i) for i in range(len(split.paths))]
        self.answer_tokens = answer_tokens(answers, vocab)                   # (A + 1, Ta)
        self.answer_names = answers
        fixed = split.candidate_ids(answers)                                   # (Q, 4) or None
        self.draw_fresh = fixed is None
        if fixed is None:
            cands, target = candidate_sets(np.array(split.answers), answers, np.random.default_rng(seed))
        else:
            cands, target = fixed, (fixed == np.array(split.answers)[:, None]).argmax(1)
        self.candidates, self.target = torch.from_numpy(cands), torch.from_numpy(target)
        self.attention_targets: torch.Tensor | None = None    # (Q, L) where to look, for supervised attention

    def __len__(self) -> int:
        return len(self.answers)

    def four_choices(self) -> np.ndarray:
        """(Q,) bool: the questions whose fixed candidate set holds four real candidates."""
        return (self.candidates != len(self.answer_names)).sum(1).numpy() == N_CANDIDATES

    def image_batch(self, n_images: int, rng: np.random.Generator) -> torch.Tensor:
        """Question indices (B,) of every question about n_images images drawn at random."""
        rows = rng.choice(len(self.questions_of), size=min(n_images, len(self.questions_of)), replace=False)
        return torch.from_numpy(np.concatenate([self.questions_of[r] for r in rows]))

    def batch(self, idx: torch.Tensor, rng: np.random.Generator | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """tokens (B, T'), feats (N, L, D) float32 of the N distinct images, image index (B,), answers (B,),
        candidate tokens (B, 4, Ta), target (B,).

        With rng, fresh candidate sets are drawn (training) unless the split fixes them (the photo world's);
        without, the split's fixed sets are used."""
        tok = self.tokens[idx]
        tok = tok[:, :int((tok != 0).sum(1).max())]
        images, image_index = torch.unique(self.image_index[idx], return_inverse=True)
        feats = self.feats[images].float()
        if rng is None or not self.draw_fresh:
            cands, target = self.candidates[idx], self.target[idx]
        else:
            c, t = candidate_sets(self.answers[idx].numpy(), self.answer_names, rng)
            cands, target = torch.from_numpy(c), torch.from_numpy(t)
        return tok, feats, image_index, self.answers[idx], self.answer_tokens[cands], target
