"""Probe scores find a planted quote cell; matching finds a model's own cells in a unit-permuted copy."""
import copy
import json
import re

import numpy as np
import pytest
import torch

from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.vocab import Vocab
from core.lens.activations import extract
from core.lens.emergence import probe_record, probe_scores
from core.lens.matching import correlation, counterpart, match_cells
from tests.planted import paren_lstm, paren_text

CURLY = Vocab(["\ufffd", "\u201c", "\u201d", "x", "y"])  # the paren model's brackets read as curly quotes


def test_probe_scores_find_the_planted_quote_cell_and_skip_constant_signals():
    text, _ = paren_text(800)
    text = text.replace("(", "\u201c").replace(")", "\u201d")
    scores = probe_scores(paren_lstm(), CURLY, text)
    q = scores["quote"]
    assert (q.layer, q.unit, q.metric) == (0, 0, "auc") and q.score > 0.99  # c or h = tanh(c): both perfect
    assert scores["comment"] is None and scores["brace_depth"] is None  # constant on this text
    rec = probe_record(scores)
    assert rec["quote"]["unit"] == 0 and rec["comment"] is None
    json.dumps(rec)


def permuted_copy(model: CharRNN, perms: list[torch.Tensor]) -> CharRNN:
    """The same LSTM with the hidden units of each layer renumbered by perms[l]: it computes the same function."""
    out = copy.deepcopy(model)
    H, rnn = model.config.hidden_size, out.rnn
    with torch.no_grad():
        for l, p in enumerate(perms):
            rows = torch.cat([g * H + p for g in range(4)])  # the unit's row in each gate block
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(rnn, f"{name}_l{l}").copy_(getattr(rnn, f"{name}_l{l}")[rows])
            getattr(rnn, f"weight_hh_l{l}").copy_(getattr(rnn, f"weight_hh_l{l}")[:, p])
            if l + 1 < len(perms):
                getattr(rnn, f"weight_ih_l{l + 1}").copy_(getattr(rnn, f"weight_ih_l{l + 1}")[:, p])
        out.head.weight.copy_(out.head.weight[:, perms[-1]])
    return out


def test_matching_recovers_a_unit_permutation():
    torch.manual_seed(0)
    vocab = Vocab.from_text("abcdefgh \n")
    model = CharRNN(CharRNNConfig(len(vocab), "lstm", 2, 12)).eval()
    g = torch.Generator().manual_seed(1)
    perms = [torch.randperm(12, generator=g) for _ in range(2)]
    twin = permuted_copy(model, perms)
    text = "".join(np.random.default_rng(0).choice(list("abcdefgh \n"), 600))
    a, b = extract(model, vocab, text), extract(twin, vocab, text)
    assert torch.allclose(model(torch.tensor([vocab.encode(text)]))[0], twin(torch.tensor([vocab.encode(text)]))[0],
                          atol=1e-5)
    m = match_cells(a, b)
    for l, p in enumerate(perms):
        for new, old in enumerate(p.tolist()):  # unit `new` of the twin is unit `old` of the model
            assert m.pairs[(l, old)] == ((l, new), pytest.approx(1.0, abs=1e-4))
    assert counterpart(m, (1, 3))[0] is not None


def test_matching_rejects_different_texts_and_respects_min_r():
    torch.manual_seed(0)
    vocab = Vocab.from_text("ab")
    models = [CharRNN(CharRNNConfig(len(vocab), cell, 1, 4)).eval() for cell in ("gru", "rnn")]
    a, b = extract(models[0], vocab, "abba" * 20), extract(models[1], vocab, "abba" * 21)
    with pytest.raises(ValueError):
        correlation(a, b)
    m = match_cells(a, extract(models[1], vocab, "abba" * 20))
    assert len(m.pairs) == 4 and counterpart(m, (0, 0), min_r=1.01)[0] is None


@pytest.mark.parametrize("module", ["core.cli.emergence", "core.cli.matching", "core.cli.error_analysis"])
def test_clis_explain_a_missing_checkpoint(module, tmp_path, capsys):
    import importlib

    missing = str(tmp_path / "none")
    argv = {"core.cli.matching": ["--a", missing, "--b", missing]}.get(module, ["--checkpoint", missing])
    assert importlib.import_module(module).main(argv) == 2
    assert "is not a checkpoint directory" in capsys.readouterr().err


def test_retrain_timeline_probes_every_checkpoint(tmp_path):
    from core.lens.emergence import retrain_timeline
    from tests.tiny_checkpoint import tiny_config

    timeline = retrain_timeline(tiny_config(tmp_path / "run", max_steps=6, checkpoint_every=3), probe_chars=800)
    assert [e["step"] for e in timeline] == [3, 6]
    line = timeline[-1]["probe"]["line_position"]
    assert line["metric"] == "r" and 0 < line["score"] <= 1


def test_a_retrain_attached_to_a_checkpoint_is_drawn_until_the_model_has_probes_of_its_own(tmp_path, tiny_checkpoint):
    import shutil

    from core.charlm.checkpoint import load_checkpoint
    from core.cli.emergence import main
    from core.common.io import replace_json
    from core.lens.emergence import emergence_timeline

    ckpt = shutil.copytree(tiny_checkpoint, tmp_path / "shipped")
    old = load_checkpoint(ckpt).samples  # as a model trained before the trainer recorded probes
    replace_json(ckpt / "samples.json", {**old, "timeline": [{k: v for k, v in e.items() if k != "probe"}
                                                              for e in old["timeline"]]})
    assert emergence_timeline(load_checkpoint(ckpt).samples) == ([], "")
    argv = ["--checkpoint", str(ckpt), "--retrain", "4", "--every", "2", "--out", str(tmp_path / "run"),
            "--chars", "800", "--attach"]
    assert main(argv) == 0
    samples = load_checkpoint(ckpt).samples  # still a valid checkpoint, its own timeline untouched
    timeline, source = emergence_timeline(samples)
    assert [e["step"] for e in timeline] == [2, 4] and source == "rnnlens emergence " + " ".join(argv)
    assert len(samples["timeline"]) == len(old["timeline"]) and samples["curve"] == old["curve"]
    assert emergence_timeline(old) == ([e for e in old["timeline"] if e.get("probe")], "own")
    assert emergence_timeline({"retrained": {"timeline": [{"step": 1, "probe": "bad"}, 3]}}) == ([], "")


@pytest.mark.parametrize("name, signal, steps", [("linux-lstm", "comment", 2000), ("austen-lstm", "quote", 2300)])
def test_the_shipped_models_carry_their_retrain_timeline(name, signal, steps):
    from core.charlm.checkpoint import load_checkpoint
    from core.lens.emergence import emergence_timeline
    from tests.conftest import ROOT

    timeline, source = emergence_timeline(load_checkpoint(ROOT / "checkpoints" / name).samples)
    # the shipped samples.json recorded the command under its module path of the time (its bytes stay as shipped)
    recipe = next(line for line in (ROOT / "recipes" / f"{name}.sh").read_text().splitlines()
                  if line.startswith("rnnlens emergence"))
    assert re.sub(r"^python -m core\.(lens\.)?emergence", "rnnlens emergence", source) == recipe
    assert [e["step"] for e in timeline] == list(range(100, steps + 1, 100))
    assert timeline[-1]["probe"][signal]["score"] > 0.9
