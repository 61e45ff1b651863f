"""Streaming sampling speed (chars/s) of core.charlm.sample vs the plain per-character nn.LSTM loop.

The plain approach: for every character, nn.Embedding -> nn.LSTM (one step) -> nn.Linear -> softmax ->
multinomial. Both sample with the same 2 x 512 LSTM in the same run; medians over repeats, and the ratio.
`python bench/sampling_speed.py [--checkpoint DIR] [--chars 400] [--repeats 7]`
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core.charlm.checkpoint import load_checkpoint  # noqa: E402
from core.charlm.model import CharRNN, CharRNNConfig  # noqa: E402
from core.charlm.sample import stream_sample  # noqa: E402
from core.charlm.vocab import Vocab  # noqa: E402


@torch.inference_mode()
def plain_stream(model: CharRNN, vocab: Vocab, prime: str, length: int, temperature: float, seed: int):
    """The straightforward loop: one nn.LSTM call per character."""
    g = torch.Generator().manual_seed(seed)
    logits, state = model(torch.tensor([vocab.encode(prime)]))
    logits = logits[:, -1]
    for _ in range(length):
        probs = torch.softmax(logits / temperature, dim=-1)
        idx = torch.multinomial(probs, 1, generator=g)  # (1, 1)
        yield vocab.itos[idx.item()]
        out, state = model.rnn(model.embed(idx), state)
        logits = model.head(out)[:, -1]


def chars_per_s(stream, length: int) -> float:
    t = time.perf_counter()
    n = sum(1 for _ in stream)
    assert n == length
    return n / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default="checkpoints/shakespeare-lstm")
    p.add_argument("--chars", type=int, default=400)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if Path(args.checkpoint, "config.json").exists():
        ckpt = load_checkpoint(args.checkpoint)
        model, vocab, what = ckpt.model, ckpt.vocab, args.checkpoint
    else:
        vocab = Vocab.from_text("".join(chr(c) for c in range(32, 127)) + "\n")
        model, what = CharRNN(CharRNNConfig(len(vocab), "lstm", 2, 512)).eval(), "untrained 2x512 LSTM"
    cfg = model.config
    print(f"model: {what} ({cfg.cell} {cfg.n_layer}x{cfg.hidden_size}, {model.n_params():,} params), "
          f"{args.chars} chars x {args.repeats} repeats, {torch.get_num_threads()} thread(s)")
    ours, plain = [], []
    for r in range(args.repeats):  # interleaved so that machine noise hits both alike
        plain.append(chars_per_s(plain_stream(model, vocab, "ROMEO.", args.chars, 0.8, r), args.chars))
        ours.append(chars_per_s(stream_sample(model, vocab, "ROMEO.", args.chars, 0.8, seed=r), args.chars))
    mo, mp = statistics.median(ours), statistics.median(plain)
    print(f"plain nn.LSTM loop : {mp:8.0f} chars/s (median)")
    print(f"core stream_sample : {mo:8.0f} chars/s (median)")
    print(f"speed-up           : {mo / mp:8.2f}x (target >= 4x)")


if __name__ == "__main__":
    main()
