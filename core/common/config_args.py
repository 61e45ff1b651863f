"""Command lines from config dataclasses: one --flag per field, so every trainer's CLI reads its config.

`add_config_args(parser, TrainConfig)` adds `--hidden-size` for `hidden_size: int = 256` and so on: the type
comes from the annotation (`int`, `float`, `str`, or any of them `| None`, where the word `none` gives None),
a field without a default is required, and a bool field becomes a switch (`--resume` when it defaults to
False, `--no-bf16` when it defaults to True). `config_from_args` builds the dataclass back from the parsed
arguments, so its own checks (`__post_init__`) give the CLI's error messages.
"""
import argparse
import dataclasses
import shlex
import types
import typing
from typing import Any, Callable


def _parser_for(annotation) -> Callable[[str], Any]:
    """The argparse type for a field annotation: int, float, str, or one of them | None."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        base = _parser_for(next(a for a in args if a is not type(None)))
        return lambda text: None if text.lower() == "none" else base(text)
    if annotation in (int, float, str):
        return annotation
    raise TypeError(f"no command-line type for {annotation!r}")


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
        elif has_default:
            parser.add_argument(flag, type=_parser_for(hints[f.name]), default=f.default, help=help.get(f.name))
        else:
            parser.add_argument(flag, type=_parser_for(hints[f.name]), required=True, help=help.get(f.name))


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
