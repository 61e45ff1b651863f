"""What the captioner's and the VQA trainer's command lines share: a flag per config field, one-line errors."""
import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from core.common.config_args import add_config_args, config_from_args
from core.common.loop import TrainingError
from core.vision.photos import PhotoWorldError


def config_parser(prog: str, doc: str, config_cls: type, help: dict[str, str]) -> argparse.ArgumentParser:
    """A command line with one flag per field of the dataclass config_cls, doc as its description."""
    p = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(p, config_cls, help=help)
    return p


def run_training(parser: argparse.ArgumentParser, config_cls: type, train: Callable[..., Path],
                 argv: list[str] | None) -> int:
    """Parse argv, train(config, log=..., command=...) and say where it saved: 0, or 2 with a one-line message
    on bad input (a bad flag, DeviceError, OutputError, a data error, missing photos, a diverged loss)."""
    argv = sys.argv[1:] if argv is None else argv
    args = vars(parser.parse_args(argv))
    try:
        out = train(config_from_args(config_cls, args), log=lambda m: print(m, flush=True),
                    command=" ".join([parser.prog, *argv]))
    except (ValueError, PhotoWorldError, TrainingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"saved {out}")
    return 0
