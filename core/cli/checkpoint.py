"""rnnlens checkpoint export SRC DST: a shipping copy of a checkpoint (fp16 weights, no optimizer state)."""
import argparse
import sys

from core.charlm.checkpoint import CheckpointError, OutputError, export_checkpoint
from core.cli.args import fail


def parser() -> argparse.ArgumentParser:
    """The checkpoint command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens checkpoint", description="Inspect or export checkpoints.")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write a shipping copy (fp16 weights, no optimizer state)")
    e.add_argument("src")
    e.add_argument("dst")
    e.add_argument("--overwrite", action="store_true", help="replace the checkpoint already in DST")
    return p


def main(argv: list[str] | None = None) -> int:
    """Export SRC to DST and print the copy's size."""
    args = parser().parse_args(argv)
    try:
        path = export_checkpoint(args.src, args.dst, args.overwrite)
    except (CheckpointError, OutputError) as err:
        return fail(err)
    size = sum(f.stat().st_size for f in path.iterdir())
    print(f"exported {args.src} -> {path} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
