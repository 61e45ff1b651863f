"""Loss of a trained CharRNN on a text, in nats and bits per character (training validates with it too).

`rnnlens evaluate --checkpoint DIR --text FILE [--device auto|cpu|cuda|mps]` prints
`... nats=<float> bpc=<float>`.
"""

import torch
import torch.nn.functional as F

from core.charlm.corpus import CorpusError
from core.charlm.model import CharRNN
from core.common.device import autocast


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
