"""How fast this machine trains a character model: a few timed steps of a throwaway model, before a run chooses its size."""
import time

import torch
import torch.nn.functional as F

from core.charlm.model import CharRNN, CharRNNConfig
from core.common.device import autocast

WARMUP_STEPS = 2


def training_chars_per_second(config: CharRNNConfig, batch_size: int, seq_len: int, device: torch.device,
                              bf16: bool = False, steps: int = 8) -> float:
    """Characters per second that training `config` at batch_size x seq_len reads on device, in bf16 autocast where
    asked and supported: the 25th-percentile time of `steps` timed steps after WARMUP_STEPS, not the median, since a
    process's first seconds can be slowed by what ran just before it (torch's RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        model = CharRNN(config).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.randint(config.vocab_size, (batch_size, seq_len + 1), device=device)  # (B, T + 1)
        seconds = []
        for _ in range(WARMUP_STEPS + steps):
            t0 = time.perf_counter()
            with autocast(device, bf16):
                logits, _ = model(x[:, :-1])  # (B, T, V)
            loss = F.cross_entropy(logits.float().reshape(-1, config.vocab_size), x[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seconds.append(time.perf_counter() - t0)
    return batch_size * seq_len / sorted(seconds[WARMUP_STEPS:])[steps // 4]
