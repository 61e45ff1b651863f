"""rnnlens describe: caption image files, one `path<TAB>caption` line per image.

    rnnlens describe --model checkpoints/captioner-photos IMG [IMG ...] [--beam K] [--no-naming]

Files are read and decoded like the dashboard's uploads (`core.vision.images.load_image_file`); a file that
cannot be used gets the page's message on stderr (`path<TAB>error: ...`) and the exit status 1, the others are
still captioned.
"""
import argparse
import sys

import torch

from core.caption.pipeline import describe_and_classify, load_checked
from core.caption.search import MAX_BEAM
from core.cli.args import add_threads_arg, fail
from core.common.config_args import bounded
from core.vision.encoder import Encoder
from core.vision.faces import load_detector
from core.vision.images import ImageError, load_image_file


def parser() -> argparse.ArgumentParser:
    """The describe command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens describe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", metavar="IMG")
    p.add_argument("--model", default="checkpoints/captioner-photos")
    p.add_argument("--beam", type=bounded(int, 1, MAX_BEAM), default=3)
    p.add_argument("--naming", action=argparse.BooleanOptionalAction, default=True,
                   help="nouns from the concept memory under their attention (ImageNet head through WordNet, faces)")
    add_threads_arg(p, default=2)
    return p


def main(argv: list[str] | None = None) -> int:
    """Caption each file; 1 if any file could not be used, 2 if the model could not."""
    a = parser().parse_args(argv)
    try:
        captioner = load_checked(a.model, a.beam)
    except ValueError as e:
        return fail(e)
    torch.set_num_threads(a.threads)
    encoder, status = Encoder(captioner.model.cfg.encoder), 0
    detector = load_detector() if a.naming else None
    for path in a.images:
        try:
            image = load_image_file(path).image
        except ImageError as e:
            print(f"{path}\terror: {e}", file=sys.stderr)
            status = 1
            continue
        c, _ = describe_and_classify(image, encoder, captioner, None, a.beam, a.naming, detector)
        print(f"{path}\t{c.text}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
