"""Word-level text for the captioner and VQA: tokenizing, articles, and one word <-> index vocabulary."""
from __future__ import annotations

import re
from collections import Counter

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)  # a captioner's vocabulary opens with these
QUESTION_SPECIALS = (PAD, UNK)     # a VQA model's question vocabulary opens with these


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
    """Word <-> index map opening with its special tokens: a caption's <pad>=0, <start>=1, <end>=2, <unk>=3 (the
    default) or a question's <pad>=0, <unk>=1. Anything else (not a list of distinct strings, other specials)
    is a ValueError saying what is wrong."""

    def __init__(self, itos: list[str], specials: tuple[str, ...] = SPECIALS) -> None:
        if not isinstance(itos, list) or tuple(itos[:len(specials)]) != specials:
            raise ValueError(f"the vocabulary must be a list starting with {', '.join(specials)}")
        bad = next((w for w in itos if not isinstance(w, str) or not w), None)
        if bad is not None:
            raise ValueError(f"the vocabulary must hold words (non-empty strings), not {bad!r:.40}")
        if len(set(itos)) != len(itos):
            raise ValueError("the vocabulary lists a word twice")
        self.itos = list(itos)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.unk = self.stoi[UNK]

    @classmethod
    def build(cls, texts: list[list[str]], min_count: int = 1, specials: tuple[str, ...] = SPECIALS) -> "WordVocab":
        """Vocabulary of the words seen at least min_count times (most frequent first) after the specials."""
        counts = Counter(w for t in texts for w in t)
        words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls(list(specials) + [w for w in words if w not in specials], specials)

    def ids(self, words: list[str]) -> list[int]:
        """Word indices; unseen words -> <unk>."""
        return [self.stoi.get(w, self.unk) for w in words]

    def encode(self, tokens: list[str]) -> list[int]:
        """<start> tokens <end> as indices (a caption's vocabulary); unseen words -> <unk>."""
        return [self.stoi[START], *self.ids(tokens), self.stoi[END]]

    def decode(self, ids: list[int]) -> list[str]:
        """Indices -> words, dropping the special tokens."""
        return [self.itos[i] for i in ids if self.itos[i] not in (PAD, START, END)]

    def __len__(self) -> int:
        return len(self.itos)
