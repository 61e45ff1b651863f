"""rnnlens ask: ask a VQA checkpoint a question about an image file.

    rnnlens ask --model checkpoints/vqa-easy --image shape.png --question "what color is the shape?"
    rnnlens ask --model checkpoints/vqa-easy --image shape.png --question "what shape is present?" \
        --candidates circle triangle rectangle

Prints the answer and its probability, the top 5 (or the candidates' scores), where each attention hop
looked most, and the words the answer leaned on. Unreadable images, empty or over-long questions and
unknown words get a plain message; the image is read with the one bounded image reader (core.vision.images).
"""
import argparse
import sys

import numpy as np
import torch

from core.cli.args import add_threads_arg, fail
from core.vision.encoder import Encoder
from core.vision.images import ImageError, load_image_file
from core.vqa.checkpoint import VQACheckpointError, load_checked
from core.vqa.data import QuestionError
from core.vqa.pipeline import answer_question, choose, encode_image


def parser() -> argparse.ArgumentParser:
    """The ask command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens ask", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="checkpoints/vqa-easy")
    p.add_argument("--image", required=True)
    p.add_argument("--question", required=True)
    p.add_argument("--candidates", nargs="+", help="multiple choice: score these answers instead")
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
    feats = encode_image(image, Encoder(ckpt.model.cfg.encoder), bool(ckpt.model.cfg.colours))
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
    print(f"answer: {word} ({prob:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
