"""rnnlens photos fetch: download and unpack the photo world's two Debian packages into data/photos."""
import argparse
import subprocess
import sys

from core.cli.args import fail
from core.vision.photos import PhotoWorldError, fetch


def parser() -> argparse.ArgumentParser:
    """The photos command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens photos", description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["fetch"])
    return p


def main(argv: list[str] | None = None) -> int:
    """Fetch the photo world's sources and say where they are."""
    parser().parse_args(argv)
    try:
        root = fetch()
    except (PhotoWorldError, subprocess.CalledProcessError) as e:
        return fail(e)
    print(f"photo world sources ready under {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
