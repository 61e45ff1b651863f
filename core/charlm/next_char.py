"""The model's next-character distribution before each character of a text (what the Sample page inspects)."""
import numpy as np
import torch

from core.charlm.model import CharRNN
from core.charlm.sample import START
from core.charlm.vocab import Vocab


@torch.inference_mode()
def next_char_probabilities(model: CharRNN, vocab: Vocab, prime: str, text: str) -> np.ndarray:
    """(len(text), V) next-character probabilities (temperature 1) before each character of text.

    Row i is the model's distribution given prime + text[:i] (an empty prime reads as the sampler's START).
    """
    context = prime or START
    ids = vocab.encode(context + text)
    logits, _ = model(torch.tensor([ids[:-1]]))  # (1, P + N - 1, V): row j predicts ids[j + 1]
    return torch.softmax(logits[0, len(context) - 1:], dim=-1).numpy()  # (N, V)
