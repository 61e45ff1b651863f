"""rnnlens vqa-evaluate: a VQA checkpoint on its world's test split, beside its question-only baseline.

    rnnlens vqa-evaluate --model checkpoints/vqa-easy
    rnnlens vqa-evaluate --model checkpoints/vqa-photos --photo-features data/caption
    rnnlens vqa-evaluate --model checkpoints/vqa-photos --photo-features data/caption --split val

(`--split val` scores the photo world's 250 validation photos instead: the split to choose settings on.)
Accuracy per question type, multiple choice, and the last attention hop's mass in the mask of what is asked
about (core.vqa.evaluate).
"""
import argparse
import sys

import torch

from core.cli.args import add_threads_arg, fail
from core.common.config_args import bounded
from core.vision.photos import PhotoWorldError
from core.vqa.batches import Batcher
from core.vqa.checkpoint import VQACheckpointError, load_checked
from core.vqa.data import VQADataError
from core.vqa.evaluate import PHOTO_IMAGES, evaluate_split, format_report, load_test
from core.vqa.photo_data import ENCODER_STAGE

MAX_IMAGES = 20_000  # photo world: the scored photos' encoder grids are held in memory


def parser() -> argparse.ArgumentParser:
    """The vqa-evaluate command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens vqa-evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="checkpoints/vqa-easy")
    p.add_argument("--world", choices=("easy", "photos"), help="test data (default: the world in the model's card)")
    p.add_argument("--cache-dir", default="data/vqa", help="where easy-VQA grids and photo questions are cached")
    p.add_argument("--photo-features", default="data/caption", help="photo world: the captioner's feature cache")
    p.add_argument("--split", choices=tuple(PHOTO_IMAGES), default="test",
                   help="photo world: the held-out test photos, or the validation photos that choose settings")
    p.add_argument("--images", "--test-images", type=bounded(int, 0, MAX_IMAGES), default=0,
                   help="photo world: photos of the split scored (0: 300 test, 250 val)")
    add_threads_arg(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Print the per-type table and the closing `accuracy=... question_only=... mass_ratio=...` line."""
    a = parser().parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        ckpt = load_checked(a.model)
        world = a.world or ("photos" if ckpt.card.get("world") == "photos" else "easy")
        if (world == "photos") != (ckpt.model.cfg.encoder == ENCODER_STAGE):
            raise VQADataError(f"{a.model} reads the {ckpt.model.cfg.encoder!r} encoder stage; the {world} test "
                               f"split is not its world")
        split = load_test(world, a.split, a.images, a.photo_features, a.cache_dir, bool(ckpt.model.cfg.colours))
        batcher = Batcher(split, ckpt.vocab, ckpt.answers)
    except (VQACheckpointError, VQADataError, PhotoWorldError) as e:
        return fail(e)
    print(format_report(evaluate_split(ckpt.model, ckpt.question_only, batcher, split)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
