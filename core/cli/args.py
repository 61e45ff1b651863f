"""What the command lines share: the --threads and --device flags and the one-line error exit (numeric flags are
bounded with core.common.config_args.bounded, which config dataclasses use too)."""
import argparse
import sys

from core.common.config_args import bounded
from core.common.device import DEVICE_HELP, DEVICES

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
