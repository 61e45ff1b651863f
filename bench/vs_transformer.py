"""CPU quality per wall time: core.charlm.train with its defaults vs nanoGPT's documented CPU recipe, equal time budgets.

The reference is written here after nanoGPT's README CPU command for shakespeare_char (nanoGPT cannot be
installed here): a 4-layer, 128-wide, 4-head causal transformer (no biases, tied embedding, dropout 0), block
64, batch 12 random windows, AdamW lr 1e-3 (betas 0.9/0.99, weight decay 0.1 on matrices), 100 warm-up steps
and cosine decay to 1e-4 over its budget, gradient clip 1, float32, no compile, and (as nanoGPT) it keeps the
weights with the best interval validation loss (every 250 steps, 20 batches). core.charlm.train runs as a user would
run it: `python -m core.cli.train --corpus FILE --max-minutes M`, defaults for everything else (its auto settings
choose the model for the budget). Both sides count only training time against the budget and report the loss on
the whole val split (the last 10% of the lines; the transformer over non-overlapping 64-character blocks).

Two protocols (`--protocol`, both by default):
- concurrent: the first 1.1 MB of the corpus's train split; both sides at the same time, one thread each, so the
  machine's load hits both alike (target ratio <= 0.82 at 1 minute);
- alone: the first 1,115,394 characters (nanoGPT's shakespeare_char size); each side alone with the machine's
  threads, one after the other (targets: <= 0.82 at 1 minute, <= 0.95 at 12 and 20 minutes).
Prints val nats per budget and the ratio. `python bench/vs_transformer.py [--minutes 1 5 12 20]
[--protocol alone|concurrent|both] [--corpus shakespeare|austen|linux]` (the defaults were chosen on shakespeare;
austen and linux check them on other text). Each budget of M minutes takes about 2M minutes of wall time alone.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from core.charlm.corpus import load_corpus  # noqa: E402
from core.charlm.vocab import Vocab  # noqa: E402
from core.common.paths import data_root  # noqa: E402

CONCURRENT_BYTES = 1_100_000
ALONE_CHARS = 1_115_394
BLOCK, BATCH, N_LAYER, N_HEAD, N_EMBD = 64, 12, 4, 4, 128
LR, MIN_LR, WARMUP, EVAL_EVERY, EVAL_BATCHES = 1e-3, 1e-4, 100, 250, 20


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(N_EMBD, bias=False), nn.LayerNorm(N_EMBD, bias=False)
        self.qkv, self.proj = nn.Linear(N_EMBD, 3 * N_EMBD, bias=False), nn.Linear(N_EMBD, N_EMBD, bias=False)
        self.mlp = nn.Sequential(nn.Linear(N_EMBD, 4 * N_EMBD, bias=False), nn.GELU(),
                                 nn.Linear(4 * N_EMBD, N_EMBD, bias=False))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(att)
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    """nanoGPT's GPT at the CPU recipe's size (weight tying, GPT-2 init)."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab_size, N_EMBD), nn.Embedding(BLOCK, N_EMBD)
        self.blocks = nn.ModuleList(Block() for _ in range(N_LAYER))
        self.ln_f = nn.LayerNorm(N_EMBD, bias=False)
        self.head = nn.Linear(N_EMBD, vocab_size, bias=False)
        self.head.weight = self.wte.weight
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * N_LAYER) if name.endswith(("proj.weight", "mlp.2.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1)))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))  # (B, T, V)


def loss_on(model: TinyGPT, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = model(x)  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))


@torch.no_grad()
def whole_val_loss(model: TinyGPT, val: torch.Tensor) -> float:
    """Mean loss over every val character, in non-overlapping blocks of BLOCK."""
    model.eval()
    n = (val.numel() - 1) // BLOCK
    x, y = val[:n * BLOCK].view(n, BLOCK), val[1:n * BLOCK + 1].view(n, BLOCK)
    total = sum(loss_on(model, x[i:i + 256], y[i:i + 256]).item() * x[i:i + 256].numel() for i in range(0, n, 256))
    model.train()
    return total / x.numel()


def train_transformer(text_file: Path, minutes: float) -> dict:
    """The reference recipe for `minutes` of training time; its best model's loss on the whole val split."""
    torch.manual_seed(1337)
    corpus = load_corpus(str(text_file))
    vocab = Vocab.from_text(corpus.train)
    train, val = torch.tensor(vocab.encode(corpus.train)), torch.tensor(vocab.encode(corpus.val))
    model = TinyGPT(len(vocab))
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.99))
    gen = torch.Generator().manual_seed(1337)

    def batch(ids: torch.Tensor):
        ix = torch.randint(ids.numel() - BLOCK - 1, (BATCH,), generator=gen)
        return torch.stack([ids[i:i + BLOCK] for i in ix]), torch.stack([ids[i + 1:i + BLOCK + 1] for i in ix])

    budget, elapsed, step, best, best_state = 60 * minutes, 0.0, 0, float("inf"), None
    while elapsed < budget:
        t0 = time.perf_counter()
        progress = elapsed / budget
        lr = LR * (step + 1) / WARMUP if step < WARMUP else \
            MIN_LR + 0.5 * (LR - MIN_LR) * (1 + math.cos(math.pi * progress))
        for group in opt.param_groups:
            group["lr"] = lr
        loss = loss_on(model, *batch(train))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        elapsed += time.perf_counter() - t0
        if step % EVAL_EVERY == 0:
            model.eval()
            with torch.no_grad():
                interval = sum(loss_on(model, *batch(val)).item() for _ in range(EVAL_BATCHES)) / EVAL_BATCHES
            model.train()
            if interval < best:
                best, best_state = interval, {k: v.clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        last = sum(loss_on(model, *batch(val)).item() for _ in range(EVAL_BATCHES)) / EVAL_BATCHES
        if last > best:
            model.load_state_dict(best_state)
    return {"val_loss": whole_val_loss(model, val), "steps": step, "train_seconds": round(elapsed, 1)}


def bench_text(corpus: str, protocol: str) -> Path:
    """The protocol's prefix of a built corpus's train split, in a file under the data folder (written once)."""
    out = data_root() / "scale" / (f"{corpus}_1.1mb.txt" if protocol == "concurrent" else f"{corpus}_{ALONE_CHARS}.txt")
    if not out.exists():  # the corpus is read only to write the prefix the first time
        train = load_corpus(corpus).train
        text = train.encode("utf-8")[:CONCURRENT_BYTES].decode("utf-8", errors="ignore") \
            if protocol == "concurrent" else train[:ALONE_CHARS]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return out


def ours(text: Path, minutes: float, out: Path, threads: int | None) -> subprocess.Popen:
    """core.charlm.train on text for `minutes` as a user runs it (torch's default threads unless given)."""
    cmd = [sys.executable, "-m", "core.cli.train", "--corpus", str(text), "--out", str(out), "--max-minutes",
           str(minutes)] + (["--threads", str(threads)] if threads else [])
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def reference(text: Path, minutes: float, threads: int) -> subprocess.Popen:
    """The transformer recipe on text for `minutes`, with `threads` torch threads, in a process of its own."""
    return subprocess.Popen([sys.executable, __file__, "--reference", str(text), "--minutes", str(minutes),
                             "--threads", str(threads)], cwd=ROOT, stdout=subprocess.PIPE, text=True)


def ours_result(proc: subprocess.Popen, out: Path) -> dict:
    """Wait for core.charlm.train; its val loss, steps, training seconds and model, from its card."""
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"core.charlm.train failed: {err[-2000:]}")
    card = json.loads((out / "card.json").read_text())
    cfg = card["train_config"]
    return {"val_loss": card["val_loss"], "steps": card["steps"], "trained_steps": card.get("trained_steps"),
            "train_seconds": card["train_seconds"],
            "model": f"{cfg['n_layer']} x {cfg['hidden_size']} LSTM, batch {cfg['batch_size']} x {cfg['seq_len']}, "
                     f"lr {cfg['lr']:g}, dropout {cfg['dropout']:g}"}


def side_by_side(text: Path, minutes: float, work: Path, protocol: str) -> dict:
    """Both sides for one budget: at once on one thread each, or one after the other on every thread."""
    out = work / f"charrnn-{protocol}-{minutes:g}min"
    if protocol == "concurrent":
        mine, ref = ours(text, minutes, out, threads=1), reference(text, minutes, threads=1)
        return {"transformer": json.loads(ref.communicate()[0]), "charrnn": ours_result(mine, out)}
    transformer = json.loads(reference(text, minutes, threads=os.cpu_count() or 1).communicate()[0])
    return {"transformer": transformer, "charrnn": ours_result(ours(text, minutes, out, threads=None), out)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0, 12.0, 20.0])
    p.add_argument("--protocol", choices=("alone", "concurrent", "both"), default="both")
    p.add_argument("--corpus", default="shakespeare", help="built corpus whose prefix to train on "
                   "(the defaults were chosen on shakespeare; austen or linux check them on other text)")
    p.add_argument("--reference", help=argparse.SUPPRESS)  # internal: run the transformer side on this file
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)  # internal: the reference's threads
    args = p.parse_args()
    if args.reference:
        torch.set_num_threads(args.threads)
        print(json.dumps(train_transformer(Path(args.reference), args.minutes[0])))
        return
    protocols = ("concurrent", "alone") if args.protocol == "both" else (args.protocol,)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for protocol in protocols:
            text = bench_text(args.corpus, protocol)
            corpus = load_corpus(str(text))
            how = "both sides at once, 1 thread each" if protocol == "concurrent" else \
                f"each side alone, {os.cpu_count()} threads"
            print(f"\n{protocol}: {text.name}: {len(corpus.train):,} train / {len(corpus.val):,} val characters; {how}")
            print(f"{'budget':>7} | {'transformer val':>15} {'steps':>6} | {'core.charlm.train val':>21} {'steps':>6} | "
                  f"{'ratio':>6} | core.charlm.train model")
            for minutes in args.minutes:
                r = side_by_side(text, minutes, Path(work), protocol)
                t, c = r["transformer"], r["charrnn"]
                kept = f" (kept {c['steps']} of {c['trained_steps']})" if c["trained_steps"] else ""
                ratio = c["val_loss"] / t["val_loss"]
                rows.append((protocol, minutes, ratio))
                print(f"{minutes:>5g} m | {t['val_loss']:>15.4f} {t['steps']:>6,} | {c['val_loss']:>21.4f} "
                      f"{c['steps']:>6,} | {ratio:>6.3f} | {c['model']}{kept}", flush=True)
    print("\nratios (core.charlm.train val / transformer val; lower is better):")
    for minutes in args.minutes:
        print(f"{minutes:>5g} m | " + " | ".join(f"{p} {r:.3f}" for p, m, r in rows if m == minutes))


if __name__ == "__main__":
    main()
