"""Caption image files from the command line: one `path<TAB>caption` line per image.

    python -m core.caption.describe --model checkpoints/captioner-photos IMG [IMG ...] [--beam K] [--no-naming]

Files are decoded like the dashboard's uploads (`core.vision.images.open_image`); a file that cannot be used
gets the page's message on stderr (`path<TAB>error: ...`) and the exit status 1, the others are still captioned.
"""
from __future__ import annotations

import argparse
import sys

import torch

from core.caption.pipeline import describe_and_classify, load_checked
from core.vision.faces import load_detector
from core.vision.encoder import Encoder
from core.vision.images import ImageError, open_image


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", metavar="IMG")
    p.add_argument("--model", default="checkpoints/captioner-photos")
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--naming", action=argparse.BooleanOptionalAction, default=True,
                   help="nouns from the concept memory under their attention (ImageNet head through WordNet, faces)")
    a = p.parse_args(argv)
    try:
        captioner = load_checked(a.model, a.beam)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads)
    encoder, status = Encoder(captioner.model.cfg.encoder), 0
    detector = load_detector() if a.naming else None
    for path in a.images:
        try:
            with open(path, "rb") as f:
                image = open_image(f.read()).image
        except (OSError, ImageError) as e:
            print(f"{path}\terror: {e.strerror if isinstance(e, OSError) and e.strerror else e}", file=sys.stderr)
            status = 1
            continue
        c, _ = describe_and_classify(image, encoder, captioner, None, a.beam, a.naming, detector)
        print(f"{path}\t{c.text}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
