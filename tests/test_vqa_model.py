"""Stacked attention VQA: shapes, attention sums to 1, checkpoint round trip, and a tiny trained model whose
image helps (it beats its question-only baseline on real easy-VQA questions it was not trained on)."""
import json

import numpy as np
import pytest
import torch

from core.common.words import QUESTION_SPECIALS, WordVocab
from core.vqa.batches import candidate_sets
from core.vqa.checkpoint import VQACheckpointError, load_vqa, save_vqa
from core.vqa.data import answer_list, load_split, select_images
from core.vqa.model import StackedAttentionVQA, VQAConfig
from core.vqa.pipeline import answer_question, choose


def tiny(use_image: bool = True, **kw) -> StackedAttentionVQA:
    torch.manual_seed(0)
    cfg = VQAConfig(vocab_size=12, n_answers=5, feature_dim=6, grid=3, embed_size=8, hidden_size=16,
                    attention_size=8, hops=2 if use_image else 0, use_image=use_image, **kw)
    return StackedAttentionVQA(cfg).eval()


def test_shapes_and_attention_sums_to_one():
    model = tiny()
    tokens = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0], [2, 3, 4, 5]])       # (B=3, T=4), padded
    feats = torch.randn(2, 9, 6)                                             # 2 images, L = 9
    image_index = torch.tensor([0, 1, 1])
    logits, alphas, u = model(tokens, feats, image_index)
    assert logits.shape == (3, 5) and alphas.shape == (3, 2, 9) and u.shape == (3, 16)
    assert torch.allclose(alphas.sum(-1), torch.ones(3, 2), atol=1e-6)
    same, _, _ = model(tokens, feats[image_index])                          # one grid per question
    assert torch.allclose(same, logits, atol=1e-5)
    scores = model.score_candidates(u, torch.tensor([[[3], [4], [5], [0]]] * 3))
    assert scores.shape == (3, 4)
    blind, no_maps, _ = tiny(use_image=False)(tokens)
    assert blind.shape == (3, 5) and no_maps.shape == (3, 0, 0)


def test_multiple_choice_joins_the_scorer_and_the_classifier_when_it_knows_every_candidate():
    model = tiny()
    logits, _, u = model(torch.tensor([[3, 4, 5]]), torch.randn(1, 9, 6))
    cands = torch.tensor([[[3], [4], [5], [0]]])                             # (1, 4, 1): the last slot is empty
    scorer = torch.log_softmax(model.score_candidates(u, cands)[:, :3], -1)  # (1, 3)
    known = model.candidate_logprobs(logits, u, cands, torch.tensor([[2, 0, 4, 5]]))
    assert torch.isinf(known[0, 3]) and known[0, 3] < 0
    classifier = torch.log_softmax(logits, -1)[0, [2, 0, 4]]
    assert torch.allclose(known[0, :3], scorer[0] + classifier, atol=1e-5)
    unknown = model.candidate_logprobs(logits, u, cands, torch.tensor([[2, -1, 4, 5]]))  # one outside the answers
    assert torch.allclose(unknown[0, :3], scorer[0], atol=1e-5)


def test_padding_does_not_change_the_answer():
    model = tiny()
    feats = torch.randn(1, 9, 6)
    a, _, _ = model(torch.tensor([[3, 4, 5]]), feats)
    b, _, _ = model(torch.tensor([[3, 4, 5, 0, 0]]), feats)
    assert torch.allclose(a, b, atol=1e-6)


def test_candidate_sets_hold_the_answer_and_same_kind_distractors():
    answers = answer_list()
    ids = np.array([answers.index(a) for a in ("red", "circle", "yes")])
    cands, target = candidate_sets(ids, answers, np.random.default_rng(0))
    assert [int(cands[k, target[k]]) for k in range(3)] == list(ids)
    assert {answers[c] for c in cands[1] if c < len(answers)} == {"circle", "rectangle", "triangle"}
    assert {answers[c] for c in cands[2] if c < len(answers)} == {"yes", "no"}
    assert (cands[0] < len(answers)).all() and len(set(cands[0])) == 4


def test_checkpoint_round_trip_and_clear_errors(tmp_path):
    model, blind = tiny(), tiny(use_image=False)
    vocab = WordVocab(["<pad>", "<unk>"] + [f"w{i}" for i in range(10)], QUESTION_SPECIALS)
    out = save_vqa(tmp_path / "m", model, blind, vocab, [f"a{i}" for i in range(5)], {"x": 1}, half=True)
    assert json.loads((out / "config.json").read_text())["kind"] == "vqa"
    ckpt = load_vqa(out)
    tokens, feats = torch.tensor([[2, 3]]), torch.randn(1, 9, 6)
    assert torch.allclose(ckpt.model(tokens, feats)[0], model(tokens, feats)[0], atol=2e-2)
    ans = answer_question(ckpt, feats, "w0 w1 zzz")
    assert ans.alphas.shape == (2, 3, 3) and ans.saliency.shape == (3,) and ans.question.unknown == ["zzz"]
    assert abs(choose(ckpt, feats, "w0", ["a1", "a2"]).sum() - 1) < 1e-5
    assert not any(p.grad is not None for p in ckpt.model.parameters())   # saliency leaves weights alone
    (out / "config.json").write_text(json.dumps({"kind": "captioner"}))
    with pytest.raises(VQACheckpointError, match="'captioner' model, not a vqa model"):
        load_vqa(out)
    (out / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(VQACheckpointError):
        load_vqa(out)
    with pytest.raises(VQACheckpointError, match="not a checkpoint directory"):
        load_vqa(tmp_path / "nothing")


def pixel_grids(split, grid: int = 8) -> np.ndarray:
    """(N, grid*grid, 27) fp16: each image shrunk to a grid of cells, each cell's colour one-hot in 3 x 3 x 3
    bins; a fast stand-in for the CNN grid."""
    rgb = np.stack([np.asarray(split.image(i).resize((grid, grid)), dtype=np.int64).reshape(-1, 3) * 3 // 256
                    for i in range(len(split.paths))])                    # (N, grid*grid, 3) in 0..2
    return np.eye(27, dtype=np.float16)[rgb @ np.array([9, 3, 1])]


@pytest.mark.slow
def test_tiny_trained_model_beats_the_question_only_baseline(tmp_path):
    from core.common.io import OutputError
    from core.vqa.train import VQATrainConfig, train
    full = load_split("train")
    train_split = select_images(full, np.arange(200), "train-200")
    test_split = select_images(load_split("test"), np.arange(60), "test-60")
    train_split.feats, test_split.feats = pixel_grids(train_split), pixel_grids(test_split)
    a = VQATrainConfig(out=str(tmp_path / "tiny"), embed_size=16, hidden_size=32, attention_size=16, max_steps=200,
                       eval_every=100, batch_images=8, lr=1e-2, seed=0, device="cpu")
    out, metrics = train(a, {"train": train_split, "test": test_split}, log=lambda m: None)
    full_acc, blind_acc = metrics["accuracy"], metrics["question_only"]
    assert full_acc["what colour"]["accuracy"] > blind_acc["what colour"]["accuracy"] + 0.3
    assert full_acc["all"]["accuracy"] > blind_acc["all"]["accuracy"]
    card = load_vqa(out).card
    assert card["test"]["accuracy"]["all"]["accuracy"] == full_acc["all"]["accuracy"]
    assert card["command"].startswith("python -m core.cli.vqa_train") and card["hardware"].startswith("cpu: ")
    before = (out / "model.safetensors").read_bytes()
    with pytest.raises(OutputError, match="already holds a checkpoint; pass --overwrite"):
        train(a, {"train": train_split, "test": test_split}, log=lambda m: None)
    assert (out / "model.safetensors").read_bytes() == before
