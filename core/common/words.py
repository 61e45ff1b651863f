"""Word-level text for the captioner and VQA: tokenizing, articles, and one word <-> index vocabulary."""
from __future__ import annotations

import re
from collections import Counter

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)



def tokenize(text: str) -> list[str]:
    """Lowercase words and punctuation marks, as in the Karpathy-split `tokens` fields."""
    return re.findall(r"[a-z0-9]+|[,:]", text.lower())


def article(word: str) -> str:
    """The indefinite article before word, by its first letter ("an apple", "a cat")."""
    return "an" if word[0] in "aeiou" else "a"


def agree_articles(words: list[str]) -> list[str]:
    """words with each "a"/"an" made to agree with the word after it."""
    return [article(nxt) if w in ("a", "an") else w for w, nxt in zip(words, words[1:])] + words[-1:]


class WordVocab:
    """Word <-> index map with <pad>=0, <start>=1, <end>=2, <unk>=3."""

    def __init__(self, itos: list[str]) -> None:
        if tuple(itos[:4]) != SPECIALS:
            raise ValueError(f"vocabulary must start with {SPECIALS}")
        self.itos = list(itos)
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def build(cls, captions: list[list[str]], min_count: int = 1) -> "WordVocab":
        """Vocabulary of the words seen at least min_count times (most frequent first)."""
        counts = Counter(w for c in captions for w in c)
        words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls(list(SPECIALS) + [w for w in words if w not in SPECIALS])

    def encode(self, tokens: list[str]) -> list[int]:
        """<start> tokens <end> as indices; unseen words -> <unk>."""
        unk = self.stoi[UNK]
        return [self.stoi[START]] + [self.stoi.get(w, unk) for w in tokens] + [self.stoi[END]]

    def decode(self, ids: list[int]) -> list[str]:
        """Indices -> words, dropping the special tokens."""
        return [self.itos[i] for i in ids if self.itos[i] not in (PAD, START, END)]

    def __len__(self) -> int:
        return len(self.itos)
