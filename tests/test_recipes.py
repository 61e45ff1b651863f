"""recipes/: one rebuild script per shipped checkpoint, whose training commands end with the card's commands
(plus flags that pin a default changed since, at the card's value)."""
import json
import shlex

import pytest

from tests.conftest import ROOT

# the models trained here (their cards record the commands); checkpoints/faces-mtcnn holds converted weights,
# whose card names the package they come from
SHIPPED = sorted(p.parent.name for p in (ROOT / "checkpoints").glob("*/card.json")
                 if {"command", "commands"} & json.loads(p.read_text()).keys())
# where each trainer's command line lived when a shipped card recorded it -> where it is now
MOVED = {"core.train": "core.cli.train", "core.charlm.train": "core.cli.train",
         "core.caption.train": "core.cli.caption_train", "core.vqa.train": "core.cli.vqa_train"}


def today(command: str) -> str:
    """A recorded `python -m MODULE ...` command with the module's path of today."""
    words = command.split(" ", 3)
    return " ".join(words[:2] + [MOVED.get(words[2], words[2])] + words[3:]) if len(words) > 2 else command


def training_lines(recipe: str) -> list[str]:
    """The recipe's training commands: its `python -m` lines (the shipping export, data fetching and the emergence
    retrain, which trains a separate run and stores only its probe timeline, are `rnnlens` commands)."""
    return [line for line in recipe.splitlines()
            if line.startswith("python -m ")]


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_checkpoint_has_a_recipe_ending_with_its_card_commands(name):
    card = json.loads((ROOT / "checkpoints" / name / "card.json").read_text())
    recorded = [today(c) for c in card.get("commands") or [card["command"]]]
    recipe = (ROOT / "recipes" / f"{name}.sh").read_text()
    lines = training_lines(recipe)
    assert len(lines) >= len(recorded)
    for command, line in zip(recorded, lines[-len(recorded):]):
        assert line == command or line.startswith(command + " ")
        pins = shlex.split(line[len(command):])  # flags that pin a default changed since, as the card has it
        for flag, value in zip(pins[::2], pins[1::2]):
            assert str(card["train_config"][flag.removeprefix("--").replace("-", "_")]) == value
    out = shlex.split(lines[-1])[shlex.split(lines[-1]).index("--out") + 1]
    assert out == f"checkpoints/{name}" or f"rnnlens checkpoint export {out} checkpoints/{name}" in recipe


def test_every_recipe_belongs_to_a_shipped_checkpoint():
    assert sorted(p.stem for p in (ROOT / "recipes").glob("*.sh")) == SHIPPED


def test_training_commands_parse_with_the_trainer_cli():
    from core.caption.train import CaptionTrainConfig
    from core.charlm.settings import TrainConfig
    from core.cli import caption_train, train, vqa_train
    from core.common.config_args import config_from_args
    from core.vqa.train import VQATrainConfig
    trainers = {"core.cli.train": (train.parser(), TrainConfig),
                "core.cli.caption_train": (caption_train.parser(), CaptionTrainConfig),
                "core.cli.vqa_train": (vqa_train.parser(), VQATrainConfig)}
    parsed = set()
    for name in SHIPPED:
        for line in training_lines((ROOT / "recipes" / f"{name}.sh").read_text()):
            module = shlex.split(line)[2]
            if module in trainers:
                parser, config = trainers[module]
                args = vars(parser.parse_args(shlex.split(line)[3:]))  # exits on an unknown or malformed flag
                assert config_from_args(config, args).out == args["out"]  # and the config's own checks pass
                parsed.add(module)
    assert parsed == set(trainers)
