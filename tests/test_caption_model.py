"""Show, Attend and Tell decoder: attention normalisation, greedy == beam 1, termination, overfitting; the
trainer's command line refuses an absent device, a locked or occupied --out and bad flags in one line."""
import pytest
import torch

from core.caption.model import (
    AttentionDecoder,
    DecoderConfig,
    caption_loss,
    load_captioner,
    save_captioner,
)
from core.caption.search import beam_caption, caption, caption_words, greedy_caption
from core.cli import caption_train as train_cli
from core.common.io import DirectoryLock
from core.common.words import WordVocab, tokenize

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


@pytest.mark.slow
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


@pytest.fixture
def train_main(capsys):
    """`python -m core.cli.caption_train ARGS` in-process: (exit code, stderr)."""
    def call(*args: str) -> tuple[int, str]:
        try:
            code = train_cli.main(list(args))
        except SystemExit as e:                                 # argparse refuses a flag while parsing
            code = e.code
        return code, capsys.readouterr().err
    return call


def test_train_cli_names_an_absent_gpu_in_one_line(train_main, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, err = train_main("--device", "cuda", "--out", str(tmp_path / "ck"), "--cache-dir", str(tmp_path / "c"))
    assert code == 2 and err.startswith("error: --device cuda: no CUDA GPU") and len(err.splitlines()) == 1
    assert not (tmp_path / "ck").exists() and not (tmp_path / "c").exists()
    code, err = train_main("--device", "tpu", "--out", str(tmp_path / "ck"))
    assert code == 2 and "--device must be one of auto, cpu, cuda, mps, not 'tpu'" in err


def test_train_cli_refuses_a_locked_or_occupied_out_and_bad_flags(train_main, tmp_path):
    out = tmp_path / "ck"
    with DirectoryLock(out):                                   # another trainer is writing out
        code, err = train_main("--out", str(out), "--cache-dir", str(tmp_path / "c"))
        assert code == 2 and "being written by process" in err and "Traceback" not in err
    (out / "notes.txt").parent.mkdir()
    (out / "notes.txt").write_text("mine")
    code, err = train_main("--out", str(out), "--overwrite", "--cache-dir", str(tmp_path / "c"))
    assert code == 2 and "holds files that are not a checkpoint (notes.txt)" in err
    assert not (tmp_path / "c").exists() and (out / "notes.txt").read_text() == "mine"
    for args, phrase in ((["--beam", "11"], "argument --beam: must be between 1 and 10, not 11"),
                         (["--images", "x"], "--karpathy-json and --images go together"),
                         (["--world", "moon"], "--world must be one of scenes, photos")):
        code, err = train_main("--out", str(tmp_path / "other"), *args)
        assert code == 2 and phrase in err and "Traceback" not in err


def test_articles_agree_with_the_next_word_only_in_a_world_that_writes_an():
    from core.common.words import agree_articles

    assert agree_articles("a insect beside an cat on a orange rock".split()) == \
        "an insect beside a cat on an orange rock".split()
    assert agree_articles([]) == [] and agree_articles(["a"]) == ["a"]
    with_an = WordVocab.build([tokenize(c) for c in [*CAPTIONS, "an orange star"]])
    a_orange = ["a", "orange", "star"]
    assert caption_words(with_an, with_an.encode(a_orange)[1:-1]) == ["an", "orange", "star"]
    shapes = vocab()  # the shapes world always writes "a"
    assert caption_words(shapes, shapes.encode(["a", "above"])[1:-1]) == ["a", "above"]


def test_a_photo_world_noun_is_written_once_in_either_form():
    from core.caption.search import noun_once

    photo = WordVocab.build([tokenize(c) for c in ["a cat and two dogs under tall trees", "an apple and a dog", "a tree"]])
    once = noun_once(photo)
    cat, cats, dog = (photo.stoi.get(w) for w in ("cat", "cats", "dog"))
    assert once[cat] == {cat} and once[photo.stoi["dogs"]] == {dog, photo.stoi["dogs"]} and cats is None
    assert photo.stoi["tree"] not in once and photo.stoi["trees"] not in once   # "under tall trees" is scenery
    assert noun_once(vocab()) == {}                                            # the shapes world repeats shapes

    class Parrot(torch.nn.Module):   # a decoder that always wants "cat" next, then "and", and only then <end>
        cfg = DecoderConfig(len(photo), grid=1)

        def prepare(self, feats):
            return feats, feats, (torch.zeros(1, 1), torch.zeros(1, 1))

        def step(self, a, a_proj, prev, state):
            k = prev.shape[0]
            logits = torch.full((k, len(photo)), -9.0)
            logits[:, cat], logits[:, photo.stoi["and"]], logits[:, photo.stoi["<end>"]] = 5.0, 4.0, -8.0
            return logits, (state[0][:1].expand(k, 1), state[1][:1].expand(k, 1)), torch.ones(k, 1)
    for beam in (1, 3):
        words = caption(Parrot(), photo, torch.zeros(1, 4), beam=beam, max_len=6).words
        assert words.count("cat") == 1 and words[:2] == ["cat", "and"]
