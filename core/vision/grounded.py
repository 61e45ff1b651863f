"""Supervised attention for the photo world: at each noun word, put the attention on that noun's object.

The photo world knows every object's exact mask, so training can tell the decoder where to look when it says
"cat", as in attention-correctness training (Liu et al. 2017, "Attention Correctness in Neural Image
Captioning"). The extra loss is, over the caption words that name an object in the image,
-log(sum_i alpha_ti w_i) with w the object's mask pooled onto the encoder grid and scaled so that its
best-covered cell is 1: the attention mass on the object, which is also what the grounding metrics score.
"""
from __future__ import annotations

import torch

from core.common.words import WordVocab
from core.vision.photo_stamps import noun_forms


class NounAttentionTargets:
    """Per training pair and target word: the grid weights of the object the word names (or none)."""

    def __init__(self, masks, nouns: list[list[str]], img: torch.Tensor, tokens: torch.Tensor,
                 vocab: WordVocab) -> None:
        forms = noun_forms()
        m = torch.as_tensor(masks, dtype=torch.float32)                   # (N, MAX_NOUNS, L) covered fractions
        self.masks = m / m.amax(-1, keepdim=True).clamp(min=1e-6)
        word_noun = [forms.get(w) for w in vocab.itos]
        slots = torch.full((tokens.shape[0], tokens.shape[1] - 1), -1, dtype=torch.long)   # (P, T - 1)
        for k, (i, seq) in enumerate(zip(img.tolist(), tokens[:, 1:].tolist())):
            for t, v in enumerate(seq):
                if word_noun[v] in nouns[i]:
                    slots[k, t] = nouns[i].index(word_noun[v])
        self.img, self.slots = img, slots

    def weights(self, idx: torch.Tensor, steps: int) -> torch.Tensor:
        """(B, steps, L) weights for the pairs idx (all-zero rows where the word names no object)."""
        m = self.masks[self.img[idx]]                                      # (B, MAX_NOUNS, L)
        s = self.slots[idx, :steps]                                        # (B, steps)
        picked = m.gather(1, s.clamp(min=0)[..., None].expand(-1, -1, m.shape[-1]))   # (B, steps, L)
        return picked * (s >= 0)[..., None]


def attention_mass_loss(alphas: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over object words of -log(attention mass on the object); alphas and weights are (B, T, L)."""
    named = weights.sum(-1) > 0                                            # (B, T)
    if not named.any():
        return alphas.new_zeros(())
    mass = (alphas * weights).sum(-1)[named]                               # (n,)
    return -torch.log(mass + 1e-6).mean()
