"""Show, Attend and Tell decoder: attention normalisation, greedy == beam 1, termination, overfitting."""
import pytest
import torch

from core.caption.data import WordVocab, tokenize
from core.caption.model import AttentionDecoder, DecoderConfig, caption_loss, load_captioner, save_captioner
from core.caption.search import beam_caption, caption, greedy_caption

CAPTIONS = ["a red circle", "two blue squares", "a green star above a yellow triangle",
            "a purple circle to the left of a red square", "three shapes : a red star , a blue star and a green star"]


def tiny(vocab_size: int, seed: int = 0, dropout: float = 0.0) -> AttentionDecoder:
    torch.manual_seed(seed)
    return AttentionDecoder(DecoderConfig(vocab_size, feature_dim=16, grid=4, embed_size=16, hidden_size=32,
                                          attention_size=16, dropout=dropout))


def vocab() -> WordVocab:
    return WordVocab.build([tokenize(c) for c in CAPTIONS])


def test_attention_sums_to_one():
    v = vocab()
    m = tiny(len(v))
    feats = torch.randn(3, 16, 16)                              # (B, L, D)
    tokens = torch.tensor([v.encode(tokenize(CAPTIONS[0]))] * 3)
    logits, alphas = m(feats, tokens)
    assert logits.shape == (3, tokens.shape[1] - 1, len(v))
    assert alphas.shape == (3, tokens.shape[1] - 1, 16)
    assert torch.allclose(alphas.sum(-1), torch.ones(3, tokens.shape[1] - 1), atol=1e-5)
    assert (alphas >= 0).all()
    cap = beam_caption(m.eval(), v, feats[0], beam=3, max_len=8)
    assert cap.alphas.shape == (len(cap.words), 4, 4)
    assert abs(cap.alphas.sum(axis=(1, 2)) - 1).max() < 1e-5


def test_beam_one_equals_greedy_and_everything_terminates():
    v = vocab()
    for seed in range(5):
        m = tiny(len(v), seed).eval()
        feats = torch.randn(16, 16, generator=torch.Generator().manual_seed(seed))
        g = greedy_caption(m, v, feats, max_len=12)
        b = beam_caption(m, v, feats, beam=1, max_len=12)
        assert g.words == b.words and abs(g.logprob - b.logprob) < 1e-4
        for beam in range(1, 11):
            cap = caption(m, v, feats, beam=beam, max_len=12)
            assert 0 <= len(cap.words) <= 12 and "<end>" not in cap.words and "<start>" not in cap.words
            assert len(cap.alphas) == len(cap.words)
    with pytest.raises(ValueError, match="between 1 and 10"):
        caption(m, v, feats, beam=11)


def test_beam_handles_end_and_beats_greedy_on_score():
    """A finished hypothesis leaves the beam without shrinking it; wider beams never score worse."""
    v = vocab()
    m = tiny(len(v), 3).eval()
    feats = torch.randn(16, 16, generator=torch.Generator().manual_seed(1))
    scores = [beam_caption(m, v, feats, beam=k, max_len=10).logprob for k in (1, 3, 10)]
    assert scores[2] >= scores[0] - 1e-5


def test_tiny_decoder_overfits_five_captions(tmp_path):
    torch.manual_seed(0)
    v = vocab()
    m = tiny(len(v), dropout=0.0)
    feats = torch.randn(5, 16, 16, generator=torch.Generator().manual_seed(0))
    seqs = [v.encode(tokenize(c)) for c in CAPTIONS]
    T = max(map(len, seqs))
    tokens = torch.tensor([s + [0] * (T - len(s)) for s in seqs])
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(300):
        logits, alphas = m(feats, tokens)
        loss, ce = caption_loss(logits, alphas, tokens[:, 1:])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 5.0)
        opt.step()
    assert ce.item() < 0.05
    m.eval()
    for i, c in enumerate(CAPTIONS):
        assert greedy_caption(m, v, feats[i]).text == c
    ck = load_captioner(save_captioner(tmp_path / "ck", m, v, {"name": "tiny"}))
    assert [greedy_caption(ck.model, ck.vocab, feats[i]).text for i in range(5)] == CAPTIONS
