"""Training throughput (tokens/s) of core.charlm.train's Trainer vs a plain reference loop, same sizes and batch.

The reference: nn.Embedding + nn.LSTM + nn.Linear, Adam, cross-entropy, gradient clipping, the same
contiguous batches and the same precision. Blocks of steps alternate between the two so that machine
noise hits both alike; medians over blocks, and the ratio (target >= 0.95).
`python bench/train_speed.py [--hidden-size 512] [--blocks 5] [--steps 5]`
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core.charlm.settings import TrainConfig  # noqa: E402
from core.charlm.train import Trainer  # noqa: E402
from core.common.device import autocast  # noqa: E402


class Reference(nn.Module):
    def __init__(self, V: int, H: int, n_layer: int):
        super().__init__()
        self.embed, self.lstm, self.head = nn.Embedding(V, H), nn.LSTM(H, H, n_layer, batch_first=True), nn.Linear(H, V)

    def forward(self, x, state):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", default="shakespeare")
    p.add_argument("--hidden-size", type=int, default=512)
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--blocks", type=int, default=5)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--no-bf16", dest="bf16", action="store_false")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(corpus=args.corpus, out=tmp, n_layer=args.n_layer, hidden_size=args.hidden_size,
                          batch_size=args.batch_size, seq_len=args.seq_len, max_steps=10**9, bf16=args.bf16)
        trainer = Trainer(cfg)
        cfg = trainer.cfg  # with the learning rate and dropout chosen for the corpus
    ref = Reference(len(trainer.vocab), args.hidden_size, args.n_layer)
    opt = torch.optim.Adam(ref.parameters(), lr=cfg.lr)
    state, pos = None, 0

    def ref_step():
        nonlocal state, pos
        x = trainer.x[:, pos:pos + cfg.seq_len]
        y = trainer.y[:, pos:pos + cfg.seq_len]
        with autocast(trainer.device, cfg.bf16):  # the same precision as the Trainer's
            logits, state = ref(x, state)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(ref.parameters(), cfg.grad_clip)
        opt.step()
        state = tuple(s.detach() for s in state)
        pos += cfg.seq_len

    tokens = args.steps * cfg.batch_size * cfg.seq_len
    ours, plain = [], []
    trainer.train_step(), ref_step()  # warm-up
    for _ in range(args.blocks):
        t = time.perf_counter()
        for _ in range(args.steps):
            ref_step()
        plain.append(tokens / (time.perf_counter() - t))
        t = time.perf_counter()
        for _ in range(args.steps):
            trainer.train_step()
        ours.append(tokens / (time.perf_counter() - t))
    mo, mp = statistics.median(ours), statistics.median(plain)
    print(f"LSTM {args.n_layer}x{args.hidden_size}, batch {cfg.batch_size}x{cfg.seq_len}, "
          f"{'bf16 autocast' if cfg.bf16 else 'fp32'}, {torch.get_num_threads()} threads, {args.blocks} blocks")
    print(f"plain reference loop: {mp:9.0f} tokens/s (median)")
    print(f"core.charlm.train Trainer  : {mo:9.0f} tokens/s (median)")
    print(f"ratio               : {mo / mp:9.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
