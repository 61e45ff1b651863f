"""Hand-wired tiny LSTMs whose cells do known things, for the causal-analysis tests."""
import numpy as np
import torch

from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.vocab import Vocab

PAREN_VOCAB = Vocab(["\ufffd", "(", ")", "x", "y"])
OPEN, CLOSE, X = 1, 2, 3  # ids


def paren_lstm(hidden: int = 8, seed: int = 0, n_layer: int = 1) -> CharRNN:
    """An LSTM whose c unit 0 of layer 0 is +1 inside ( ) and -1 outside; only it predicts the closing ')'.

    Embeddings are one-hot (ids 1..4 on units 1..4); the other units get small random weights."""
    g = torch.Generator().manual_seed(seed)
    model = CharRNN(CharRNNConfig(len(PAREN_VOCAB), "lstm", n_layer, hidden)).eval()
    H = hidden
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))
        model.embed.weight.zero_()
        for i in range(1, len(PAREN_VOCAB)):
            model.embed.weight[i, i] = 1.0
        w, b = model.rnn.weight_ih_l0, model.rnn.bias_ih_l0  # (4H, H): gates i, f, g, o
        model.rnn.weight_hh_l0[0::H].zero_()  # unit 0 of every gate ignores h
        model.rnn.bias_hh_l0[0::H].zero_()
        w[0::H].zero_()
        w[0, OPEN] = w[0, CLOSE] = 20.0; b[0] = -10.0  # input gate: open on a bracket
        w[H, OPEN] = w[H, CLOSE] = -20.0; b[H] = 10.0  # forget gate: forget on a bracket
        w[2 * H, OPEN], w[2 * H, CLOSE], b[2 * H] = 20.0, -20.0, 0.0  # candidate: +1 at '(', -1 at ')'
        b[3 * H] = 20.0  # output gate always open
        model.head.weight[CLOSE].mul_(0.1)
        model.head.weight[CLOSE, 0] = 8.0  # ')' likely only inside
        model.head.bias[CLOSE] = -4.0
        model.head.weight[:, 1:].mul_(0.3)
    return model


def paren_text(n: int = 600, seed: int = 0) -> tuple[str, np.ndarray]:
    """Random x/y text with non-nested ( ) spans, and the inside-brackets signal after each character."""
    rng = np.random.default_rng(seed)
    chars, inside, signal = [], False, []
    for _ in range(n):
        if not inside and rng.random() < 0.08:
            ch, inside = "(", True
        elif inside and rng.random() < 0.12:
            ch, inside = ")", False
        else:
            ch = "xy"[rng.integers(2)]
        chars.append(ch)
        signal.append(float(inside))
    return "".join(chars), np.array(signal, dtype=np.float32)
