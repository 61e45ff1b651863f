"""Model work in turns: at most N sessions run a model at once (one fewer than the CPUs, at least one;
RNNLENS_MODEL_SLOTS overrides), served in arrival order, so that however many sessions sample at once, the
server's event loop keeps a core and the GIL to answer health checks and websocket traffic. Each session's torch
runs one intra-op thread (dashboard/app.py); model work runs in the session's script thread, never on the event
loop."""
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TypeVar

TURN_S = 0.05  # how long one session draws from a generator before the next one gets the slot

T = TypeVar("T")


class FairSlots:
    """A counting semaphore that hands a released slot to the longest waiter (threading.Semaphore lets the
    releasing thread take it straight back, so one stream could keep the others waiting)."""

    def __init__(self, n: int):
        self._free, self._waiters, self._lock = n, deque(), threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        turn.acquire()  # released by release(), which hands this thread the slot

    def release(self) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._free += 1

    def __enter__(self) -> "FairSlots":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


SLOTS = FairSlots(int(os.environ.get("RNNLENS_MODEL_SLOTS", "0")) or max(1, (os.cpu_count() or 2) - 1))


def model_slot() -> FairSlots:
    """A model slot for a `with` block of model work (waiting in line while all are taken)."""
    return SLOTS


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
