"""CharRNN: a character-level language model over a vanilla RNN, GRU or LSTM (Karpathy's char-rnn)."""
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from core.charlm.recurrent import CELLS, check_cell, set_keep_gate_bias


@dataclass
class CharRNNConfig:
    vocab_size: int
    cell: str = "lstm"  # rnn | gru | lstm
    n_layer: int = 2
    hidden_size: int = 256
    dropout: float = 0.0  # between stacked layers
    forget_bias: float | None = None  # LSTM forget-gate bias at init (None: torch's default init)

    def __post_init__(self):
        check_cell(self.cell)
        if not 1 <= self.n_layer <= 3:
            raise ValueError(f"n_layer must be 1, 2 or 3, not {self.n_layer}")
        if not 1 <= self.hidden_size <= 4096:
            raise ValueError(f"hidden_size must be between 1 and 4096, not {self.hidden_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout}")

    def to_dict(self) -> dict:
        return asdict(self)


class CharRNN(nn.Module):
    """Embedding -> stacked recurrent cell -> linear head over the vocabulary."""

    def __init__(self, config: CharRNNConfig):
        super().__init__()
        self.config = config
        H = config.hidden_size
        self.embed = nn.Embedding(config.vocab_size, H)
        self.rnn = CELLS[config.cell](H, H, config.n_layer, batch_first=True,
                                      dropout=config.dropout if config.n_layer > 1 else 0.0)
        self.head = nn.Linear(H, config.vocab_size)
        if config.forget_bias is not None and config.cell == "lstm":
            set_keep_gate_bias(self.rnn, config.forget_bias)

    def forward(self, idx: torch.Tensor, state=None):
        """idx (B, T) -> logits (B, T, V) and the final recurrent state."""
        x = self.embed(idx)  # (B, T, H)
        out, state = self.rnn(x, state)  # (B, T, H)
        return self.head(out), state

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
