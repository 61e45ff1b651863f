"""A tiny untrained checkpoint with a card and a sample timeline, for the dashboard's page and browser tests."""
from pathlib import Path

import torch

from core.checkpoint import save_checkpoint
from core.model import CharRNN, CharRNNConfig
from core.vocab import Vocab

TEXT = ("ROMEO.\nFirst Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\n")
TIMELINE = [{"step": s, "val_loss": v, "val_bpc": v / 0.6931, "text": f"sample at {s}: " + TEXT[:40]}
            for s, v in [(100, 3.1), (200, 2.4), (500, 1.9)]]
CURVE = [{"step": s, "train_loss": 4.0 - s / 200, "val_loss": None, "tokens_per_s": 1000} for s in range(10, 510, 10)]


def make_checkpoint(path: Path, cell: str = "lstm") -> Path:
    """An untrained 1 x 16 model with a card and a three-step timeline."""
    torch.manual_seed(0)
    vocab = Vocab.from_text(TEXT)
    model = CharRNN(CharRNNConfig(len(vocab), cell, 1, 16)).eval()
    card = {"name": path.name, "corpus": "shakespeare", "cell": cell, "n_layer": 1, "hidden_size": 16,
            "vocab_size": len(vocab), "n_params": model.n_params(), "steps": 500, "val_loss": 1.9,
            "val_bpc": 1.9 / 0.6931}
    return save_checkpoint(path, model, vocab, card, {"timeline": TIMELINE, "curve": CURVE})
