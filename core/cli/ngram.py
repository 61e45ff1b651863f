"""rnnlens ngram: the smoothed character n-gram baseline's loss on a corpus's val split."""
import argparse
import math
import sys

from core.charlm.corpus import CorpusError, load_corpus
from core.charlm.ngram import NGram
from core.cli.args import fail
from core.common.config_args import bounded

MAX_ORDER = 20  # the counts of a 20-gram of a few MB of text stay well under 1 GB


def parser() -> argparse.ArgumentParser:
    """The ngram command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens ngram", description=__doc__.splitlines()[0])
    p.add_argument("--corpus", required=True, help="built-in corpus name or a UTF-8 text file")
    p.add_argument("--order", type=bounded(int, 1, MAX_ORDER), default=5,
                   help="n: the model conditions on n-1 characters")
    return p


def main(argv: list[str] | None = None) -> int:
    """Print `NAME N-gram val: nats=... bpc=...`."""
    args = parser().parse_args(argv)
    try:
        corpus = load_corpus(args.corpus)
        model = NGram(corpus.train, args.order)
    except (CorpusError, ValueError) as e:
        return fail(e)
    nats = model.loss(corpus.val)
    print(f"{corpus.name} {args.order}-gram val: nats={nats:.4f} bpc={nats / math.log(2):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
