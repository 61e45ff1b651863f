"""Extracted states and gates equal stepping each cell by hand, across chunks and with a warm-up."""
import numpy as np
import pytest
import torch

from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.vocab import Vocab
from core.lens.activations import KINDS, extract

TEXT = 'int main(void) {\n\t/* hi */ printf("a\\"b");\n}\n' * 3
VOCAB = Vocab.from_text(TEXT)


def make_model(cell: str, seed: int = 0) -> CharRNN:
    torch.manual_seed(seed)
    return CharRNN(CharRNNConfig(vocab_size=len(VOCAB), cell=cell, n_layer=2, hidden_size=12)).eval()


def by_hand(model: CharRNN, ids: list[int]) -> dict[str, np.ndarray]:
    """Step every layer one character at a time with the textbook equations: kind -> (L, H, T)."""
    rnn, H = model.rnn, model.config.hidden_size
    cell = model.config.cell
    out = {k: np.zeros((rnn.num_layers, H, len(ids)), np.float32) for k in KINDS[cell]}
    h = [torch.zeros(H) for _ in range(rnn.num_layers)]
    c = [torch.zeros(H) for _ in range(rnn.num_layers)]
    with torch.no_grad():
        for t, i in enumerate(ids):
            x = model.embed.weight[i]
            for l in range(rnn.num_layers):
                W, U = getattr(rnn, f"weight_ih_l{l}"), getattr(rnn, f"weight_hh_l{l}")
                b, bh = getattr(rnn, f"bias_ih_l{l}"), getattr(rnn, f"bias_hh_l{l}")
                if cell == "lstm":
                    gi, gf, gg, go = (W @ x + b + U @ h[l] + bh).chunk(4)
                    vals = {"i": gi.sigmoid(), "f": gf.sigmoid(), "g": gg.tanh(), "o": go.sigmoid()}
                    c[l] = vals["f"] * c[l] + vals["i"] * vals["g"]
                    h[l] = vals["o"] * c[l].tanh()
                    vals["c"] = c[l]
                elif cell == "gru":
                    xr, xz, xn = (W @ x + b).chunk(3)
                    hr, hz, hn = (U @ h[l] + bh).chunk(3)
                    r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
                    n = (xn + r * hn).tanh()
                    h[l] = (1 - z) * n + z * h[l]
                    vals = {"r": r, "z": z, "n": n}
                else:
                    h[l] = (W @ x + b + U @ h[l] + bh).tanh()
                    vals = {}
                vals["h"] = h[l]
                for k, v in vals.items():
                    out[k][l, :, t] = v.numpy()
                x = h[l]
    return out


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_extract_matches_hand_stepping(cell):
    model = make_model(cell)
    acts = extract(model, VOCAB, TEXT, chunk_len=7)  # many chunks: the carried state must be right
    want = by_hand(model, VOCAB.encode(TEXT))
    assert set(acts.states) == set(KINDS[cell])
    for k, v in want.items():
        np.testing.assert_allclose(acts.states[k], v, atol=2e-5, err_msg=k)


def test_predictions_match_the_model():
    model = make_model("lstm")
    acts = extract(model, VOCAB, TEXT)
    ids = torch.tensor(VOCAB.encode(TEXT))[None]
    with torch.no_grad():
        probs = model(ids)[0][0].softmax(-1).numpy()                     # (T, V)
    np.testing.assert_allclose(acts.p_next[:-1], probs[np.arange(len(TEXT) - 1), ids[0, 1:]], atol=1e-5)
    assert np.isnan(acts.p_next[-1])
    # the top id is a most likely one, not necessarily argmax's: the two paths agree to 1e-5, so on another
    # machine's floats two near-equal probabilities could swap places (this seed's closest pair: 6e-4 apart)
    top_p = probs[np.arange(len(TEXT)), acts.top_ids[:, 0]]                 # (T,)
    np.testing.assert_array_less(probs.max(-1) - top_p, 1e-5)
    np.testing.assert_allclose(acts.top_p.sum(1), np.sort(probs, 1)[:, -5:].sum(1), atol=1e-5)


def test_warmup_equals_reading_the_prefix():
    model = make_model("lstm", seed=1)
    full = extract(model, VOCAB, TEXT)
    cut = 40
    tail = extract(model, VOCAB, TEXT[cut:], warmup=TEXT[:cut])
    for k in KINDS["lstm"]:
        np.testing.assert_allclose(tail.states[k], full.states[k][:, :, cut:], atol=2e-5)


def test_kinds_subset_and_unknown_chars():
    model = make_model("lstm")
    acts = extract(model, VOCAB, "int ☃ main", kinds=("c",))
    assert set(acts.states) == {"h", "c"}
    assert acts.ids[4] == 0 and acts.states["c"].shape == (2, 12, 10)


def test_column_stats():
    model = make_model("gru")
    acts = extract(model, VOCAB, TEXT)
    mean, std = acts.column_stats("z")
    np.testing.assert_allclose(mean, acts.states["z"].mean(2), atol=1e-6)
    np.testing.assert_allclose(std, acts.states["z"].std(2), atol=1e-5)
