"""rnnlens ask: ask a VQA checkpoint a question about an image file.

    rnnlens ask --image orange.jpg --question "what is this?" [--no-naming]      (the photo model, the default)
    rnnlens ask --model checkpoints/vqa-easy --image shape.png --question "what color is the shape?"
    rnnlens ask --model checkpoints/vqa-easy --image shape.png --question "what shape?" --candidates circle triangle

Prints the answer and its probability, the top 5 (or the candidates' scores), where each attention hop
looked most, and the words the answer leaned on. A photo-world model's answer that names a thing is read again
from the open vocabulary under the last hop (core.vqa.pipeline.open_source: "orange", where the model itself can
only say "apple"), unless --no-naming. Unreadable images, empty or over-long questions and
unknown words get a plain message; the image is read with the one bounded image reader (core.vision.images).
"""
import argparse
import sys

import numpy as np
import torch

from core.cli.args import add_threads_arg, fail
from core.vision.encoder import Encoder
from core.vision.faces import load_detector
from core.vision.images import ImageError, load_image_file
from core.vqa.checkpoint import VQACheckpointError, load_checked
from core.vqa.data import QuestionError
from core.vqa.pipeline import MODEL_OWN, answer_question, choose, encode_image, names_a_thing, open_source


def parser() -> argparse.ArgumentParser:
    """The ask command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens ask", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="checkpoints/vqa-photos", help="default: the photo-world model, for photos "
                   "(checkpoints/vqa-easy answers about easy-VQA's coloured shapes)")
    p.add_argument("--image", required=True)
    p.add_argument("--question", required=True)
    p.add_argument("--candidates", nargs="+", help="multiple choice: score these answers instead")
    p.add_argument("--naming", action=argparse.BooleanOptionalAction, default=True,
                   help="a photo-world model's object answer read from the open vocabulary (ImageNet classes through "
                        "WordNet, and faces)")
    add_threads_arg(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Print the answer, its top 5 or the candidates' scores, each hop's peak and the words it leaned on."""
    a = parser().parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        ckpt = load_checked(a.model)
    except VQACheckpointError as e:
        return fail(f"{a.model}: {e}")
    try:
        image = load_image_file(a.image).image
    except ImageError as e:
        return fail(f"{a.image}: {e}")
    encoder = Encoder(ckpt.model.cfg.encoder)
    feats = encode_image(image, encoder, bool(ckpt.model.cfg.colours))
    try:
        ans = answer_question(ckpt, feats, a.question)
        scores = choose(ckpt, feats, a.question, a.candidates) if a.candidates else None
    except QuestionError as e:
        return fail(e)
    for note in ans.question.notes():
        print(f"note: {note}", file=sys.stderr)
    print(f"question (as read): {' '.join(ans.question.words)}")
    if scores is not None:
        for c, s in sorted(zip(a.candidates, scores), key=lambda x: -x[1]):
            print(f"  {c:12s} {s:.3f}")
        print(f"answer: {a.candidates[int(np.argmax(scores))]} ({float(np.max(scores)):.3f})")
        return 0
    print("top 5: " + ", ".join(f"{w} {pr:.3f}" for w, pr in ans.top(5)))
    g = ans.alphas.shape[-1]
    for k, alpha in enumerate(ans.alphas):
        r, c = np.unravel_index(int(alpha.argmax()), alpha.shape)
        print(f"hop {k + 1}: peak at row {r + 1}, column {c + 1} of the {g} x {g} grid (weight {alpha.max():.3f})")
    print("leaned on: " + ", ".join(f"{w} {s:.3f}" for w, s in zip(ans.question.words, ans.saliency)))
    word, prob = ans.best
    named = (open_source(ans, feats, encoder.classifier, image, load_detector().detect(image))
             if a.naming and encoder.classifier is not None and names_a_thing(ans) else None)
    if named is not None:
        print(f"named: {named.describe(own=MODEL_OWN)}")
    if named is not None and named.from_memory:
        print(f"answer: {named.word} (open vocabulary; the model's own answer: {word} {prob:.3f})")
    else:
        print(f"answer: {word} ({prob:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
