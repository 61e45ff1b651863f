"""Image to caption and per-word attention maps in one call (Show, Attend and Tell at inference time).

Also the what-if probe: grey out a box of the image and caption again, to see how words and maps move.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from core.caption.model import (
    CaptionCheckpointError,
    Captioner,
    encoder_problem,
    load_captioner,
)
from core.caption.search import Caption, caption, validate_beam
from core.vision.concepts import NOUN_CLASSES, noun_of_class
from core.vision.encoder import Encoder, to_input
from core.vision.faces import FaceDetector
from core.vision.imagenet import ImageNetClassifier, ImageNetGuess
from core.vision.naming import NounSource, make_namer
from core.vision.photo_stamps import noun_forms


def load_checked(path: str, beam: int = 3) -> Captioner:
    """A captioner for a CLI: checks the beam size, then loads it and checks that it reads its encoder's grids;
    raises ValueError with the message to print."""
    validate_beam(beam, 30)
    captioner = load_captioner(path)
    problem = encoder_problem(captioner.model.cfg)
    if problem:
        raise CaptionCheckpointError(problem)
    return captioner


@torch.no_grad()
def describe(image: Image.Image, encoder: Encoder, captioner: Captioner, beam: int = 3) -> Caption:
    """Encode an RGB image and caption it with the given beam size: words and (T, g, g) attention maps."""
    return describe_and_classify(image, encoder, captioner, None, beam)[0]


@torch.no_grad()
def describe_and_classify(image: Image.Image, encoder: Encoder, captioner: Captioner,
                          classifier: ImageNetClassifier | None, beam: int = 3, naming: bool = False,
                          detector: FaceDetector | None = None) -> tuple[Caption, list[ImageNetGuess]]:
    """The caption and, given a classifier, the CNN's own top-5 ImageNet classes: from the same late-stage
    annotations when the encoder has them (one pass), else from a 224 px pass of the whole network. With naming
    (late-stage encoders only), the nouns are read from the concept memory under their attention
    (core.vision.naming), with the faces of the detector when one is given."""
    if encoder.stage != captioner.model.cfg.encoder:
        raise ValueError(f"{captioner.path.name} reads the {captioner.model.cfg.encoder!r} encoder stage, "
                         f"not {encoder.stage!r}")
    feats = encoder(to_input([image], encoder.input_size))[0]   # (L, D)
    view = [] if classifier is None else (
        classifier.top_from_annotations(feats) if encoder.stage == "late" else classifier.top(image))
    namer = None
    if naming and encoder.classifier is not None:
        faces = detector.detect(image) if detector is not None else None
        namer = make_namer(image, feats, encoder.classifier, faces)
    return caption(captioner.model, captioner.vocab, feats, beam, namer=namer), view


def unfamiliar(captioner: Captioner, words: list[str], logprob: float,
               cnn_view: list[tuple[int, str]] | None = None) -> str | None:
    """Why a caption should be read with care (image unlike the training world), or None.

    Four signs: the caption names none of the photo world's nouns; its mean log-probability per word
    (the <end> included) is below the 5th percentile of the held-out test images (stored in the card); the
    CNN's own top ImageNet class (cnn_view: (index, name) best first) never was the top class of a training
    image (card list) and, for a captioner that reads concepts, belongs to none of its concept nouns; or, for a
    captioner that reads concepts, the caption's nouns that have concepts are all absent from the CNN's top 5.
    For a named caption pass the decoder's own words (`decoder_words`): the signs are about the decoder."""
    reasons = []
    seen = captioner.card.get("imagenet_top1_seen")
    top = cnn_view[0] if cnn_view else None
    reads_concepts = bool(captioner.model.cfg.concepts)
    known = reads_concepts and top is not None and noun_of_class(top[0]) is not None
    if top is not None and seen is not None and top[0] not in seen and not known:
        reasons.append(f"the CNN itself sees a “{top[1]}”, which never came up in the training world")
    if captioner.card.get("world") == "photos":
        forms = noun_forms()
        said = {forms[w] for w in words if w in forms}
        if not said:
            reasons.append("the caption names none of the objects this model knows")
        checkable = said & set(NOUN_CLASSES)
        if reads_concepts and cnn_view and checkable and not checkable & {noun_of_class(i) for i, _ in cnn_view}:
            reasons.append(f"the CNN's own top 5 ({', '.join(name for _, name in cnn_view)}) has no "
                           f"{' or '.join(sorted(checkable))}")
    floor = captioner.card.get("test", {}).get("mean_word_logprob_p05")
    mean = logprob / (len(words) + 1)
    if floor is not None and mean < floor:
        reasons.append(f"the model is unsure of its words (mean log-probability {mean:.2f} per word, "
                       f"below the {floor:.2f} that 95% of held-out training-world images reach)")
    if not reasons:
        return None
    return ("This image looks unlike the captioner's training world: " + "; ".join(reasons) +
            ". The caption is the nearest thing it can say in that world's words.")


def decoder_words(words: list[str], sources: list[NounSource | None]) -> list[str]:
    """The words the decoder itself wrote (before a Namer filled its noun slots; no sources: words as they are)."""
    return [src.decoder_word if src is not None else w for w, src in zip(words, sources)] if sources else words


def mask_box(image: Image.Image, box: tuple[float, float, float, float], fill: int = 128) -> Image.Image:
    """Copy of image with the box (x0, y0, x1, y1, as fractions of width/height) filled grey."""
    w, h = image.size
    x0, y0, x1, y1 = box
    a = np.array(image)
    a[int(round(y0 * h)):int(round(y1 * h)), int(round(x0 * w)):int(round(x1 * w))] = fill
    return Image.fromarray(a)
