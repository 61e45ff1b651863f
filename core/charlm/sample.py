"""Sampling text from a CharRNN: streaming, batched over temperatures, greedy, top-k and beam search.

`rnnlens sample --checkpoint DIR --length 500 --temperature 0.8 --prime "ROMEO." --seed 1 [--device cuda]`

Limits keep every request bounded in time and memory: the prime is read in chunks and at most MAX_PRIME
characters long, and beam search does at most MAX_BEAM_CHARS beam-characters (beam x length).
"""
import math
from collections.abc import Iterator
from pathlib import Path

import torch

from core.charlm.model import CharRNN
from core.charlm.stepper import Stepper
from core.charlm.vocab import Vocab

MAX_LENGTH = 100_000
MAX_TEMPERATURE = 10.0
MAX_BEAM = 64
MAX_BEAM_CHARS = 80_000  # beam x length: 16 beams x 5,000 characters, the Sample page's largest request
MAX_PRIME = 10_000
MAX_SEED = 2**63 - 1
START = "\n"  # the context an empty prime starts from


def validate_sampling(temperature: float = 1.0, length: int = 1, top_k: int = 0, beam: int = 1, seed: int = 0,
                      prime: str = "") -> None:
    """Raise ValueError with a clear message for sampling settings out of range."""
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature)
            and 0 < temperature <= MAX_TEMPERATURE):
        raise ValueError(f"temperature must be > 0 and at most {MAX_TEMPERATURE:g}, not {temperature}")
    if not 1 <= length <= MAX_LENGTH:
        raise ValueError(f"length must be between 1 and {MAX_LENGTH:,}, not {length}")
    if top_k < 0:
        raise ValueError(f"top-k must be 0 (off) or positive, not {top_k}")
    if not 1 <= beam <= MAX_BEAM:
        raise ValueError(f"beam must be between 1 and {MAX_BEAM}, not {beam}")
    if beam > 1 and beam * length > MAX_BEAM_CHARS:
        raise ValueError(f"beam x length must be at most {MAX_BEAM_CHARS:,} (e.g. beam 16 x 5,000 characters), "
                         f"not {beam} x {length:,}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be between 0 and 2**63 - 1, not {seed}")
    if len(prime) > MAX_PRIME:
        raise ValueError(f"the prime has {len(prime):,} characters; at most {MAX_PRIME:,} are read (keep its end: "
                         "the model's state carries little from further back)")


def pick(logits: torch.Tensor, temperature: torch.Tensor, top_k: int, greedy: bool,
         generator: torch.Generator, shared: bool = False) -> torch.Tensor:
    """Choose the next id of each stream: logits (B, V), temperature (B, 1) -> ids (B,).

    A draw is an exponential race, the way torch.multinomial draws one sample: the id with the largest p / q
    for q ~ Exp(1) per id. With `shared`, every stream races against the same q (one draw of V numbers per
    step), so each stream picks what it would pick sampled alone from the same seed, and two streams whose
    distributions agree pick the same id (a counterfactual coupling of the streams)."""
    if greedy:
        return logits.argmax(-1)
    logits = logits / temperature
    if 0 < top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits.float(), dim=-1)  # (B, V)
    q = torch.empty_like(probs[:1] if shared else probs).exponential_(generator=generator)  # (1 or B, V)
    return (probs / q).argmax(-1)


def _prime_ids(vocab: Vocab, prime: str) -> list[int]:
    return vocab.encode(prime or START)


@torch.inference_mode()
def stream_sample(model: CharRNN, vocab: Vocab, prime: str = "", length: int = 500, temperature: float = 1.0,
                  top_k: int = 0, greedy: bool = False, seed: int = 0) -> Iterator[str]:
    """Yield `length` sampled characters one at a time, continuing `prime`."""
    validate_sampling(temperature, length, top_k, seed=seed, prime=prime)
    for chars in _stream(model, vocab, prime, length, [temperature], top_k, greedy, seed):
        yield chars[0]


@torch.inference_mode()
def sample_batch(model: CharRNN, vocab: Vocab, prime: str = "", length: int = 500,
                 temperatures: list[float] = (1.0,), top_k: int = 0, seed: int = 0) -> list[str]:
    """Sample one text per temperature, all streams advanced together as one batch."""
    for t in temperatures:
        validate_sampling(t, length, top_k, seed=seed, prime=prime)
    texts = [[] for _ in temperatures]
    for chars in _stream(model, vocab, prime, length, list(temperatures), top_k, False, seed):
        for text, ch in zip(texts, chars):
            text.append(ch)
    return ["".join(t) for t in texts]


def _stream(model, vocab, prime, length, temperatures, top_k, greedy, seed) -> Iterator[list[str]]:
    generator = torch.Generator().manual_seed(seed)
    B = len(temperatures)
    stepper = Stepper(model)
    logits = stepper.prime(torch.tensor(_prime_ids(vocab, prime)).unsqueeze(0)).repeat(B, 1)  # (B, V)
    stepper.reorder(torch.zeros(B, dtype=torch.long))  # every stream starts from the one primed state
    temps = torch.tensor(temperatures, dtype=torch.float32).unsqueeze(1)  # (B, 1)
    logits[:, 0] = float("-inf")  # never emit the unknown symbol
    for _ in range(length):
        ids = pick(logits, temps, top_k, greedy, generator)  # (B,)
        yield [vocab.itos[i] for i in ids.tolist()]
        logits = stepper.step(ids)
        logits[:, 0] = float("-inf")


@torch.inference_mode()
def beam_search(model: CharRNN, vocab: Vocab, prime: str = "", length: int = 200, beam: int = 5) -> str:
    """The most likely continuation of `length` characters found by beam search over characters."""
    validate_sampling(1.0, length, 0, beam, prime=prime)
    stepper = Stepper(model)
    logits = stepper.prime(torch.tensor(_prime_ids(vocab, prime)).unsqueeze(0))  # (1, V)
    scores = torch.zeros(1)  # (K,) summed log-probabilities of the beams
    seqs = torch.empty(1, 0, dtype=torch.long)  # (K, t)
    for _ in range(length):
        logp = torch.log_softmax(logits.float(), dim=-1)  # (K, V)
        logp[:, 0] = float("-inf")
        total = (scores.unsqueeze(1) + logp).view(-1)  # (K * V,)
        scores, flat = total.topk(min(beam, total.numel()))
        parent, ids = flat // logp.size(1), flat % logp.size(1)
        seqs = torch.cat([seqs[parent], ids.unsqueeze(1)], dim=1)
        stepper.reorder(parent)
        logits = stepper.step(ids)
    return vocab.decode(seqs[0].tolist())


def read_prime_file(path: str) -> str:
    """A prime from a regular UTF-8 text file, refused unread beyond what MAX_PRIME characters can take."""
    limit = 4 * MAX_PRIME  # UTF-8 takes at most 4 bytes a character
    if not Path(path).is_file():
        raise ValueError(f"--prime-file {path}: not a regular file")
    with open(path, "rb") as f:
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(f"--prime-file {path} has over {limit:,} bytes; a prime is at most {MAX_PRIME:,} "
                         "characters (keep its end)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"--prime-file {path} is not UTF-8 text (byte {e.start} cannot be decoded)") from None
