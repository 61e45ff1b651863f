"""Loss of a trained CharRNN on a text, in nats and bits per character.

`python -m core.evaluate --checkpoint DIR --text FILE` prints `... nats=<float> bpc=<float>`.
"""
import argparse
import math
import sys
from pathlib import Path

import torch

from core.checkpoint import CheckpointError, load_checkpoint
from core.corpus import CorpusError, check_user_text
from core.train import evaluate_loss


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="checkpoint directory")
    p.add_argument("--text", required=True, help="UTF-8 text file to score")
    args = p.parse_args(argv)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        text = check_user_text(Path(args.text).read_bytes())
    except (CheckpointError, CorpusError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ids = torch.tensor(ckpt.vocab.encode(text))
    nats = evaluate_loss(ckpt.model, ids)
    unknown = sum(ckpt.vocab.unknown_mask(text))
    print(f"{args.text}: {len(text):,} chars ({unknown} unknown to the model) "
          f"nats={nats:.4f} bpc={nats / math.log(2):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
