"""GPU training: `core.charlm.train --device cuda` vs a plain cuDNN LSTM loop of the same size, in the same run.

Prepared for one short job on one CUDA GPU (about 5 minutes with the default 1.5-minute budgets): first
`python -m core.cli.train --corpus shakespeare --device cuda --max-minutes M` with the defaults chosen for a GPU,
then a plain loop over the same model size, batch, sequence length and streams (nn.Embedding + cuDNN nn.LSTM
+ nn.Linear, bf16 autocast, AdamW at core.charlm.train's learning rate with cosine decay, gradient clip 1, no dropout,
no validation during training) for the same training time. Prints training tokens/s (tokens / training
seconds) and the loss on the whole val split (Hamlet + The Tempest) side by side, with the targets of issue 14:
val <= 1.30 nats and core.charlm.train's tokens/s >= 0.9 x the plain loop's.
`python bench/gpu_train.py [--minutes 1.5]`; `python bench/gpu_train.py --smoke` runs the same code on the
CPU with a tiny model on the test sonnets (a check that the script works, no figure).
"""
import argparse
import json
import math
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
from bench.train_speed import Reference  # noqa: E402
from core.charlm.corpus import load_corpus  # noqa: E402
from core.charlm.evaluate import evaluate_loss, streams  # noqa: E402
from core.charlm.vocab import Vocab  # noqa: E402
from core.common.device import autocast, describe, resolve_device  # noqa: E402

SMOKE = ["--n-layer", "1", "--hidden-size", "32", "--batch-size", "8", "--seq-len", "32", "--eval-every", "20",
         "--eval-chars", "2000", "--checkpoint-every", "100000"]


def run_core_train(corpus: str, device: str, minutes: float, out: Path, extra: list[str]) -> dict:
    """core.charlm.train as a user runs it; its card."""
    cmd = [sys.executable, "-m", "core.cli.train", "--corpus", corpus, "--device", device, "--max-minutes", str(minutes),
           "--out", str(out), *extra]
    run = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if run.returncode != 0:
        raise SystemExit(f"core.charlm.train failed:\n{run.stderr[-3000:]}")
    return json.loads((out / "card.json").read_text())


def run_plain_loop(corpus: str, device: torch.device, cfg: dict, seconds: float) -> dict:
    """The plain cuDNN loop at cfg's size for `seconds` of training time; tokens/s and whole-val loss."""
    torch.manual_seed(cfg["seed"])
    data = load_corpus(corpus)
    vocab = Vocab.from_text(data.train)
    x, y = streams(torch.tensor(vocab.encode(data.train)), cfg["batch_size"])
    x, y = x.to(device), y.to(device)  # (B, L) each, on the device once
    model = Reference(len(vocab), cfg["hidden_size"], cfg["n_layer"]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.0)
    T, low = cfg["seq_len"], cfg["lr"] * cfg["lr_min_ratio"]
    state, pos, steps, elapsed = None, 0, 0, 0.0
    while elapsed < seconds:
        t0 = time.perf_counter()
        for _ in range(10):  # ten steps between clock reads: one device sync per ten steps
            if pos + T > x.size(1):
                pos, state = 0, None
            for group in opt.param_groups:
                group["lr"] = low + (cfg["lr"] - low) * 0.5 * (1 + math.cos(math.pi * min(elapsed / seconds, 1.0)))
            with autocast(device, True):
                logits, state = model(x[:, pos:pos + T], state)  # (B, T, V)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y[:, pos:pos + T].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
            opt.step()
            state = tuple(s.detach() for s in state)
            pos, steps = pos + T, steps + 1
        loss.item()  # waits for the device
        elapsed += time.perf_counter() - t0
    val = evaluate_loss(model, torch.tensor(vocab.encode(data.val), device=device), bf16=True)
    return {"tokens_per_s": steps * cfg["batch_size"] * T / elapsed, "val_loss": val, "steps": steps}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default="shakespeare")
    p.add_argument("--minutes", type=float, default=1.5)
    p.add_argument("--smoke", action="store_true", help="the CPU code path on a tiny model, as a check")
    args = p.parse_args()
    device_name, extra, minutes = ("cpu", SMOKE, 0.1) if args.smoke else ("cuda", [], args.minutes)
    corpus = str(ROOT / "tests" / "data" / "sonnets.txt") if args.smoke else args.corpus
    device = resolve_device(device_name)
    with tempfile.TemporaryDirectory() as tmp:
        card = run_core_train(corpus, device_name, minutes, Path(tmp) / "run", extra)
    cfg = card["train_config"]
    ours = {"tokens_per_s": card["tokens_seen"] / card["train_seconds"], "val_loss": card["val_loss"],
            "steps": card["steps"]}
    plain = run_plain_loop(corpus, device, cfg, card["train_seconds"])
    print(f"{describe(device)}; {cfg['n_layer']} x {cfg['hidden_size']} LSTM, batch {cfg['batch_size']} x "
          f"{cfg['seq_len']}, lr {cfg['lr']:g}, {card['train_seconds']:.0f} s of training each")
    print(f"{'':22} {'tokens/s':>10} {'val nats':>9} {'steps':>7}")
    for name, r in (("core.charlm.train", ours), ("plain cuDNN loop", plain)):
        print(f"{name:22} {r['tokens_per_s']:>10,.0f} {r['val_loss']:>9.4f} {r['steps']:>7,}")
    print(f"core.charlm.train / plain tokens/s: {ours['tokens_per_s'] / plain['tokens_per_s']:.3f} (target >= 0.9); "
          f"core.charlm.train val {ours['val_loss']:.4f} (target <= 1.30, dropout {cfg['dropout']}, "
          f"kept step {card['steps']} of {card.get('trained_steps', card['steps'])})")


if __name__ == "__main__":
    main()
