"""Concepts: ImageNet classes pooled into photo-world nouns, and the decoder that reads them."""
import numpy as np
import pytest
import torch
from PIL import Image

from core.caption.concepts import NOUN_CLASSES, ConceptLayer, class_to_noun_matrix, concept_nouns
from core.caption.encoder import Encoder, to_input
from core.caption.imagenet import class_name
from core.caption.model import AttentionDecoder, DecoderConfig, load_captioner, save_captioner
from core.caption.data import WordVocab
from core.caption.photo_stamps import NOUNS
from core.caption.train import imagenet_layer


def test_every_concept_is_a_photo_world_noun_and_no_class_is_shared():
    assert set(NOUN_CLASSES) <= set(NOUNS)
    m = class_to_noun_matrix()
    assert m.shape == (1000, len(NOUN_CLASSES)) and m.sum(1).max() == 1      # a class names at most one noun
    assert all(m[:, k].sum() >= 1 for k in range(m.shape[1]))


@pytest.mark.parametrize("noun, names", [
    ("cat", {"tabby cat", "Persian cat", "lion", "tiger"}),
    ("dog", {"Golden Retriever", "Beagle", "red fox"}),
    ("bird", {"rooster", "bald eagle", "flamingo", "king penguin"}),
    ("fish", {"goldfish", "clownfish"}),
    ("car", {"sports car", "convertible", "taxicab"}),
    ("cup", {"coffee mug", "espresso"}),
    ("banana", {"banana"}),
])
def test_noun_classes_match_the_pinned_class_names(noun, names):
    assert names <= {class_name(i) for i in NOUN_CLASSES[noun]}


def test_concepts_of_a_real_cat_photo_say_cat():
    import skimage.data
    enc = Encoder("late")
    feats = enc(to_input([Image.fromarray(skimage.data.chelsea())], enc.input_size))[0]   # (144, 1280)
    lifts = ConceptLayer(imagenet_layer())(feats)                                          # (144, K)
    assert lifts.shape == (144, len(NOUN_CLASSES))
    assert concept_nouns()[int(lifts.mean(0).argmax())] == "cat"


def test_decoder_with_concepts_reads_raw_annotations_and_round_trips(tmp_path):
    torch.manual_seed(0)
    k = len(NOUN_CLASSES)
    cfg = DecoderConfig(vocab_size=8, feature_dim=16, grid=3, embed_size=8, hidden_size=16, attention_size=8,
                        dropout=0.0, encoder="late", input_dim=1280, concepts=k)
    model = AttentionDecoder(cfg)
    model.concepts = ConceptLayer(imagenet_layer())
    raw = torch.randn(2, 9, 1280)
    read = model.read(raw)
    assert read.shape == (2, 9, 16 + k)
    tokens = torch.tensor([[1, 4, 5, 2], [1, 6, 2, 0]])
    logits, alphas = model.eval()(raw, tokens)
    same, _ = model(read, tokens)                                  # pre-read annotations: the same decoder
    assert logits.shape == (2, 3, 8) and torch.allclose(logits, same, atol=1e-5)
    assert torch.allclose(alphas.sum(-1), torch.ones(2, 3))
    vocab = WordVocab(["<pad>", "<start>", "<end>", "<unk>", "a", "cat", "dog", "x"])
    loaded = load_captioner(save_captioner(tmp_path / "ck", model, vocab, {}))
    again, _ = loaded.model(raw, tokens)
    assert torch.allclose(again, logits, atol=0.05)                # fp16 weights on disk
    np.testing.assert_array_equal(loaded.model.concepts.to_nouns.numpy(), class_to_noun_matrix().numpy())
