"""Model work in turns: at most SLOTS sessions run a model at once (one fewer than the CPUs, at least one;
RNNLENS_MODEL_SLOTS overrides), so that however many sessions sample at once, the server's event loop keeps a
core and the GIL to answer health checks and websocket traffic. Each session's torch runs one intra-op thread
(dashboard/app.py); model work runs in the session's script thread, never on the event loop."""
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

SLOTS = threading.BoundedSemaphore(int(os.environ.get("RNNLENS_MODEL_SLOTS", "0"))
                                   or max(1, (os.cpu_count() or 2) - 1))
TURN_S = 0.05  # how long one session draws from a generator before the next one gets the slot

T = TypeVar("T")


@contextmanager
def model_slot() -> Iterator[None]:
    """Hold a model slot for a block of model work (waiting for one while all are taken)."""
    with SLOTS:
        yield


def in_turns(items: Iterable[T]) -> Iterator[T]:
    """items drawn for TURN_S seconds at a time while holding a slot, and yielded (to be rendered) after it
    is released: a generator that runs a model per item shares the model slots fairly with other sessions."""
    it, done = iter(items), False
    while not done:
        batch: list[T] = []
        with SLOTS:
            stop = time.perf_counter() + TURN_S
            for item in it:
                batch.append(item)
                if time.perf_counter() >= stop:
                    break
            else:
                done = True
        yield from batch
