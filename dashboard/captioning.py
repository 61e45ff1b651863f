"""Captioning page glue: cached encoders/decoders, images (worlds, samples, uploads), captions, heatmaps, ImageNet."""
import hashlib
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from core.caption.model import Captioner, load_captioner
from core.caption.pipeline import (
    decoder_words,
    describe_and_classify,
    mask_box,
    unfamiliar,
)
from core.vision.encoder import Encoder
from core.vision.faces import FaceDetector, load_detector
from core.vision.imagenet import ImageNetClassifier, ImageNetGuess
from core.vision.images import MAX_PIXELS, ImageError, open_image
from core.vision.maps import entropy, max_entropy, upsample_map
from core.vision.naming import NounSource
from core.vision.photos import make_photo
from core.vision.scenes import make_scene
from core.vision.vocabulary import open_nouns
from dashboard.plots import bars_svg

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"photos": ROOT / "checkpoints" / "captioner-photos", "shapes": ROOT / "checkpoints" / "captioner-scenes"}
TRAIN_REAL = ("python -m core.cli.caption_train --karpathy-json dataset_flickr8k.json "
              "--images Flicker8k_Dataset --out checkpoints/captioner-flickr8k")
CARD_ROWS = ("data", "encoder", "n_params", "steps", "train_seconds", "hardware", "command")
THUMB = 150  # px, width of a per-word thumbnail


@st.cache_resource
def get_encoder(stage: str) -> Encoder:
    return Encoder(stage)


@st.cache_resource
def get_captioner(name: str) -> Captioner:
    return load_captioner(MODELS[name])


@st.cache_resource
def get_classifier() -> ImageNetClassifier:
    return ImageNetClassifier()


@st.cache_resource
def get_detector() -> FaceDetector:
    return load_detector()


@st.cache_data(max_entries=32)
def scene(seed: int, world: str) -> tuple[Image.Image, list[str]]:
    """A generated image of the captioner's world (photo world or shapes) and its reference captions."""
    s = make_photo(seed) if world == "photos" else make_scene(seed)
    return s.image, s.captions


@st.cache_data(max_entries=8)
def sample_photo(name: str) -> Image.Image:
    import skimage.data
    if name == "motorcycle":
        return Image.fromarray(skimage.data.stereo_motorcycle()[0]).convert("RGB")
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


@st.cache_data(max_entries=8, show_spinner=False)
def decode_upload(data: bytes) -> tuple[Image.Image | None, str | None]:
    """(image, None) for a usable upload, (None, message) otherwise."""
    try:
        return open_image(data).image, None
    except ImageError as e:
        return None, str(e)


def upload_widget(key: str) -> tuple[Image.Image | None, str | None]:
    """The photo uploader: (image, its cache key) for a usable upload; an error shown and (None, None) otherwise."""
    up = st.file_uploader(f"JPEG, PNG, WebP, BMP or GIF (first frame), at most {MAX_PIXELS / 1e6:.0f} megapixels",
                          key=key)
    if up is None:
        return None, None
    image, error = decode_upload(up.getvalue())
    if error:
        st.error(f"Cannot use **{up.name}**: {error}")
        return None, None
    return image, "upload:" + image_key(image)


def image_key(image: Image.Image) -> str:
    """Content hash of an image, the cache key of its captions."""
    return hashlib.sha1(image.tobytes() + str(image.size).encode()).hexdigest()


@st.cache_data(max_entries=64, show_spinner=False)
def caption_image(_image: Image.Image, key: str, model: str, beam: int,
                  box: tuple[float, float, float, float] | None = None
                  ) -> tuple[list[str], np.ndarray, float, Image.Image, list[ImageNetGuess], list[NounSource | None]]:
    """Words, (T, g, g) attention maps, log-prob, the image actually captioned (box greyed out if given), the
    CNN's own top-5 ImageNet classes for it and, per word, where a noun came from (core.vision.naming)."""
    image = mask_box(_image, box) if box else _image
    captioner = get_captioner(model)
    c, view = describe_and_classify(image, get_encoder(captioner.model.cfg.encoder), captioner, get_classifier(),
                                    beam, naming=True, detector=get_detector())
    return c.words, c.alphas, c.logprob, image, view, c.sources or [None] * len(c.words)


def with_boxes(image: Image.Image, sources: list[NounSource | None], width: int = 320) -> Image.Image:
    """The image for display with the face boxes behind a "person" noun drawn on it."""
    from PIL import ImageDraw
    shown = for_display(image, width)
    sx, sy = shown.width / image.width, shown.height / image.height
    draw = ImageDraw.Draw(shown)
    for box in {b for src in sources if src is not None for b in src.boxes}:
        draw.rectangle((box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy), outline=(255, 210, 0), width=3)
    return shown


def caveat(model: str, words: list[str], logprob: float, cnn_view: list[ImageNetGuess],
           sources: list[NounSource | None]) -> str | None:
    """A warning when the image looks unlike the captioner's training world (judged on the decoder's own words),
    else None."""
    return unfamiliar(get_captioner(model), decoder_words(words, sources), logprob,
                      [(g.index, g.name) for g in cnn_view])


def for_display(image: Image.Image, width: int = 320) -> Image.Image:
    """The image `width` px wide and at most 4 times as tall or as wide (squashed beyond, as the encoder does)."""
    h = min(max(round(image.height * width / image.width), max(1, width // 4)), 4 * width)
    return image.resize((width, h), Image.BILINEAR)


def overlay(image: Image.Image, alpha: np.ndarray, width: int = 320) -> Image.Image:
    """The paper's look: the image lit where the smoothly upsampled attention is high, dimmed (to no less than 45%,
    so a dark photo stays readable) elsewhere."""
    img = np.asarray(for_display(image, width), dtype=np.float32)  # (h, width, 3)
    h = img.shape[0]
    up = upsample_map(alpha, h, width)
    up = up / max(float(up.max()), 1e-12)
    tint = np.array([255.0, 230.0, 120.0])
    out = img * (0.45 + 0.55 * up[..., None]) * 0.8 + tint * 0.2 * up[..., None]
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def gallery(items: list[tuple[Image.Image, str]], key: str) -> None:
    """Captioned thumbnails in reading order, wrapping onto new rows as the page narrows."""
    with st.container(horizontal=True, gap="small", key=key):
        for image, caption in items:
            st.image(image, caption=caption)


def entropy_svg(words: list[str], alphas: np.ndarray) -> str:
    """Bar per word: attention entropy in nats, a full bar being the uniform map's log(L)."""
    return bars_svg([f"{i + 1}. {w}" for i, w in enumerate(words)], [entropy(a) for a in alphas],
                    full=max_entropy(alphas.shape[-1]), digits=2, title="entropy (nats)")


def cnn_view_svg(view: list[ImageNetGuess]) -> str:
    """The ImageNet head's top classes as probability bars."""
    return bars_svg([g.name for g in view], [g.prob for g in view], full=1.0, title="ImageNet class, probability")


def model_note(model: str, captioner: Captioner) -> str:
    """What the loaded model was trained on, in plain words, with its test metrics."""
    test = captioner.card.get("test", {})
    keys = ("bleu4", "cider", "object_noun_recall", "pointing_game")
    metrics = ", ".join(f"{k} {test[k]:.2f}" for k in keys if k in test)
    metrics = f" Held-out test split: {metrics}." if metrics else ""
    if model == "photos":
        return ("This captioner was trained on the **photo world**: real photos of single objects (animals, fruit, "
                "vegetables, vehicles, people, tools, ...) cut out and pasted on real background photos. Its decoder "
                f"knows {len(nouns(captioner))} nouns (listed below); each noun it writes is read again from what the "
                f"CNN recognises where it looked ({len(open_nouns())} nouns, through WordNet) and from faces, unless "
                f"the decoder is sure of its own.{metrics}")
    return ("This captioner was trained only on **generated scenes**: coloured circles, squares, triangles and stars "
            "on flat, gradient and textured backgrounds. On a real photo it can only answer in that world's words, "
            f"so read its caption as what a shapes-and-colours model sees.{metrics} "
            "To train on a real dataset (Karpathy-split JSON of Flickr8k / Flickr30k / COCO):")


def nouns(captioner: Captioner) -> list[str]:
    """The photo world's nouns this decoder has in its vocabulary."""
    from core.vision.photo_stamps import NOUNS
    return sorted(n for n in NOUNS if n in captioner.vocab.stoi)


def card_rows(captioner: Captioner) -> dict[str, str]:
    """The card fields a reader wants: data, encoder, size, training time, hardware, command."""
    card = captioner.card
    return {k: str(card[k]) for k in CARD_ROWS if k in card}

