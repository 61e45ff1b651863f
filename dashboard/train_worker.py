"""The child process of a dashboard training job: trains and forwards every event over a queue.

Kept apart from dashboard/training.py so the child imports neither streamlit nor the dashboard's caches.
"""
import dataclasses
import multiprocessing as mp

from core.charlm.settings import TrainConfig
from core.charlm.train import train
from core.lens.emergence import timeline_probe


@dataclasses.dataclass
class JobFailed:
    """The child process's training raised: the message is shown on the Train page."""
    message: str


@dataclasses.dataclass
class JobExited:
    """The child process is over (or was killed without a word)."""


def run_job(cfg: TrainConfig, events: mp.Queue, stop: mp.Event) -> None:
    """Child process: train (probing each timeline entry for the cells-emerging chart), forwarding every event."""
    import torch

    torch.set_num_threads(1)
    try:
        train(cfg, events.put, stop.is_set, probe=timeline_probe)
    except Exception as err:  # shown to the user on the Train page
        events.put(JobFailed(str(err) or type(err).__name__))
    events.put(JobExited())
