"""Data-parallel training across processes with torch.distributed, as started by `torchrun`.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK in each process's environment; `Ranks.from_env` joins the process
group (NCCL when the processes run on CUDA GPUs, gloo on CPU) or, without those variables, is a one-process
group that makes every collective here a no-op. The trainer splits its streams by rank, and uses these
helpers to agree on the clock and decisions of rank 0 and to gather the per-rank state a checkpoint needs.
"""
import os
import sys
from dataclasses import dataclass
from typing import NoReturn

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this process evaluates, samples, reports and writes checkpoints (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @staticmethod
    def from_env() -> "Ranks":
        """This process's place in the torchrun job (one process when torchrun did not start it)."""
        env = os.environ
        return Ranks(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))

    def join(self, device: torch.device) -> None:
        """Join the process group (NCCL for CUDA, gloo otherwise), once, when there is more than one process."""
        if self.distributed and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo", device_id=device
                                    if device.type == "cuda" else None)

    def leave(self) -> None:
        """Leave the process group joined by join."""
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()

    def exit(self, code: int) -> NoReturn:
        """End this process with code, without the interpreter's teardown. After a collective returns, gloo's
        worker thread may still be dropping its tensors, which takes the GIL; during the teardown that aborts the
        process (SIGABRT after a finished run, about 1 run in 50 on a loaded 2-core machine)."""
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    def rows(self, n: int) -> slice:
        """This rank's share of n streams (n must divide evenly)."""
        share = n // self.world_size
        return slice(self.rank * share, (self.rank + 1) * share)

    def from_main(self, values: list[float], device: torch.device) -> list[float]:
        """Rank 0's values, on every rank (float64, so clocks agree to the bit)."""
        if not self.distributed:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.broadcast(t, src=0)
        return t.tolist()

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The mean of tensor over all processes."""
        if not self.distributed:
            return tensor
        total = tensor.clone()
        dist.all_reduce(total)  # a sum: gloo has no average
        return total / self.world_size

    def gather(self, tensor: torch.Tensor, dim: int = 0) -> torch.Tensor:
        """Every rank's tensor concatenated along dim in rank order (the same shape on every rank)."""
        if not self.distributed:
            return tensor
        parts = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim)
