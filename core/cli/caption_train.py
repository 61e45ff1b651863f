"""`python -m core.cli.caption_train`: train the Show, Attend and Tell captioner (core.caption.train).

Scene world (default), the photo world of real object cut-outs, or a real dataset in Karpathy-split JSON
(Flickr8k / Flickr30k / COCO):

    python -m core.cli.caption_train --out checkpoints/captioner-scenes --max-minutes 40
    python -m core.cli.caption_train --world photos --encoder late --out checkpoints/captioner-photos
    python -m core.cli.caption_train --karpathy-json dataset_flickr8k.json --images Flicker8k_Dataset --out checkpoints/captioner-flickr8k

Every flag is a field of CaptionTrainConfig (core.common.config_args). `--device auto|cpu|cuda|mps` picks where
the decoder trains; an --out that holds a checkpoint is refused unless --overwrite, and it is locked while training.
"""
import argparse
import sys

from core.caption.evaluate import WORLDS
from core.caption.train import CaptionTrainConfig, train
from core.cli.args import config_parser, run_training
from core.common.device import DEVICE_HELP
from core.common.io import OVERWRITE_HELP
from core.vision.encoder import STAGES

CLI_HELP = {"world": "generated world to train on: " + " | ".join(WORLDS),
            "encoder": "encoder stage (core.vision.encoder): " + " | ".join(STAGES),
            "karpathy_json": "Karpathy-split JSON (dataset_flickr8k.json, dataset_coco.json, ...)",
            "images": "folder the JSON's filepath/filename entries are relative to",
            "cache_dir": "where encoder features are cached",
            "min_count": "drop rarer words to <unk> (default 1 scenes, 5 real)",
            "project_dim": "project the annotations onto their top principal components first (0: off)",
            "project_imagenet": "late stage only: read each cell through the ImageNet classifier head (1000 class "
                                "logits)",
            "concepts": "late stage with --project-dim: append per-cell noun concepts from the ImageNet head "
                        "(core.vision.concepts)",
            "copy": "with --concepts: a gated path from the attended concepts to the words of their nouns (LSTM-C)",
            "attend_nouns": "photo world: weight of the supervised-attention loss that puts each noun word's "
                            "attention on its object's mask (core.vision.grounded; 0: off)",
            "feature_drop": "training only: chance to hide an image's projected annotations, so that the words "
                            "lean on the concepts too",
            "alpha_c": "doubly stochastic attention weight (lambda)",
            "warmup_steps": "grow the learning rate linearly over these first steps (0: none)",
            "beam": "beam size for the final test evaluation", "test": "skip the final test-split evaluation",
            "threads": "torch CPU threads", "device": DEVICE_HELP, "overwrite": OVERWRITE_HELP}


def parser() -> argparse.ArgumentParser:
    """The command line: one flag per CaptionTrainConfig field."""
    return config_parser("rnnlens caption-train", __doc__, CaptionTrainConfig, CLI_HELP)


def main(argv: list[str] | None = None) -> int:
    """Train as the flags say; 0 when saved, 2 with a one-line message on bad input."""
    return run_training(parser(), CaptionTrainConfig, train, argv, "core.cli.caption_train")


if __name__ == "__main__":
    sys.exit(main())
