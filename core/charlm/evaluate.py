"""Loss of a trained CharRNN on a text, in nats and bits per character (training validates with it too).

`python -m core.charlm.evaluate --checkpoint DIR --text FILE [--device auto|cpu|cuda|mps]` prints
`... nats=<float> bpc=<float>`.
"""
import argparse
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from core.charlm.checkpoint import CheckpointError, load_checkpoint
from core.charlm.corpus import CorpusError, check_user_text
from core.charlm.model import CharRNN
from core.common.device import DeviceError, add_device_arg, autocast, resolve_device


def streams(ids: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a long id sequence into batch_size contiguous input/target streams, each (B, L)."""
    L = (ids.numel() - 1) // batch_size
    if L < 2:
        raise CorpusError(f"the text is too short for batch size {batch_size}")
    x = ids[:batch_size * L].view(batch_size, L)
    y = ids[1:batch_size * L + 1].view(batch_size, L)
    return x, y


@torch.no_grad()
def evaluate_loss(model: CharRNN, ids: torch.Tensor, batch_size: int = 32, seq_len: int = 256,
                  bf16: bool = False) -> float:
    """Mean next-character loss in nats over ids (1-D, on the model's device), read as carried-state streams."""
    was_training = model.training
    model.eval()
    batch_size = max(1, min(batch_size, (ids.numel() - 1) // 2))
    x, y = streams(ids, batch_size)
    total, state = torch.zeros((), dtype=torch.float64, device=ids.device), None  # summed on the device: no sync
    for pos in range(0, x.size(1), seq_len):
        with autocast(ids.device, bf16):
            logits, state = model(x[:, pos:pos + seq_len], state)  # (B, T, V)
        target = y[:, pos:pos + seq_len]
        total += F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), target.reshape(-1), reduction="sum")
    model.train(was_training)
    return total.item() / y.numel()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.charlm.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="checkpoint directory")
    p.add_argument("--text", required=True, help="UTF-8 text file to score")
    add_device_arg(p)
    args = p.parse_args(argv)
    try:
        device = resolve_device(args.device)
        ckpt = load_checkpoint(args.checkpoint)
        text = check_user_text(Path(args.text).read_bytes())
    except (DeviceError, CheckpointError, CorpusError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ids = torch.tensor(ckpt.vocab.encode(text), device=device)
    nats = evaluate_loss(ckpt.model.to(device), ids)
    unknown = sum(ckpt.vocab.unknown_mask(text))
    print(f"{args.text}: {len(text):,} chars ({unknown} unknown to the model) "
          f"nats={nats:.4f} bpc={nats / math.log(2):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
