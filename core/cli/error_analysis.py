"""rnnlens error-analysis: which of an n-gram's errors the model removes, by kind of character."""
import argparse
import re
import sys
from collections import Counter

import numpy as np
import torch

from core.charlm.checkpoint import CheckpointError, load_checkpoint
from core.charlm.corpus import CorpusError, load_corpus
from core.charlm.ngram import NGram
from core.cli.args import add_threads_arg, fail
from core.cli.ngram import MAX_ORDER
from core.common.config_args import bounded
from core.lens.error_analysis import ERROR_P, compare_with_ngram


def parser() -> argparse.ArgumentParser:
    """The error-analysis command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens error-analysis", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--order", type=bounded(int, 1, MAX_ORDER), default=5,
                   help="n-gram order (fitted on the corpus train split)")
    p.add_argument("--chars", type=bounded(int, 2, 1_000_000), default=50_000,
                   help="analyse the first N characters of the val split")
    p.add_argument("--code", action="store_true", help="C code: brackets and strings, not prose quotes")
    p.add_argument("--rare", type=bounded(int, 1, 1_000_000), default=5,
                   help="a word seen fewer times than this in training is rare")
    p.add_argument("--long-range", type=bounded(int, 1, 100_000), default=20,
                   help="a closing bracket or quote this far from its opening is long-range")
    add_threads_arg(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Print the table of errors removed and added by the model, per kind of character."""
    args = parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        corpus = load_corpus(ckpt.card.get("corpus", ""))
        text = corpus.val[:args.chars]
        ngram = NGram(corpus.train, args.order)
        words = Counter(re.findall(r"\w+", corpus.train))
        rows, p_rnn, p_ngram = compare_with_ngram(ckpt.model, ckpt.vocab, ngram, words, text, args.code, args.rare,
                                                  args.long_range)
    except (CheckpointError, CorpusError, ValueError) as e:
        return fail(e)
    print(f"{ckpt.path.name} vs {args.order}-gram on {len(text) - 1:,} characters of {corpus.name} val "
          f"(error: p(true char) < {ERROR_P}); mean log p: rnn {np.log(p_rnn).mean():.3f}, "
          f"n-gram {np.log(p_ngram).mean():.3f}")
    print(f"{'kind':34s} {'chars':>7s} {'n-gram err':>10s} {'rnn err':>8s} {'removed':>8s} {'added':>6s} "
          f"{'log p n-gram':>12s} {'log p rnn':>9s}")
    for r in rows:
        print(f"{r.kind:34s} {r.n:7d} {r.ngram_errors:10d} {r.rnn_errors:8d} {r.removed_fraction:8.1%} {r.added:6d} "
              f"{r.ngram_logp:12.3f} {r.rnn_logp:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
