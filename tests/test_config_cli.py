"""core.cli: a config dataclass becomes a command line and back, with the dataclass's own checks."""
import argparse
from dataclasses import dataclass

import pytest

from core.cli import add_config_args, config_from_args
from core.memory_task import MemoryConfig
from core.train import TrainConfig


@dataclass
class Knobs:
    name: str
    steps: int = 3
    clip: float | None = None
    fast: bool = True
    resume: bool = False


def parse(cls, argv):
    p = argparse.ArgumentParser()
    add_config_args(p, cls)
    return config_from_args(cls, vars(p.parse_args(argv)))


def test_types_defaults_switches_and_none():
    assert parse(Knobs, ["--name", "a"]) == Knobs("a")
    assert parse(Knobs, ["--name", "a", "--steps", "7", "--clip", "0.5", "--no-fast", "--resume"]) == \
        Knobs("a", 7, 0.5, False, True)
    assert parse(Knobs, ["--name", "a", "--clip", "none"]).clip is None
    with pytest.raises(SystemExit):  # a required field is missing
        parse(Knobs, [])


def test_the_trainers_configs_round_trip():
    cfg = parse(TrainConfig, ["--corpus", "c", "--out", "o", "--forget-bias", "1", "--no-bf16", "--max-steps", "9"])
    assert cfg == TrainConfig(corpus="c", out="o", forget_bias=1.0, bf16=False, max_steps=9)
    assert parse(MemoryConfig, ["--cell", "gru", "--bptt", "5"]) == MemoryConfig(cell="gru", bptt=5)
    with pytest.raises(ValueError, match="cell must be one of"):
        parse(MemoryConfig, ["--cell", "tcn"])
