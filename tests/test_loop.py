"""core.common.loop: the schedule, the budget, the best state and the divergence stop, on a tiny regression."""
import math

import pytest
import torch

from core.common.events import StepEvent, ValEvent
from core.common.loop import Loop, LoopConfig, Task, TrainingError, lr_at


class Regression(Task):
    """Fit y = 3x with one weight; validation scores come from a script when given."""

    def __init__(self, scores: list[float] | None = None):
        torch.manual_seed(0)
        self.model = torch.nn.Linear(1, 1, bias=False)
        self.x = torch.linspace(-1, 1, 16).unsqueeze(1)  # (N, 1)
        self.scores = iter(scores) if scores is not None else None
        self.after: list[tuple[int, float | None]] = []
        self.position = 0  # stands for a data position the best-state copy must restore

    def loss(self) -> torch.Tensor:
        self.position += 1
        return ((self.model(self.x) - 3 * self.x) ** 2).mean()

    def validate(self) -> float:
        if self.scores is not None:
            return next(self.scores)
        with torch.no_grad():
            return float(((self.model(self.x) - 3 * self.x) ** 2).mean())

    def kept(self) -> str:
        return "nothing was saved"

    def after_step(self, val: float | None) -> None:
        self.after.append((self.loop.step, val))

    def state(self) -> int:
        return self.position

    def load_state(self, state: int) -> None:
        self.position = state


def make_loop(task: Regression, **knobs) -> Loop:
    cfg = LoopConfig(**{"lr": 0.1, "max_steps": 6, "max_minutes": None, "eval_every": 2, "grad_clip": 1.0, **knobs})
    task.loop = Loop(cfg, task.model, torch.optim.SGD(task.model.parameters(), lr=cfg.lr))
    return task.loop


def test_warmup_then_cosine_down_to_the_floor():
    cfg = LoopConfig(lr=1.0, max_steps=100, max_minutes=None, eval_every=10, grad_clip=1.0, warmup_steps=4,
                     lr_min_ratio=0.1)
    assert [lr_at(cfg, step, 0.0) for step in range(5)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert lr_at(cfg, 50, 0.5) == pytest.approx(0.55) and lr_at(cfg, 99, 1.0) == pytest.approx(0.1)
    no_warmup = LoopConfig(lr=2e-3, max_steps=1, max_minutes=None, eval_every=1, grad_clip=1.0, lr_min_ratio=0.1)
    low = 2e-3 * 0.1  # the character trainer's formula, bit for bit
    assert lr_at(no_warmup, 7, 0.3) == low + (2e-3 - low) * 0.5 * (1 + math.cos(math.pi * 0.3))
    warm = LoopConfig(lr=3e-3, max_steps=1, max_minutes=None, eval_every=1, grad_clip=5.0, warmup_steps=200)
    # the captioner's formula (warmup 200, decay to 0), bit for bit
    assert lr_at(warm, 57, 0.2) == 3e-3 * min(1.0, 58 / 200) * 0.5 * (1 + math.cos(math.pi * 0.2))


def test_the_loop_trains_validates_on_schedule_and_reports_each_step():
    task = Regression()
    loop = make_loop(task, max_steps=5)
    before, events = task.validate(), []
    loop.run(task, events.append)
    assert [e.step for e in events if isinstance(e, StepEvent)] == [1, 2, 3, 4, 5]
    assert [e.step for e in events if isinstance(e, ValEvent)] == [2, 4, 5]  # the last state is validated too
    assert [step for step, val in task.after if val is not None] == [2, 4]
    assert loop.step == loop.trained_steps == 5 and task.validate() < before  # it learned
    assert [e.progress for e in events if isinstance(e, StepEvent)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])


def test_the_run_rewinds_to_the_best_validation_with_the_tasks_state():
    task = Regression(scores=[1.0, 0.5, 0.8])  # steps 2, 4, 6: step 4 is the best
    loop = make_loop(task)
    weights = {}
    task.after_step = lambda val: weights.update({loop.step: task.model.weight.item()})
    loop.run(task)
    assert (loop.step, loop.trained_steps, loop.best.score) == (4, 6, 0.5)
    assert task.model.weight.item() == weights[4] and task.position == 4


def test_a_diverging_loss_stops_with_the_step_and_what_was_kept():
    task = Regression()
    loop = make_loop(task)
    with torch.no_grad():
        task.model.weight.fill_(float("nan"))
    with pytest.raises(TrainingError, match=r"the loss became nan at step 1; nothing was saved\. Try a lower --lr"):
        loop.run(task)


def test_the_budget_counts_from_where_the_run_starts_and_should_stop_ends_it():
    task = Regression()
    loop = make_loop(task, max_steps=4)
    loop.step = loop.base_step = 10  # a fine-tune of a 10-step parent
    loop.run(task, should_stop=lambda: loop.step >= 12)
    assert loop.trained_steps == 12 and loop.progress() == 0.5
