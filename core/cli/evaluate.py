"""rnnlens evaluate: a checkpoint's loss on a UTF-8 text, in nats and bits per character."""
import argparse
import math
import sys
from pathlib import Path

import torch

from core.charlm.checkpoint import CheckpointError, load_checkpoint
from core.charlm.corpus import CorpusError, check_user_text
from core.charlm.evaluate import evaluate_loss
from core.cli.args import add_device_arg, fail
from core.common.device import DeviceError, resolve_device


def parser() -> argparse.ArgumentParser:
    """The evaluate command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="checkpoint directory")
    p.add_argument("--text", required=True, help="UTF-8 text file to score")
    add_device_arg(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Print `FILE: N chars (U unknown to the model) nats=... bpc=...`."""
    args = parser().parse_args(argv)
    try:
        device = resolve_device(args.device)
        ckpt = load_checkpoint(args.checkpoint)
        text = check_user_text(Path(args.text).read_bytes())
    except (DeviceError, CheckpointError, CorpusError, OSError) as e:
        return fail(e)
    ids = torch.tensor(ckpt.vocab.encode(text), device=device)
    nats = evaluate_loss(ckpt.model.to(device), ids)
    unknown = sum(ckpt.vocab.unknown_mask(text))
    print(f"{args.text}: {len(text):,} chars ({unknown} unknown to the model) "
          f"nats={nats:.4f} bpc={nats / math.log(2):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
