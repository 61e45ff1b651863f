"""What a training run reports while it runs: one small dataclass per kind of event, oldest first.

A run sends StartEvent (the loss curve it carries over), then per step StepEvent, and as they happen ValEvent,
CurveEvent (each point it adds to its loss curve: the curve samples.json stores), SampleEvent and
CheckpointEvent; DoneEvent last. The CLI prints them; the dashboard's job folds them into what the page shows.
"""
import math
from dataclasses import dataclass

LN2 = math.log(2)


@dataclass
class StartEvent:
    curve: list[dict]  # the loss curve carried over from a resumed or fine-tuned checkpoint ([] when fresh)
    settings_note: str = ""  # how the run chose the knobs left unset (core.charlm.settings.AutoChoice.why)


@dataclass
class StepEvent:
    step: int
    train_loss: float
    tokens_per_s: float
    lr: float
    progress: float  # 0..1 of this run's budget


@dataclass
class ValEvent:
    step: int
    val_loss: float  # nats per character

    @property
    def val_bpc(self) -> float:
        return self.val_loss / LN2


@dataclass
class CurveEvent:
    point: dict  # step, train_loss, val_loss (or None), tokens_per_s (or None)


@dataclass
class SampleEvent:
    step: int
    text: str


@dataclass
class CheckpointEvent:
    path: str


@dataclass
class DoneEvent:
    path: str
    val_loss: float  # on the whole validation split

    @property
    def val_bpc(self) -> float:
        return self.val_loss / LN2


TrainEvent = StartEvent | StepEvent | ValEvent | CurveEvent | SampleEvent | CheckpointEvent | DoneEvent
