"""VQA page glue: the cached checkpoints (easy shapes, photos), test images and photo-world scenes with their
questions, answers, multiple-choice candidates and figures."""
import random
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from core.vision.faces import Face
from core.vision.naming import NounSource
from core.vision.photos import make_photo
from core.vqa import photo_questions
from core.vqa.batches import candidate_sets
from core.vqa.checkpoint import VQACheckpoint, load_vqa
from core.vqa.data import load_split
from core.vqa.pipeline import Answer, answer_question, choose, encode_image, names_a_thing, open_source
from dashboard.captioning import get_detector, get_encoder
from dashboard.plots import bars_svg

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"easy": ROOT / "checkpoints" / "vqa-easy", "photos": ROOT / "checkpoints" / "vqa-photos"}
MODEL_NAMES = {"easy": "Easy shapes (easy-VQA)", "photos": "Photos (photo world)"}
UPLOAD_QUESTIONS = {"easy": ["what color is the shape?", "what shape is in the image?", "is there a red shape?",
                             "does the image contain a circle?", "is there not a blue shape?"],
                    "photos": ["what is this?", "what animal is this?", "what colour is the dog?",
                               "how many birds are there?", "is there a car?", "what fruit is this?"]}
DEMO_SEEDS = 30_000_000          # photo-world seeds beyond train/val/test, drawn from the held-out stamps
FIRST_PHOTO_SCENE = 2  # demo scenes 0-3: vqa-photos answers 3, 3, 4 and 4 of their 4 questions; 2 is the first 4/4


@st.cache_resource
def get_vqa(name: str = "easy") -> VQACheckpoint:
    return load_vqa(MODELS[name])


@st.cache_resource
def test_split():
    """The easy-VQA test split (questions and image paths; images are read on demand)."""
    return load_split("test")


@st.cache_data(max_entries=16)
def test_image(i: int) -> tuple[Image.Image, list[str], list[str], list[tuple[str, ...]]]:
    """easy-VQA test image i, its questions, their true answers (and no fixed candidates)."""
    split = test_split()
    rows = np.flatnonzero(split.image_index == i)
    answers = get_vqa("easy").answers
    return split.image(i), [split.questions[r] for r in rows], [answers[split.answers[r]] for r in rows], []


@st.cache_data(max_entries=16)
def photo_scene(k: int) -> tuple[Image.Image, list[str], list[str], list[tuple[str, ...]]]:
    """Photo-world demo scene k: the photo, its generated questions, true answers and four candidates each."""
    scene = make_photo(DEMO_SEEDS + k)
    qs = photo_questions.scene_questions(scene)
    return scene.image, [q.text for q in qs], [q.answer for q in qs], [q.candidates for q in qs]


@st.cache_data(max_entries=16, show_spinner=False)
def image_grid(_image: Image.Image, key: str, stage: str, colours: bool = False) -> np.ndarray:
    """The image's (1, L, D) encoder grid at the given encoder stage (with colour channels), cached by its key."""
    return encode_image(_image, get_encoder(stage), colours).numpy()


def _grid(image: Image.Image, key: str, model: str):
    import torch
    cfg = get_vqa(model).model.cfg
    return torch.from_numpy(image_grid(image, key, cfg.encoder, bool(cfg.colours)))


@st.cache_data(max_entries=64, show_spinner=False)
def ask(_image: Image.Image, key: str, question: str, model: str = "easy") -> Answer:
    """Answer, per-hop maps and word saliency for a question about the image; raises QuestionError."""
    return answer_question(get_vqa(model), _grid(_image, key, model), question)


@st.cache_data(max_entries=64, show_spinner=False)
def multiple_choice(_image: Image.Image, key: str, question: str, candidates: tuple[str, ...],
                    model: str = "easy") -> np.ndarray:
    """Softmax over the candidates' scores (C,)."""
    return choose(get_vqa(model), _grid(_image, key, model), question, list(candidates))


def four_candidates(model: str, answer: str, question: str, seed: int) -> list[str]:
    """The given answer and up to three distractors of the same kind, in a seeded random order."""
    if model == "photos":
        if answer in ("yes", "no"):
            return ["yes", "no"]
        return list(photo_questions.four_candidates(answer, random.Random(seed), question))
    answers = get_vqa(model).answers
    cands, _ = candidate_sets(np.array([answers.index(answer)]), answers, np.random.default_rng(seed))
    return [answers[c] for c in cands[0] if c < len(answers)]


def top_bars(top: list[tuple[str, float]]) -> str:
    """SVG bars: the most probable answers (or the candidates) with their probabilities, on a 0-1 scale."""
    return bars_svg([w for w, _ in top], [p for _, p in top], full=1.0, title="probability")


def saliency_bars(words: list[str], saliency: np.ndarray) -> str:
    """SVG bars, one per question word in order: norm of the gradient of the answer's score w.r.t. its embedding
    (unknown words in red)."""
    colours = ["#e45756" if w == "<unk>" else "#72b7b2" for w in words]
    return bars_svg([f"{i + 1}. {w}" for i, w in enumerate(words)], [float(v) for v in saliency], colours,
                    title="|d score / d embedding|")


def model_note(ckpt: VQACheckpoint) -> str:
    """What world the model was trained on, with its test accuracy beside the question-only baseline."""
    test = ckpt.card.get("test", {})
    acc = test.get("accuracy", {}).get("all", {}).get("accuracy")
    qo = test.get("question_only", {}).get("all", {}).get("accuracy")
    if ckpt.card.get("world") == "photos":
        mc = test.get("multiple_choice", {})
        four, four_qo = mc.get("four_choices", {}).get("all", {}), mc.get("four_choices_question_only", {}).get("all", {})
        scores = (f" On held-out photos (objects from stamp files it never saw): multiple choice "
                  f"{four['accuracy']:.1%} (question-only baseline {four_qo['accuracy']:.1%}), open-ended "
                  f"{acc:.1%} ({qo:.1%}); attention mass on the object {test.get('mass_ratio', 0):.1f}x uniform."
                  if four and four_qo and acc is not None and qo is not None else "")
        return ("This model was trained on the **photo world**: real photo cut-outs of animals, fruit, vegetables, "
                "vehicles and things on real backgrounds, with generated questions (what is this, what colour, "
                f"how many, is there, what is to the left/right of). It answers in that world's words; on an uploaded "
                f"photo, an answer that names a thing is read again from what the CNN recognises.{scores}")
    scores = (f" Test accuracy {acc:.2%} (question-only baseline {qo:.2%}); attention mass in the shape "
              f"{test.get('mass_ratio', 0):.1f}x uniform." if acc is not None and qo is not None else "")
    return ("This model was trained only on **easy-VQA** (64 x 64 images of one coloured shape: circle, "
            "rectangle or triangle in 8 colours; 13 possible answers). On a photo it can only answer in those "
            f"words.{scores}")


def warm_first_view() -> None:
    """Compute the page's first view into the caches: the default model on test image 0 and its first question."""
    model = next(iter(MODELS))
    image, questions, _, _ = test_image(0)
    ask(image, "test:0", questions[0], model)


@st.cache_data(max_entries=16, show_spinner=False)
def faces(_image: Image.Image, key: str) -> list[Face]:
    """The faces found on an image, once per image (not once per question)."""
    return get_detector().detect(_image)


@st.cache_data(max_entries=64, show_spinner=False)
def named_answer(_image: Image.Image, key: str, question: str, model: str = "photos") -> NounSource | None:
    """Where the open-vocabulary answer to an object question comes from (the concept memory under the last hop,
    or the model's own noun; core.vqa.pipeline.open_source); None for other answers."""
    ans = ask(_image, key, question, model)
    if not names_a_thing(ans):
        return None
    return open_source(ans, _grid(_image, key, model), get_encoder("late").classifier, _image, faces(_image, key))
