"""Sampler: determinism, temperature, top-k, greedy, beam search, validation and unknown characters."""
import pytest

from core.charlm.checkpoint import load_checkpoint
from core.charlm.sample import (
    beam_search,
    sample_batch,
    stream_sample,
    validate_sampling,
)


@pytest.fixture(scope="module")
def ckpt(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


def text(ckpt, **kw):
    return "".join(stream_sample(ckpt.model, ckpt.vocab, **kw))


def test_a_seed_gives_the_same_text_and_the_asked_length(ckpt):
    a = text(ckpt, prime="Thou", length=80, temperature=1.0, seed=3)
    assert a == text(ckpt, prime="Thou", length=80, temperature=1.0, seed=3)
    assert len(a) == 80 and a != text(ckpt, prime="Thou", length=80, temperature=1.0, seed=4)


def test_temperature_changes_the_text_and_greedy_ignores_the_seed(ckpt):
    assert text(ckpt, length=60, temperature=0.3, seed=1) != text(ckpt, length=60, temperature=1.5, seed=1)
    assert text(ckpt, length=40, greedy=True, seed=1) == text(ckpt, length=40, greedy=True, seed=2)


def test_top_1_is_greedy(ckpt):
    assert text(ckpt, length=40, top_k=1, seed=5) == text(ckpt, length=40, greedy=True)


def test_batch_rows_match_single_streams(ckpt):
    rows = sample_batch(ckpt.model, ckpt.vocab, "But", 50, [0.5, 1.0], seed=2)
    assert [len(r) for r in rows] == [50, 50] and rows[0] != rows[1]


def test_beam_search_of_width_one_is_greedy(ckpt):
    greedy = text(ckpt, prime="And", length=30, greedy=True)
    assert beam_search(ckpt.model, ckpt.vocab, "And", 30, beam=1) == greedy
    assert len(beam_search(ckpt.model, ckpt.vocab, "And", 30, beam=4)) == 30


def test_unknown_characters_in_the_prime_are_fine(ckpt):
    assert len(text(ckpt, prime="Ωmega ✓ 東京", length=10)) == 10


@pytest.mark.parametrize("kw,message", [
    (dict(temperature=0), "temperature"), (dict(temperature=11), "temperature"),
    (dict(temperature=float("nan")), "temperature"), (dict(length=0), "length"),
    (dict(length=10**7), "length"), (dict(top_k=-1), "top-k"), (dict(beam=0), "beam")])
def test_settings_out_of_range_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        validate_sampling(**kw)
