"""The famous cells the Cells page opens on (dashboard/famous.py): rank every cell of each one's model against its
signal on the page of validation text it opens, as the page does (1,000 characters of warm-up), and print the best
cell, its score and the share of the page where the signal is on; `--pages N` ranks the first N pages instead (how
the pages were chosen).

`python bench/famous_cells.py [--pages 8]`
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.charlm.checkpoint import load_checkpoint  # noqa: E402
from core.charlm.corpus import load_corpus  # noqa: E402
from core.lens.activations import extract  # noqa: E402
from core.lens.discovery import rank_cells  # noqa: E402
from core.lens.signals import compute_signal  # noqa: E402
from dashboard.famous import FAMOUS, cell_name  # noqa: E402

PAGE, WARMUP = 5_000, 1_000  # as dashboard/cells.py pages a text


def best_cell(ckpt, val: str, signal: str, page: int) -> str:
    """The best cell for signal on 1-based page `page` of val, its score and how much of the page the signal covers."""
    offset = (page - 1) * PAGE
    chunk, warmup = val[offset:offset + PAGE], val[max(0, offset - WARMUP):offset]
    y, binary = compute_signal(signal, chunk)
    if y.max() == y.min():
        return "constant"
    best = rank_cells(extract(ckpt.model, ckpt.vocab, chunk, warmup=warmup), y, binary, top=1)[0]
    return f"{cell_name(best.layer, best.kind, best.unit)} {best.metric} {best.score:.3f} (signal mean {y.mean():.2f})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=0, help="rank the first N pages of each model's val text instead")
    args = p.parse_args()
    torch.set_num_threads(1)
    for key, cell in FAMOUS.items():
        ckpt = load_checkpoint(ROOT / "checkpoints" / cell.model)
        val = load_corpus(ckpt.card["corpus"]).val
        pages = range(1, args.pages + 1) if args.pages else [cell.page]
        for page in pages:
            print(f"{cell.label:<13} {cell.model:<17} page {page}: {best_cell(ckpt, val, cell.signal, page)}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
