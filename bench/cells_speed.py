"""Cell extraction vs one plain nn.LSTM forward, and discovery time, on the same text in one run.

    python bench/cells_speed.py [--chars 100000] [--repeats 3] [--threads 1] [--checkpoint DIR]

Baseline: the model's own 2-layer nn.LSTM over the embedded text in one call (it returns only the top
layer's h).  Extraction: core.lens.activations.extract (every layer's h, c, i, f, g, o, plus next-char top-5).
Discovery: core.lens.discovery.rank_cells over every cell (h, c and the four gates of both layers) for a binary
signal (comment: AUC) and a graded one (brace depth: r, and Spearman rho).  Medians over repeats.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.charlm.model import CharRNN, CharRNNConfig  # noqa: E402
from core.charlm.vocab import Vocab  # noqa: E402
from core.lens.activations import extract  # noqa: E402
from core.lens.discovery import rank_cells  # noqa: E402
from core.lens.signals import brace_depth, comment  # noqa: E402

SNIPPET = ('static int foo(struct bar *b)\n{\n\t/* look it up */\n\tif (b->n > 0) {\n'
           '\t\tprintk("n=%d\\n", b->n); // debug\n\t\treturn b->n;\n\t}\n\treturn -EINVAL;\n}\n\n')


def timed(fn, repeats: int) -> tuple[float, float, object]:
    """Median wall and process-CPU time of fn() over repeats, and its last result (CPU time is the fairer
    figure on a machine shared with other jobs)."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chars", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint", help="a 2 x 512 LSTM checkpoint (default: random weights, same shapes)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.checkpoint:
        from core.charlm.checkpoint import load_checkpoint
        ckpt = load_checkpoint(args.checkpoint)
        model, vocab = ckpt.model, ckpt.vocab
    else:
        vocab = Vocab.from_text(SNIPPET)
        torch.manual_seed(0)
        model = CharRNN(CharRNNConfig(len(vocab), "lstm", 2, 512)).eval()
    text = (SNIPPET * (args.chars // len(SNIPPET) + 1))[:args.chars]
    ids = torch.tensor(vocab.encode(text))[None]                           # (1, T)

    def plain():
        with torch.no_grad():
            return model.rnn(model.embed(ids))[0]                          # (1, T, H) top layer only

    cfg = model.rnn
    print(f"{args.chars:,} chars, {cfg.num_layers} x {cfg.hidden_size} LSTM, {args.threads} thread(s), "
          f"median of {args.repeats}")
    t_plain, c_plain, _ = timed(plain, args.repeats)
    t_extract, c_extract, acts = timed(lambda: extract(model, vocab, text), args.repeats)
    print(f"plain nn.LSTM forward (baseline): wall {t_plain:8.2f} s   cpu {c_plain:8.2f} s")
    print(f"extract h, c, i, f, g, o + top-5: wall {t_extract:8.2f} s   cpu {c_extract:8.2f} s   "
          f"ratio wall {t_extract / t_plain:.2f}x, cpu {c_extract / c_plain:.2f}x (target <= 2x)")
    n_cells = sum(v.shape[0] * v.shape[1] for v in acts.states.values())
    y_bin, y_graded = comment(text), brace_depth(text)
    t_auc, c_auc, _ = timed(lambda: rank_cells(acts, y_bin, True), args.repeats)
    t_r, c_r, _ = timed(lambda: rank_cells(acts, y_graded, False), args.repeats)
    t_rho, c_rho, _ = timed(lambda: rank_cells(acts, y_graded, False, monotone=True), args.repeats)
    print(f"discovery over {n_cells:,} cells (mean/std come with the extraction): AUC (binary signal) wall "
          f"{t_auc:.2f} s cpu {c_auc:.2f} s; Pearson r (graded) wall {t_r:.2f} s cpu {c_r:.2f} s (target < 1 s); "
          f"Spearman rho (graded, --monotone) wall {t_rho:.2f} s cpu {c_rho:.2f} s; "
          f"AUC ranking = {t_auc / t_plain:.3f}x the plain forward")


if __name__ == "__main__":
    main()
