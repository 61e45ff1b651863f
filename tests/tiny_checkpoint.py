"""The tiny checkpoints the tests use, all built here: untrained ones with a card and a sample timeline for the
dashboard's pages (make_checkpoint), and a really trained one for training and sampling (train_tiny)."""
from pathlib import Path

import torch

from core.charlm.checkpoint import save_checkpoint
from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.vocab import Vocab

SONNETS = Path(__file__).resolve().parent / "data" / "sonnets.txt"  # the first sonnets (public domain), 8 kB
TEXT = ("ROMEO.\nFirst Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\n")
TIMELINE = [{"step": s, "val_loss": v, "val_bpc": v / 0.6931, "text": f"sample at {s}: " + TEXT[:40]}
            for s, v in [(100, 3.1), (200, 2.4), (500, 1.9)]]
CURVE = [{"step": s, "train_loss": 4.0 - s / 200, "val_loss": None, "tokens_per_s": 1000} for s in range(10, 510, 10)]


def make_checkpoint(path: Path, cell: str = "lstm", n_layer: int = 1, text: str = TEXT,
                    corpus: str = "shakespeare") -> Path:
    """An untrained n_layer x 16 model over text's characters, with a card and a three-step timeline."""
    torch.manual_seed(0)
    vocab = Vocab.from_text(text)
    model = CharRNN(CharRNNConfig(len(vocab), cell, n_layer, 16)).eval()
    card = {"name": path.name, "corpus": corpus, "cell": cell, "n_layer": n_layer, "hidden_size": 16,
            "vocab_size": len(vocab), "n_params": model.n_params(), "steps": 500, "val_loss": 1.9,
            "val_bpc": 1.9 / 0.6931}
    return save_checkpoint(path, model, vocab, card, {"timeline": TIMELINE, "curve": CURVE})


def tiny_config(out, **overrides):
    """A TrainConfig small enough to run in about a second on one core."""
    from core.charlm.settings import TrainConfig

    knobs = dict(corpus=str(SONNETS), out=str(out), cell="lstm", n_layer=2, hidden_size=16, batch_size=4,
                 seq_len=16, lr=1e-2, max_steps=6, max_minutes=None, eval_every=3, eval_chars=500,
                 checkpoint_every=3, seed=0)
    knobs.update(overrides)
    return TrainConfig(**knobs)


def train_tiny(out: Path) -> Path:
    """A 2-layer, 16-unit LSTM trained for 20 steps on the sonnets, its timeline probed as the CLI's is."""
    from core.charlm.train import train
    from core.lens.emergence import timeline_probe

    return train(tiny_config(out, max_steps=20, eval_every=10), probe=timeline_probe)
