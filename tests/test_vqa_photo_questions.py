"""Photo-world questions: answers true to the scene (read back from the text), four distinct candidates of one
kind with exactly one correct, balanced yes/no, masks of the right objects, deterministic and cached, split by
stamp file with no leak into val/test."""
import re

import numpy as np
import pytest

from core.vision.photo_stamps import noun_forms
from core.vision.photos import make_photo, split_seeds, stamp_splits
from core.vqa.batches import Batcher
from core.vqa.data import question_vocab
from core.vqa.photo_data import photo_vqa_split
from core.vqa.photo_questions import (
    COUNTS,
    PHOTO_TYPES,
    answer_pool,
    categories,
    photo_answers,
    scene_questions,
    split_questions,
)


@pytest.fixture(scope="module")
def scenes():
    """Ten scenes of each split with their questions."""
    return {split: [(s, scene_questions(s)) for s in map(make_photo, split_seeds(split, 10))]
            for split in ("train", "val", "test")}


def named(text: str) -> str:
    """The catalogue noun a question names (its last noun word)."""
    forms = noun_forms()
    return [forms[w] for w in re.findall(r"[a-z]+", text) if w in forms][-1]


@pytest.mark.slow
def test_answers_are_true_to_the_scene(scenes):
    kinds = set()
    for scene, questions in (pair for pairs in scenes.values() for pair in pairs):
        nouns = [o.noun for o in scene.objects]
        for q in questions:
            kinds.add(q.kind)
            if q.kind == "object":
                assert nouns == [q.answer]
            elif q.kind == "colour":
                (obj,) = [o for o in scene.objects if o.noun == named(q.text)]
                assert q.answer == obj.colour
            elif q.kind == "count":
                assert q.answer == COUNTS[nouns.count(named(q.text))]
            elif q.kind == "yes/no":
                assert q.answer == ("yes" if named(q.text) in nouns else "no")
            else:
                ref = next(o for o in scene.objects if o.noun == named(q.text))
                ans = next(o for o in scene.objects if o.noun == q.answer)
                assert len(scene.objects) == 2 and (ans.x < ref.x) == ("left" in q.text)
    assert kinds == set(PHOTO_TYPES)


def test_multiple_choice_has_four_distinct_candidates_of_one_kind_one_correct(scenes):
    for _, questions in (pair for pairs in scenes.values() for pair in pairs):
        for q in questions:
            if q.kind == "yes/no":
                assert q.candidates == ()
                continue
            assert len(q.candidates) == 4 and len(set(q.candidates)) == 4
            assert q.candidates.count(q.answer) == 1
            assert set(q.candidates) <= set(answer_pool(q.answer, q.text))
            if q.kind in ("object", "relation"):
                assert len({categories()[c] for c in q.candidates}) == 1
    assert answer_pool("orange", "what colour is the fish?") != answer_pool("orange", "what fruit is this?")
    assert set(photo_answers()) >= {"yes", "no", "zero", "three", "grey", "dog", "orange"}


def test_yes_no_is_balanced_and_masks_are_the_objects(scenes):
    answers = [q.answer for _, qs in scenes["train"] for q in qs if q.kind == "yes/no"]
    assert answers.count("yes") == answers.count("no") == len(scenes["train"])
    for scene, questions in scenes["test"]:
        for q in questions:
            mask = q.mask(scene)
            if q.answer in ("no", "zero"):
                assert mask is None
                continue
            wanted = [o.mask for o in scene.objects if o.noun == (q.answer if q.kind in ("object", "relation")
                                                                  else named(q.text))]
            assert np.array_equal(mask, np.any(wanted, axis=0))


def test_questions_are_deterministic_and_cached(tmp_path):
    fresh = split_questions("val", 3, 0)
    assert split_questions("val", 3, 0, tmp_path) == fresh
    assert list(tmp_path.glob("photo-questions-*-val-0.json"))
    assert split_questions("val", 3, 0, tmp_path) == fresh == split_questions("val", 3, 0)
    assert {q.seed for q in fresh} == set(split_seeds("val", 3))


def test_val_and_test_questions_are_about_held_out_stamps(scenes):
    train_stamps = {p for _, p in stamp_splits()["train"]}
    for split in ("val", "test"):
        stamps = {o.stamp for scene, _ in scenes[split] for o in scene.objects}
        assert stamps and not stamps & train_stamps
    assert {o.stamp for scene, _ in scenes["train"] for o in scene.objects} <= train_stamps
    assert not set(split_seeds("train", 6000)) & (set(split_seeds("test", 300)) | set(split_seeds("val", 250)))


def test_batcher_uses_the_fixed_candidates():
    split = photo_vqa_split("val", 4, 0, np.zeros((4, 9, 6), np.float16), None)
    answers = photo_answers()
    b = Batcher(split, question_vocab(split.questions + answers), answers)
    for k, q in enumerate(split.photo_questions):
        picked = [answers[i] for i in b.candidates[k].tolist() if i < len(answers)]
        assert picked == list(q.candidates or ("yes", "no")) and picked[int(b.target[k])] == q.answer


def test_photo_features_projects_raw_grids_with_the_frozen_layer():
    import torch

    from core.vision.worlds import CaptionSplit
    from core.vqa.photo_data import photo_features
    raw = CaptionSplit(np.random.default_rng(0).normal(size=(3, 4, 10)).astype(np.float16), [[]] * 3, ["1", "2", "3"])
    layer = torch.nn.Linear(10, 2)
    out = photo_features(raw, layer, 2)
    assert out.shape == (3, 4, 2) and out.dtype == np.float16
    expected = layer(torch.from_numpy(raw.feats.astype(np.float32))).detach().numpy()
    np.testing.assert_allclose(out.astype(np.float32), expected, atol=1e-2)
    np.testing.assert_array_equal(photo_features(raw), raw.feats)


def test_vqa_model_with_concepts_reads_raw_grids_like_pre_read_ones():
    import torch

    from core.vision.concepts import NOUN_CLASSES, ConceptLayer
    from core.vision.readout import imagenet_layer
    from core.vqa.model import StackedAttentionVQA, VQAConfig
    torch.manual_seed(0)
    k = len(NOUN_CLASSES)
    model = StackedAttentionVQA(VQAConfig(9, 5, 8, 3, 8, 16, 8, encoder="late", input_dim=1280, concepts=k)).eval()
    model.concepts.load_state_dict(ConceptLayer(imagenet_layer()).state_dict())
    raw = torch.randn(2, 9, 1280)
    read = model.read(raw)
    assert read.shape == (2, 9, 8 + k)
    tokens = torch.tensor([[3, 4, 2], [5, 2, 0]])
    logits, alphas, _ = model(tokens, raw)
    again, _, _ = model(tokens, read)
    assert logits.shape == (2, 5) and torch.allclose(logits, again, atol=1e-5)
    assert torch.allclose(alphas.sum(-1), torch.ones(2, 2))
