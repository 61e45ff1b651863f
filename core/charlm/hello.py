"""The smallest character model: a vanilla RNN with a 3-unit hidden state learns to spell one word (char-rnn's
"hello" example). The vocabulary is the word's own letters, the input at each step is a one-hot letter (the
model's embedding is W_xh applied to it), and the target is the next letter.
"""
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.charlm.model import CharRNN, CharRNNConfig


@dataclass(frozen=True)
class HelloRun:
    """A trained word model read back over its word: letters, one-hot inputs, hidden states, output scores."""
    itos: list[str]          # the vocabulary, in order of first appearance
    inputs: str              # the word less its last letter
    targets: str             # the word less its first letter
    hidden: np.ndarray       # (T, H) hidden state after each input
    scores: np.ndarray       # (T, V) output scores (logits) for the next letter
    losses: np.ndarray       # (steps,) training loss in nats per letter

    def one_hot(self) -> np.ndarray:
        """(T, V) the inputs as one-hot rows."""
        return np.eye(len(self.itos))[[self.itos.index(ch) for ch in self.inputs]]

    def predicted(self) -> str:
        """The letter with the highest score at each step."""
        return "".join(self.itos[i] for i in self.scores.argmax(axis=1))


def train_hello(word: str = "hello", steps: int = 200, hidden_size: int = 3, lr: float = 0.05,
                seed: int = 0) -> HelloRun:
    """Train a 1-layer vanilla RNN for `steps` Adam steps to predict each next letter of word; seeded."""
    if len(word) < 2:
        raise ValueError("the word needs at least two letters")
    if steps < 0:
        raise ValueError(f"steps must be 0 or more, not {steps}")
    itos = list(dict.fromkeys(word))
    ids = torch.tensor([[itos.index(ch) for ch in word]])                # (1, T + 1)
    x, y = ids[:, :-1], ids[:, 1:]                                       # (1, T)
    torch.manual_seed(seed)  # the weights' init; nothing else here draws random numbers
    model = CharRNN(CharRNNConfig(len(itos), "rnn", 1, hidden_size))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        logits, _ = model(x)                                             # (1, T, V)
        loss = F.cross_entropy(logits[0], y[0])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        hidden, _ = model.rnn(model.embed(x))                            # (1, T, H)
        scores = model.head(hidden)                                      # (1, T, V)
    return HelloRun(itos, word[:-1], word[1:], hidden[0].numpy(), scores[0].numpy(), np.array(losses))
