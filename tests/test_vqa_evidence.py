"""Noun evidence and supervised attention for photo-world VQA: the named noun's concept channel is the evidence,
it steers attention and feeds the count pathway only when the question names a concept noun, the checkpoint
keeps the word-to-concept map, and the attention targets are the masks of what each real question is about."""
import numpy as np
import pytest
import torch

from core.common.words import QUESTION_SPECIALS, WordVocab
from core.vision.concepts import concept_nouns, copy_map
from core.vision.photos import make_photo
from core.vqa.checkpoint import load_vqa, save_vqa
from core.vqa.evidence import CountPathway, named_concepts, noun_evidence
from core.vqa.model import StackedAttentionVQA, VQAConfig, vqa_loss
from core.vqa.photo_data import attention_targets, photo_vqa_split

WORDS = ["<pad>", "<unk>", "how", "many", "dogs", "are", "there", "what", "is", "this", "cat"]
K = len(concept_nouns())


def encode(text: str) -> torch.Tensor:
    return torch.tensor([[WORDS.index(w) for w in text.split()]])                # (1, T)


@pytest.fixture(scope="module")
def words_to_concepts():
    return copy_map(WORDS)                                                       # (K, V)


def grid_with(noun: str, cell: int, cells: int = 9, lift: float = 5.0) -> torch.Tensor:
    """(1, cells, K) concept log-lifts: flat, with `noun` strong at one cell."""
    grid = torch.zeros(1, cells, K)
    grid[0, cell, concept_nouns().index(noun)] = lift
    return grid


def test_the_named_nouns_channel_is_the_evidence(words_to_concepts):
    named = named_concepts(encode("how many dogs are there"), words_to_concepts)
    assert named.sum() == 1 and named[0, concept_nouns().index("dog")] == 1
    ev = noun_evidence(grid_with("dog", 4), encode("how many dogs are there"), words_to_concepts)
    assert ev.shape == (1, 9) and ev[0, 4] == 5.0 and ev[0].abs().sum() == 5.0
    assert noun_evidence(grid_with("dog", 4), encode("is there cat"), words_to_concepts).abs().sum() == 0
    assert noun_evidence(grid_with("dog", 4), encode("what is this"), words_to_concepts).abs().sum() == 0


def test_count_pathway_reads_evidence_only_for_a_named_noun(words_to_concepts):
    torch.manual_seed(0)
    path = CountPathway(16)
    one, two = torch.zeros(1, 9), torch.zeros(1, 9)
    one[0, 2], two[0, [2, 6]] = 5.0, 5.0
    asked = encode("how many dogs are there")
    assert not torch.allclose(path(one, asked, words_to_concepts), path(two, asked, words_to_concepts))
    assert path(one, encode("what is this"), words_to_concepts).abs().sum() == 0
    assert path(torch.zeros(1, 4), asked, words_to_concepts).shape == (1, 16)      # a grid smaller than its top


def evidence_model() -> StackedAttentionVQA:
    torch.manual_seed(0)
    cfg = VQAConfig(len(WORDS), 5, feature_dim=6, grid=3, embed_size=8, hidden_size=16, attention_size=8,
                    concepts=K, noun_evidence=True)
    model = StackedAttentionVQA(cfg).eval()
    model.copy_map.copy_(copy_map(WORDS))
    return model


def test_evidence_steers_attention_toward_the_named_noun():
    model = evidence_model()
    feats = torch.cat([torch.randn(1, 9, 6), grid_with("dog", 7)], -1)           # (1, L, D + K)
    with torch.no_grad():
        model.evidence_gate.bias.fill_(3.0)                     # the gain of each hop, whatever the question
        _, asked, _ = model(encode("how many dogs are there"), feats)
        _, other, _ = model(encode("what is this"), feats)
    assert torch.allclose(asked.sum(-1), torch.ones(1, 2), atol=1e-6)
    assert (asked[0, :, 7] > 0.9).all() and (other[0, :, 7] < 0.5).all()
    with pytest.raises(ValueError, match="concepts"):
        StackedAttentionVQA(VQAConfig(len(WORDS), 5, noun_evidence=True))


def test_checkpoint_keeps_the_word_to_concept_map(tmp_path):
    model = evidence_model()
    blind = StackedAttentionVQA(VQAConfig(len(WORDS), 5, feature_dim=6, grid=3, embed_size=8, hidden_size=16,
                                          attention_size=8, hops=0, use_image=False))
    save_vqa(tmp_path / "m", model, blind, WordVocab(WORDS, QUESTION_SPECIALS), [f"a{i}" for i in range(5)], {}, half=True)
    back = load_vqa(tmp_path / "m").model
    assert back.cfg.noun_evidence and torch.equal(back.copy_map, model.copy_map) and back.copy_map.sum() == 2


def test_supervised_attention_loss_only_where_there_is_something_to_look_at():
    model = evidence_model()
    tokens = torch.cat([encode("how many dogs are there"), encode("how many dogs are there")])
    feats = torch.cat([torch.randn(2, 9, 6), grid_with("dog", 7).expand(2, -1, -1)], -1)
    batch = (tokens, feats, torch.arange(2), torch.tensor([1, 2]), torch.randint(1, 10, (2, 4, 2)),
             torch.tensor([0, 3]))
    plain, _ = vqa_loss(model, *batch)
    nothing, _ = vqa_loss(model, *batch, attention_targets=torch.zeros(2, 9), attention_weight=1.0)
    looks = torch.zeros(2, 9)
    looks[0, 0] = 1.0                                                            # a cell the evidence avoids
    guided, _ = vqa_loss(model, *batch, attention_targets=looks, attention_weight=1.0)
    assert torch.isclose(plain, nothing) and guided > plain + 1.0


@pytest.mark.slow
def test_attention_targets_are_the_masks_of_what_each_question_is_about(tmp_path):
    from core.vision.worlds import photo_masks
    n = 6
    masks, nouns = photo_masks("val", n, 0, tmp_path, 12)
    split = photo_vqa_split("val", n, 0, np.zeros((n, 144, 1), np.float16), None)
    looks = attention_targets(split, masks, nouns).numpy()                        # (Q, 144)
    assert looks.shape == (len(split.photo_questions), 144)
    for k, q in enumerate(split.photo_questions):
        if not q.objects:
            assert looks[k].sum() == 0
            continue
        assert looks[k].max() == pytest.approx(1.0)
        scene = make_photo(q.seed)
        best = int(looks[k].argmax())
        r, c = divmod(best, 12)
        cell = q.mask(scene)[r * 448 // 12:(r + 1) * 448 // 12, c * 448 // 12:(c + 1) * 448 // 12]
        assert cell.any(), (q.text, best)
