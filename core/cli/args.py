"""What the command lines share: the --threads and --device flags, the one-line error exit, and the trainers' flag
per config field (numeric flags are bounded with core.common.config_args.bounded, which config dataclasses use too)."""
import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from core.charlm.corpus import load_corpus
from core.common.config_args import add_config_args, bounded, config_from_args
from core.common.device import DEVICE_HELP, DEVICES
from core.common.loop import TrainingError
from core.vision.photos import PhotoWorldError

MAX_THREADS = 256


def add_threads_arg(parser: argparse.ArgumentParser, default: int = 1) -> None:
    """Add --threads (torch CPU threads, 1 to MAX_THREADS)."""
    parser.add_argument("--threads", type=bounded(int, 1, MAX_THREADS), default=default, help="torch threads")


def add_device_arg(parser: argparse.ArgumentParser) -> None:
    """Add --device auto|cpu|cuda|mps (default auto)."""
    parser.add_argument("--device", default="auto", choices=DEVICES, help=DEVICE_HELP)


def fail(error: Exception | str) -> int:
    """Print `error: ...` on stderr and give the exit status of a usage error (2)."""
    print(f"error: {error}", file=sys.stderr)
    return 2


def config_parser(prog: str, doc: str, config_cls: type, help: dict[str, str]) -> argparse.ArgumentParser:
    """A command line with one flag per field of the dataclass config_cls, doc as its description."""
    p = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(p, config_cls, help=help)
    return p


def run_training(parser: argparse.ArgumentParser, config_cls: type, train: Callable[..., Path],
                 argv: list[str] | None, module: str) -> int:
    """Parse argv, train(config, log=..., command=...) and say where it saved: 0, or 2 with a one-line message
    on bad input (a bad flag, DeviceError, OutputError, a data error, missing photos, a diverged loss). The card
    records the command as `python -m module ...`, which runs without the `rnnlens` install."""
    argv = sys.argv[1:] if argv is None else argv
    args = vars(parser.parse_args(argv))
    try:
        out = train(config_from_args(config_cls, args), log=lambda m: print(m, flush=True),
                    command=" ".join(["python -m", module, *argv]))
    except (ValueError, PhotoWorldError, TrainingError) as e:
        return fail(e)
    print(f"saved {out}")
    return 0


def val_text(ckpt, skip: int = 0, chars: int | None = None) -> str:
    """The validation split of the corpus a character checkpoint was trained on, from skip, at most chars long."""
    val = load_corpus(ckpt.card.get("corpus", "")).val
    return val[skip:] if chars is None else val[skip:skip + chars]
