"""rnnlens caption-evaluate: a Show, Attend and Tell captioner's COCO caption metrics and attention grounding.

    rnnlens caption-evaluate --model checkpoints/captioner-scenes [--beam 3] [--test-scenes 500]
    rnnlens caption-evaluate --model checkpoints/captioner-photos --world photos
"""
import argparse
import json
import sys

import torch

from core.caption.evaluate import WORLDS, evaluate_split
from core.caption.pipeline import load_checked
from core.caption.search import MAX_BEAM
from core.charlm.sample import MAX_SEED
from core.cli.args import fail
from core.common.config_args import bounded
from core.vision.encoder import Encoder
from core.vision.worlds import photo_split, scene_split

MAX_SCENES = 20_000  # encoder grids of the test scenes are held in memory


def parser() -> argparse.ArgumentParser:
    """The caption-evaluate command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens caption-evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="checkpoints/captioner-scenes")
    p.add_argument("--beam", type=bounded(int, 1, MAX_BEAM), default=3)
    p.add_argument("--test-scenes", type=bounded(int, 1, MAX_SCENES), default=500)
    p.add_argument("--split", choices=["val", "test"], default="test", help="val: for choosing settings")
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0)
    p.add_argument("--world", choices=WORLDS, default="scenes")
    p.add_argument("--cache-dir", default="data/caption")
    p.add_argument("--naming", action="store_true",
                   help="photo world: read each noun from the concept memory under its attention (ImageNet head "
                        "through WordNet, faces)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Print the split's metrics as JSON."""
    args = parser().parse_args(argv)
    try:
        ck = load_checked(args.model, args.beam)
    except ValueError as e:
        return fail(e)
    torch.set_num_threads(1)
    make_split = photo_split if args.world == "photos" else scene_split
    split = make_split(args.split, args.test_scenes, args.seed, args.cache_dir, Encoder(ck.model.cfg.encoder))
    print(json.dumps(evaluate_split(ck.model, ck.vocab, split, args.beam, args.world, args.naming), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
