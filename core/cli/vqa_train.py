"""`python -m core.cli.vqa_train`: train the stacked-attention VQA model and its question-only baseline
(core.vqa.train) on easy-VQA or on the photo world's generated questions.

    python -m core.cli.vqa_train --out checkpoints/vqa-easy --seed 0 --threads 1
    python -m core.cli.vqa_train --world photos --train-images 1000 --photo-features data/caption --out checkpoints/vqa-photos

Every flag is a field of VQATrainConfig (core.common.config_args); `--device auto|cpu|cuda|mps` picks where the
models train; an --out that holds a checkpoint is refused unless --overwrite, and it is locked while training.
"""
import argparse
import sys

from core.cli.args import config_parser, run_training
from core.common.device import DEVICE_HELP
from core.common.io import OVERWRITE_HELP
from core.vqa.train import WORLDS, VQATrainConfig, train

CLI_HELP = {"world": "easy-VQA or the photo world's questions: " + " | ".join(WORLDS),
            "cache_dir": "where easy-VQA grids and photo questions are cached",
            "photo_features": "photo world: the captioner's feature cache (late-stage grids, shards of 500 photos)",
            "train_images": "photo world: training photos", "val_images": "photo world: validation photos",
            "test_images": "photo world: test photos", "project_dim": "photo world: principal components kept",
            "concepts": "photo world: add the ImageNet head's per-cell noun concepts (core.vision.concepts)",
            "noun_evidence": "photo world: the concept map of the noun a question names steers each hop's "
                             "attention and feeds a count pathway (core.vqa.evidence)",
            "colours": "photo world: add each cell's share of pixels per basic colour name (core.vqa.colours)",
            "attend_objects": "photo world: weight of the supervised-attention loss, -log(attention mass on the "
                              "question's objects) at every hop (core.vision.grounded; 0: off)",
            "batch_images": "images per batch, with all their questions",
            "mc_weight": "weight of the multiple-choice scoring loss", "max_minutes": "budget per model",
            "warmup_steps": "grow the learning rate linearly over these first steps (0: none)",
            "threads": "torch CPU threads", "device": DEVICE_HELP, "half": "store fp16 weights (for shipping)",
            "overwrite": OVERWRITE_HELP}


def parser() -> argparse.ArgumentParser:
    """The command line: one flag per VQATrainConfig field."""
    return config_parser("rnnlens vqa-train", __doc__, VQATrainConfig, CLI_HELP)


def main(argv: list[str] | None = None) -> int:
    """Train as the flags say; 0 when saved, 2 with a one-line message on bad input."""
    return run_training(parser(), VQATrainConfig, lambda cfg, **kw: train(cfg, **kw)[0], argv, "core.cli.vqa_train")


if __name__ == "__main__":
    sys.exit(main())
