"""Command lines from config dataclasses: one --flag per field, so every trainer's CLI reads its config.

`add_config_args(parser, TrainConfig)` adds `--hidden-size` for `hidden_size: int = 256` and so on: the type
comes from the annotation (`int`, `float`, `str`, or any of them `| None`, where the word `none` gives None),
a field without a default is required, and a bool field becomes a switch (`--resume` when it defaults to
False, `--no-bf16` when it defaults to True). A numeric field declared with `field(..., metadata=within(lo, hi))`
is refused at parse time outside [lo, hi] with the range in the message (`bounded`, which every CLI's numeric
flags use too); `check_ranges` lets the dataclass check the same ranges itself. `config_from_args` builds the
dataclass back from the parsed arguments, so its own checks (`__post_init__`) give the CLI's error messages.
"""
import argparse
import dataclasses
import math
import shlex
import types
import typing
from typing import Any, Callable

RANGE = "range"  # the field-metadata key add_config_args reads a numeric field's (lo, hi) from


class Bounded:
    """An argparse type: an int or float between lo and hi (inclusive), else a message with the range; with
    optional, the word `none` gives None."""

    def __init__(self, kind: type, lo: float, hi: float, optional: bool = False):
        self.kind, self.lo, self.hi, self.optional = kind, lo, hi, optional
        self.__name__ = kind.__name__  # argparse names the type in some messages

    def __call__(self, text: str) -> int | float | None:
        if self.optional and text.lower() == "none":
            return None
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if self.kind is int else 'a number'}") from None
        if not self.lo <= value <= self.hi:  # NaN fails both comparisons
            raise argparse.ArgumentTypeError(f"must be between {self.lo:,} and {self.hi:,}, not {text}")
        return value


def bounded(kind: type, lo: float, hi: float) -> Bounded:
    """The argparse type= for an int or float flag allowed in [lo, hi], e.g. `bounded(int, 1, 10_000)`."""
    if kind not in (int, float) or not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"bounded needs int or float and finite lo <= hi, not {kind!r} [{lo}, {hi}]")
    return Bounded(kind, lo, hi)


def within(lo: float, hi: float) -> dict:
    """Field metadata bounding a numeric config field (its flag, check_ranges): `metadata=within(1, 64)`."""
    return {RANGE: (lo, hi)}


def check_ranges(config) -> None:
    """Raise ValueError naming the first numeric field of a config dataclass outside its within() range."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if RANGE in f.metadata and value is not None and not f.metadata[RANGE][0] <= value <= f.metadata[RANGE][1]:
            lo, hi = f.metadata[RANGE]
            raise ValueError(f"{f.name} must be between {lo:,} and {hi:,}, not {value}")


def _parser_for(annotation, bounds: tuple[float, float] | None) -> Callable[[str], Any]:
    """The argparse type for a field annotation: int, float, str, or one of them | None (the word `none`);
    numbers within bounds when the field has them."""
    args = typing.get_args(annotation)
    optional = typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if optional else annotation
    if base in (int, float) and bounds:
        return Bounded(base, *bounds, optional=optional)
    if base not in (int, float, str):
        raise TypeError(f"no command-line type for {annotation!r}")
    return (lambda text: None if text.lower() == "none" else base(text)) if optional else base


def add_config_args(parser: argparse.ArgumentParser, config_cls: type, skip: tuple[str, ...] = (),
                    help: dict[str, str] | None = None) -> None:
    """Add one --flag per field of the dataclass config_cls (except those in skip)."""
    hints = typing.get_type_hints(config_cls)
    help = help or {}
    for f in dataclasses.fields(config_cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        has_default = f.default is not dataclasses.MISSING
        if hints[f.name] is bool:
            on = has_default and f.default
            parser.add_argument("--no-" + flag[2:] if on else flag, dest=f.name, help=help.get(f.name),
                                action="store_false" if on else "store_true")
            continue
        kind = _parser_for(hints[f.name], f.metadata.get(RANGE))
        if has_default:
            parser.add_argument(flag, type=kind, default=f.default, help=help.get(f.name))
        else:
            parser.add_argument(flag, type=kind, required=True, help=help.get(f.name))


def config_from_args(config_cls: type, args: dict[str, Any]):
    """The config_cls built from parsed arguments (keys that are not its fields are ignored)."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return config_cls(**{k: v for k, v in args.items() if k in names})


def command_line(prog: str, cfg) -> str:
    """A command line that gives the dataclass cfg back: prog, then the flag of each field not at its default."""
    words = [prog]
    for f in dataclasses.fields(cfg):
        value, flag = getattr(cfg, f.name), "--" + f.name.replace("_", "-")
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        if isinstance(value, bool):
            words.append("--no-" + flag[2:] if f.default else flag)
        else:
            words += [flag, "none" if value is None else shlex.quote(str(value))]
    return " ".join(words)
