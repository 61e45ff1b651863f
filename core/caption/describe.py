"""Caption image files from the command line: one `path<TAB>caption` line per image.

    python -m core.caption.describe --model checkpoints/captioner-photos IMG [IMG ...] [--beam K]

Files are read and decoded like the dashboard's uploads (`core.vision.images.load_image_file`); a file that
cannot be used gets the page's message on stderr (`path<TAB>error: ...`) and the exit status 1, the others are
still captioned.
"""
from __future__ import annotations

import argparse
import sys

import torch

from core.caption.pipeline import describe, load_checked
from core.vision.encoder import Encoder
from core.vision.images import ImageError, load_image_file


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", metavar="IMG")
    p.add_argument("--model", default="checkpoints/captioner-photos")
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    try:
        captioner = load_checked(a.model, a.beam)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads)
    encoder, status = Encoder(captioner.model.cfg.encoder), 0
    for path in a.images:
        try:
            image = load_image_file(path).image
        except ImageError as e:
            print(f"{path}\terror: {e}", file=sys.stderr)
            status = 1
            continue
        print(f"{path}\t{describe(image, encoder, captioner, a.beam).text}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
