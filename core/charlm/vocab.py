"""Character vocabulary with a reserved unknown symbol, so any text can be fed to a trained model."""
import json
from pathlib import Path

UNK = "\ufffd"  # index 0: every character the model never saw maps here


class Vocab:
    """Bidirectional map between characters and integer ids (stoi / itos)."""

    def __init__(self, itos: list[str]):
        if not all(isinstance(ch, str) and len(ch) == 1 for ch in itos):
            bad = next(ch for ch in itos if not (isinstance(ch, str) and len(ch) == 1))
            raise ValueError(f"every vocab entry must be one character, not {bad!r:.40}")
        if not itos or itos[0] != UNK or len(set(itos)) != len(itos):
            raise ValueError("vocab must start with the unknown symbol and hold each character once")
        self.itos = list(itos)
        self.stoi = {ch: i for i, ch in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        """Build the vocabulary of every distinct character in text (sorted), after UNK."""
        return cls([UNK] + sorted(set(text) - {UNK}))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        """Map characters to ids; unseen characters become the unknown id 0."""
        return [self.stoi.get(ch, 0) for ch in text]

    def decode(self, ids) -> str:
        """Map ids back to characters."""
        return "".join(self.itos[int(i)] for i in ids)

    def unknown_mask(self, text: str) -> list[bool]:
        """True where a character is not in the vocabulary."""
        return [ch not in self.stoi for ch in text]

    def save(self, path: Path) -> None:
        """Write the vocabulary as JSON (a list of characters, index = id)."""
        Path(path).write_text(json.dumps({"itos": self.itos}, ensure_ascii=False), encoding="utf-8")
