"""Supervised attention targets from photo-world masks, and the attention-mass loss."""
import numpy as np
import pytest
import torch

from core.common.words import WordVocab
from core.vision.grounded import NounAttentionTargets, attention_mass_loss
from core.vision.photos import make_photo, split_seeds
from core.vision.worlds import MAX_NOUNS, noun_grid_masks, photo_masks


def test_grid_masks_follow_the_objects_and_are_cached(tmp_path):
    masks, nouns = photo_masks("val", 3, 0, tmp_path, 12)
    assert masks.shape == (3, MAX_NOUNS, 144) and len(nouns) == 3
    for seed, m, ns in zip(split_seeds("val", 3), masks, nouns):
        scene = make_photo(seed)
        assert ns == list(dict.fromkeys(o.noun for o in scene.objects))
        for k, noun in enumerate(ns):
            union = np.any([o.mask for o in scene.objects if o.noun == noun], axis=0)
            assert abs(float(m[k].astype(np.float32).mean()) - union.mean()) < 0.02   # pooled area fraction
        assert not m[len(ns):].any()
    again, _ = photo_masks("val", 3, 0, tmp_path, 12)                  # read back from the cache
    np.testing.assert_array_equal(again, masks)


def test_targets_weight_only_the_words_that_name_an_object():
    vocab = WordVocab(["<pad>", "<start>", "<end>", "<unk>", "a", "cat", "cats", "dog", "on"])
    tokens = torch.tensor([[1, 4, 5, 8, 7, 2],                          # <start> a cat on dog <end>
                           [1, 6, 2, 0, 0, 0]])                         # <start> cats <end>
    masks = np.zeros((2, MAX_NOUNS, 4), np.float16)
    masks[0, 0] = [0.5, 0.25, 0, 0]                                     # image 0: cat, then (not) dog
    masks[1, 0] = [0, 0, 1, 1]
    targets = NounAttentionTargets(masks, [["cat"], ["cat"]], torch.tensor([0, 1]), tokens, vocab)
    w = targets.weights(torch.tensor([0, 1]), 5)                        # (2, 5, 4)
    assert torch.allclose(w[0, 1], torch.tensor([1.0, 0.5, 0, 0]))    # "cat": scaled so the best cell is 1
    assert w[0, [0, 2, 3, 4]].abs().sum() == 0                          # a, on, dog (not in image 0), <end>
    assert torch.allclose(w[1, 0], torch.tensor([0, 0, 1.0, 1.0])) and w[1, 1:].abs().sum() == 0


def test_attention_mass_loss():
    w = torch.zeros(1, 2, 4)
    w[0, 0] = torch.tensor([1.0, 1.0, 0, 0])
    inside = torch.tensor([[[0.5, 0.5, 0, 0], [0.25] * 4]])
    uniform = torch.full((1, 2, 4), 0.25)
    assert float(attention_mass_loss(inside, w)) == pytest.approx(0, abs=1e-5)
    assert float(attention_mass_loss(uniform, w)) == pytest.approx(-np.log(0.5), abs=1e-5)
    assert float(attention_mass_loss(uniform, torch.zeros(1, 2, 4))) == 0


def test_noun_grid_masks_of_an_empty_scene():
    masks, nouns = noun_grid_masks([], 12)
    assert nouns == [] and masks.shape == (MAX_NOUNS, 144) and not masks.any()
