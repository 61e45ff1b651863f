"""core.common.config_args: a config dataclass becomes a command line and back, with the dataclass's own checks."""
import argparse
import shlex
from dataclasses import dataclass, field, fields

import pytest

from core.caption.train import CaptionTrainConfig
from core.charlm.settings import TrainConfig
from core.common.config_args import (
    add_config_args,
    check_ranges,
    config_from_args,
    within,
)
from core.gradients.memory_task import MemoryConfig
from core.vqa.train import VQATrainConfig


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


@dataclass
class Ranged:
    steps: int = field(default=3, metadata=within(1, 10))
    clip: float | None = field(default=None, metadata=within(0.1, 5.0))

    def __post_init__(self):
        check_ranges(self)


def test_within_bounds_a_field_at_parse_time_and_in_the_dataclass(capsys):
    assert parse(Ranged, ["--steps", "10", "--clip", "none"]) == Ranged(10, None)
    for argv, message in [(["--steps", "0"], "argument --steps: must be between 1 and 10, not 0"),
                          (["--clip", "nan"], "argument --clip: must be between 0.1 and 5.0, not nan"),
                          (["--steps", "2.5"], "argument --steps: '2.5' is not an integer")]:
        with pytest.raises(SystemExit) as exit:
            parse(Ranged, argv)
        assert exit.value.code == 2 and message in capsys.readouterr().err
    with pytest.raises(ValueError, match="steps must be between 1 and 10, not 11"):
        Ranged(steps=11)


def test_the_trainers_configs_round_trip():
    cfg = parse(TrainConfig, ["--corpus", "c", "--out", "o", "--forget-bias", "1", "--no-bf16", "--max-steps", "9"])
    assert cfg == TrainConfig(corpus="c", out="o", forget_bias=1.0, bf16=False, max_steps=9)
    assert parse(MemoryConfig, ["--cell", "gru", "--bptt", "5"]) == MemoryConfig(cell="gru", bptt=5)
    with pytest.raises(ValueError, match="cell must be one of"):
        parse(MemoryConfig, ["--cell", "tcn"])


def flags_for(cfg) -> list[str]:
    """The command line that should give cfg back: each field that differs from its default, as its flag."""
    argv = []
    for f in fields(cfg):
        value, flag = getattr(cfg, f.name), "--" + f.name.replace("_", "-")
        if value == f.default:
            continue
        if isinstance(value, bool):
            argv.append("--no-" + flag[2:] if f.default else flag)
        else:
            argv += [flag, "none" if value is None else str(value)]
    return argv


PHOTO_ONLY = ["concepts", "copy", "feature_drop", "attend_nouns"]     # need the photo world, not a Karpathy JSON


@pytest.mark.parametrize("cfg, left_default", [
    (CaptionTrainConfig(out="o", world="photos", encoder="late", karpathy_json="d.json", images="imgs", train_scenes=7,
                        val_scenes=3, test_scenes=4, cache_dir="c", min_count=2, embed_size=8, hidden_size=16,
                        attention_size=4, dropout=0.5, project_dim=0, project_imagenet=True, alpha_c=1.0, batch_size=2,
                        lr=0.1, grad_clip=2.5, warmup_steps=4, max_steps=9, max_minutes=0.5, eval_every=3, beam=1, test=False, seed=7,
                        threads=2, device="cpu", overwrite=True), ["project_dim"] + PHOTO_ONLY),
    (CaptionTrainConfig(world="photos", encoder="late", project_dim=8, concepts=True, copy=True, feature_drop=0.2,
                        attend_nouns=0.5), None),
    (VQATrainConfig(out="o", world="photos", photo_features="p", train_images=5, val_images=2, test_images=3,
                    project_dim=8, concepts=True, noun_evidence=True, colours=True, attend_objects=0.5, cache_dir="c", embed_size=8,
                    hidden_size=16, attention_size=4, hops=1, dropout=0.0, batch_images=3, lr=0.1, grad_clip=1.5,
                    warmup_steps=0, mc_weight=0.0,
                    max_steps=9, max_minutes=0.5, eval_every=3, seed=7, threads=2, device="cuda", half=True,
                    overwrite=True), [])])
def test_caption_and_vqa_configs_round_trip_every_flag(cfg, left_default):
    if left_default is not None:
        assert [f.name for f in fields(cfg) if getattr(cfg, f.name) == f.default] == left_default
    assert parse(type(cfg), flags_for(cfg)) == cfg
    assert parse(type(cfg), []) == type(cfg)()  # every flag has its old default


def test_caption_and_vqa_configs_check_their_values():
    with pytest.raises(ValueError, match="hops must be between 1 and 16, not 0"):
        VQATrainConfig(hops=0)
    with pytest.raises(ValueError, match="--project-imagenet needs --encoder late"):
        parse(CaptionTrainConfig, ["--project-imagenet"])
    with pytest.raises(ValueError, match="--encoder must be one of mid, late"):
        CaptionTrainConfig(encoder="early")


def test_the_dashboards_flickr8k_command_parses():
    from dashboard.captioning import TRAIN_REAL
    cfg = parse(CaptionTrainConfig, shlex.split(TRAIN_REAL)[3:])
    assert cfg.karpathy_json == "dataset_flickr8k.json" and cfg.out == "checkpoints/captioner-flickr8k"
