"""Concepts: ImageNet classes pooled into photo-world nouns, and the decoder that reads them."""
import numpy as np
import pytest
import torch
from PIL import Image

from core.caption.model import (
    AttentionDecoder,
    DecoderConfig,
    load_captioner,
    save_captioner,
)
from core.common.words import WordVocab
from core.vision.concepts import (
    NOUN_CLASSES,
    ConceptLayer,
    class_to_noun_matrix,
    concept_nouns,
    copy_map,
)
from core.vision.encoder import Encoder, to_input
from core.vision.imagenet import class_name
from core.vision.photo_stamps import NOUNS
from core.vision.readout import imagenet_layer


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
                        dropout=0.0, encoder="late", input_dim=1280, concepts=k, copy=True)
    model = AttentionDecoder(cfg)
    model.concepts = ConceptLayer(imagenet_layer())
    vocab = WordVocab(["<pad>", "<start>", "<end>", "<unk>", "a", "cat", "dogs", "x"])
    model.copy_map.copy_(copy_map(vocab.itos))
    raw = torch.randn(2, 9, 1280)
    read = model.read(raw)
    assert read.shape == (2, 9, 16 + k)
    tokens = torch.tensor([[1, 4, 5, 2], [1, 6, 2, 0]])
    logits, alphas = model.eval()(raw, tokens)
    same, _ = model(read, tokens)                                  # pre-read annotations: the same decoder
    assert logits.shape == (2, 3, 8) and torch.allclose(logits, same, atol=1e-5)
    assert torch.allclose(alphas.sum(-1), torch.ones(2, 3))
    loaded = load_captioner(save_captioner(tmp_path / "ck", model, vocab, {}))
    again, _ = loaded.model(raw, tokens)
    assert torch.allclose(again, logits, atol=0.05)                # fp16 weights on disk
    np.testing.assert_array_equal(loaded.model.concepts.to_nouns.numpy(), class_to_noun_matrix().numpy())
    np.testing.assert_array_equal(loaded.model.copy_map.numpy(), model.copy_map.numpy())


def test_copy_map_links_each_concept_to_its_singular_and_plural_words():
    itos = ["<pad>", "<start>", "<end>", "<unk>", "a", "cat", "cats", "people", "person", "deer", "tree"]
    m = copy_map(itos)
    nouns = concept_nouns()
    assert m.shape == (len(nouns), len(itos)) and m.sum() == 4
    assert m[nouns.index("cat"), 5] == m[nouns.index("cat"), 6] == 1
    assert m[nouns.index("person"), 7] == m[nouns.index("person"), 8] == 1
    assert m[:, 9].sum() == m[:, 10].sum() == 0                   # no ImageNet concept: deer, tree


def test_the_copy_path_moves_the_noun_the_attended_concept_names():
    torch.manual_seed(0)
    k = len(NOUN_CLASSES)
    cfg = DecoderConfig(vocab_size=7, feature_dim=4, grid=2, embed_size=8, hidden_size=8, attention_size=8,
                        dropout=0.0, encoder="late", input_dim=1280, concepts=k, copy=True)
    model = AttentionDecoder(cfg).eval()
    model.copy_map.copy_(copy_map(["<pad>", "<start>", "<end>", "<unk>", "a", "cat", "dog"]))
    read = torch.zeros(1, 4, 4 + k)
    cat_said = read.clone()
    cat_said[..., 4 + concept_nouns().index("cat")] = 5.0          # every cell: a strong cat concept
    tokens = torch.tensor([[1, 4]])
    plain, _ = model(read, tokens)
    lifted, _ = model(cat_said, tokens)
    gain = (lifted - plain)[0, 0]
    assert gain[5] > 0.5 and gain[5] > 5 * gain[6].abs()         # "cat" rises, "dog" barely moves


@pytest.mark.slow
def test_trainer_with_concepts_writes_a_captioner_that_reads_them(tmp_path):
    from core.caption.model import load_captioner
    from core.cli import caption_train
    out = tmp_path / "ck"
    rc = caption_train.main(["--world", "photos", "--encoder", "late", "--project-dim", "8", "--concepts",
                             "--copy", "--feature-drop", "0.5", "--attend-nouns", "0.5", "--train-scenes", "6", "--val-scenes", "2", "--no-test",
                             "--max-steps", "2", "--eval-every", "1", "--cache-dir", str(tmp_path / "cache"),
                             "--device", "cpu", "--out", str(out)])
    assert rc == 0
    ck = load_captioner(out)
    assert ck.model.cfg.concepts == len(NOUN_CLASSES) and ck.model.cfg.feature_drop == 0.5 and ck.model.cfg.copy
    assert ck.model.copy_map.sum() >= 2                            # the nouns of six training scenes
    assert "concepts" in ck.card["encoder"]
    np.testing.assert_array_equal(ck.model.concepts.to_nouns.numpy(), class_to_noun_matrix().numpy())
    assert caption_train.main(["--concepts", "--out", str(tmp_path / "x")]) == 2     # needs late + projection
    assert caption_train.main(["--copy", "--out", str(tmp_path / "x")]) == 2         # needs --concepts
    assert caption_train.main(["--attend-nouns", "1", "--out", str(tmp_path / "x")]) == 2   # needs object masks


@pytest.mark.slow
def test_caveat_when_the_cnn_disagrees_with_the_captions_noun():
    from core.caption.pipeline import unfamiliar
    ck = load_captioner("checkpoints/captioner-photos")
    words = ["a", "photo", "of", "a", "cat"]
    assert unfamiliar(ck, words, -0.5, [(281, "tabby cat"), (285, "Egyptian Mau")]) is None
    warning = unfamiliar(ck, words, -0.5, [(657, "missile"), (744, "projectile")])
    assert warning and "top 5 (missile, projectile) has no cat" in warning
    deer = unfamiliar(ck, ["a", "deer"], -0.5, [(657, "missile")])             # no concept: not checkable
    assert deer is None or "has no" not in deer
