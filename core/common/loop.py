"""One training loop for every model here, split as in PyTorch Lightning (`fit` / `training_step`).

A model side (a `Task`) gives the loss of its next batch, a validation score and any work of its own after a
step (samples, checkpoints, a log line); the loop owns the rest, the same for the character models, the
captioner and the VQA models:
- the budget: steps or minutes, whichever runs out first, counted from where this run starts (a resumed or
  fine-tuned run carries its parent's steps and seconds); only training steps count against the minutes, and
  validations too when `count_validation` (a wall-clock budget);
- the learning rate: linear warmup over `warmup_steps`, then cosine decay to lr * lr_min_ratio;
- gradient-norm clipping, and a clear stop when the loss is no longer finite;
- the best state: a copy of the model, optimizer, RNG and the task's own state at every better validation,
  rewound to at the end when the last state validates worse (so a resume goes on from the kept state);
- StepEvent and ValEvent (core.common.events); under torchrun, rank 0's clock and decisions for every process.
"""
import copy
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import torch

from core.common.device import bf16_supported, describe
from core.common.distributed import Ranks
from core.common.events import StepEvent, TrainEvent, ValEvent


class TrainingError(RuntimeError):
    """Training cannot go on (the loss diverged); the message says what was kept and what to try."""


@dataclass
class LoopConfig:
    lr: float
    max_steps: int | None  # None: no step limit
    max_minutes: float | None  # None: no time limit
    eval_every: int
    grad_clip: float
    warmup_steps: int = 0  # the learning rate grows linearly over these first steps
    lr_min_ratio: float = 0.0  # cosine decay ends at lr * lr_min_ratio
    eval_at: tuple[int, ...] = ()  # steps validated besides every eval_every-th
    count_validation: bool = False  # validation time counts against max_minutes too


class Task(ABC):
    """The model side of a run: its next batch's loss, its validation score and its own work between steps."""

    @abstractmethod
    def loss(self) -> torch.Tensor:
        """The loss of the next training batch: a scalar with its graph (the loop steps the optimizer)."""

    @abstractmethod
    def validate(self) -> float:
        """The validation score of the model as it is now, lower is better (called on rank 0 only)."""

    @abstractmethod
    def kept(self) -> str:
        """What a run that stops now leaves behind, for the error message (e.g. 'no checkpoint was written')."""

    def after_step(self, val: float | None) -> None:
        """The task's own work after each step; val is rank 0's score when this step was validated."""

    def state(self) -> object:
        """What the best-state copy keeps beyond the model, the optimizer and the RNG (e.g. a data position)."""
        return None

    def load_state(self, state: object) -> None:
        """Go back to a state returned by state()."""


@dataclass
class Snapshot:
    """The training state at a validation: what the run rewinds to if it stays the best."""
    score: float | None  # rank 0's validation score (None on the other ranks)
    train_loss: float
    step: int
    elapsed: float
    model: dict
    optimizer: dict
    rng: torch.Tensor
    task: object


class Throughput:
    """Tokens per second over a window that restarts every `window` seconds."""

    def __init__(self, window: float = 5.0):
        self.window, self.tokens, self.start = window, 0, time.perf_counter()

    def add(self, tokens: int) -> float:
        """Count tokens just processed; the rate since the window started."""
        self.tokens += tokens
        now = time.perf_counter()
        rate = self.tokens / max(now - self.start, 1e-9)
        if now - self.start > self.window:
            self.tokens, self.start = 0, now
        return rate


def lr_at(cfg: LoopConfig, step: int, progress: float) -> float:
    """The learning rate for the step after `step` at `progress` (0..1) of the budget: warmup, then cosine."""
    peak = cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else cfg.lr
    low = peak * cfg.lr_min_ratio
    return low + (peak - low) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def card_header(name: str, device: torch.device, command: str, world_size: int = 1, bf16: bool = False) -> dict:
    """The fields every model card has: name, hardware (device, processes, torch, bf16), command, created."""
    processes = f", {world_size} processes" if world_size > 1 else ""
    autocast = ", bf16 autocast" if bf16 and bf16_supported(device) else ""
    return {"name": name, "hardware": f"{describe(device)}{processes}, torch {torch.__version__}{autocast}",
            "command": command, "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}


class Loop:
    """One run's optimizer steps, budget, learning rate, best state and step events."""

    def __init__(self, cfg: LoopConfig, model: torch.nn.Module, opt: torch.optim.Optimizer,
                 device: torch.device | None = None, ranks: Ranks | None = None):
        self.cfg, self.model, self.opt = cfg, model, opt
        self.device = device or torch.device("cpu")
        self.ranks = ranks or Ranks()
        self.step = self.base_step = 0  # base: where this run's budget starts (a fine-tune's parent's steps)
        self.elapsed = self.base_elapsed = 0.0  # seconds of training
        self.train_loss = float("nan")  # the last step's, over all processes
        self.tokens_per_s = 0.0
        self.best: Snapshot | None = None
        self.validated_step: int | None = None
        self.trained_steps = self.trained_seconds = None  # how far the run went, before any rewind
        self.emit: Callable[[TrainEvent], None] = lambda event: None

    def progress(self) -> float:
        """How much of this run's budget (steps or minutes, whichever runs out first) is spent, 0..1+."""
        cfg = self.cfg
        by_steps = (self.step - self.base_step) / cfg.max_steps if cfg.max_steps else 0.0
        by_time = (self.elapsed - self.base_elapsed) / (60 * cfg.max_minutes) if cfg.max_minutes else 0.0
        return max(by_steps, by_time)

    def update(self, task: Task) -> float:
        """One optimizer step on the task's next batch; returns its loss (the mean over all processes)."""
        for group in self.opt.param_groups:
            group["lr"] = lr_at(self.cfg, self.step, self.progress())
        loss = task.loss()
        mean_loss = self.ranks.mean(loss.detach())
        if not torch.isfinite(mean_loss):
            raise TrainingError(f"the loss became {mean_loss.item()} at step {self.step + 1}; {task.kept()}. "
                                f"Try a lower --lr or --grad-clip.")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()  # DistributedDataParallel averages the gradients over the processes here
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.opt.step()
        self.step += 1
        self.train_loss = mean_loss.item()
        return self.train_loss

    def run(self, task: Task, on_event: Callable[[TrainEvent], None] | None = None,
            should_stop: Callable[[], bool] | None = None, tokens_per_step: int = 0,
            validate_first: bool = False) -> None:
        """Train until the budget is spent or should_stop(); validate the last state if no validation has,
        and rewind to the best one. Only rank 0 sends events."""
        if on_event and self.ranks.is_main:
            self.emit = on_event
        speed = Throughput()
        if validate_first:  # a resumed run: what it starts from is the best it knows
            self.validate(task)
        while self._go_on(should_stop or (lambda: False)):
            t0 = time.perf_counter()
            self.update(task)
            self.elapsed += time.perf_counter() - t0
            self.tokens_per_s = speed.add(tokens_per_step)
            self.emit(StepEvent(self.step, self.train_loss, self.tokens_per_s, self.opt.param_groups[0]["lr"],
                                min(self.progress(), 1.0)))
            due = self.step % self.cfg.eval_every == 0 or self.step in self.cfg.eval_at
            task.after_step(self.validate(task) if due else None)
        if self.validated_step != self.step:
            self.validate(task)
        self._rewind(task)

    def validate(self, task: Task) -> float | None:
        """Validate (rank 0), send a ValEvent and keep a copy of the state when it is the best so far."""
        t0 = time.perf_counter()
        score = task.validate() if self.ranks.is_main else None
        if self.cfg.count_validation:
            self.elapsed += time.perf_counter() - t0
        if score is not None:
            self.emit(ValEvent(self.step, score))
        better = self.ranks.is_main and (self.best is None or score < self.best.score)
        if self.ranks.from_main([float(better)], self.device)[0]:
            self.best = Snapshot(score, self.train_loss, self.step, self.elapsed,
                                 copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.opt.state_dict()),
                                 torch.get_rng_state(), task.state())
        self.validated_step = self.step
        return score

    def _go_on(self, should_stop: Callable[[], bool]) -> bool:
        """Whether to take another step: rank 0 decides (its clock and should_stop), every rank follows."""
        stop = self.ranks.is_main and should_stop()
        self.elapsed, stop = self.ranks.from_main([self.elapsed, float(stop)], self.device)
        return self.progress() < 1.0 and not stop

    def _rewind(self, task: Task) -> None:
        """Go back to the best state when the last one validated worse (every rank agreed on which is best)."""
        self.trained_steps, self.trained_seconds = self.step, self.elapsed
        best = self.best
        if best is None or best.step == self.step:
            return
        self.model.load_state_dict(best.model)
        self.opt.load_state_dict(best.optimizer)
        torch.set_rng_state(best.rng)
        self.step, self.elapsed, self.train_loss = best.step, best.elapsed, best.train_loss
        task.load_state(best.task)
