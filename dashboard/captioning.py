"""Captioning page glue: cached encoder/decoder, images (scenes, samples, uploads), captions and heatmaps."""
import hashlib
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from core.caption.attention import entropy, max_entropy, upsample_map
from core.caption.encoder import Encoder
from core.caption.images import ImageError, open_image
from core.caption.model import Captioner, load_captioner
from core.caption.pipeline import describe, mask_box
from core.caption.scenes import make_scene

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / "checkpoints" / "captioner-scenes"
SAMPLES = {"cat (chelsea)": "chelsea", "astronaut": "astronaut", "coffee": "coffee", "rocket": "rocket"}
TRAIN_REAL = ("python -m core.caption.train --karpathy-json dataset_flickr8k.json "
              "--images Flicker8k_Dataset --out checkpoints/captioner-flickr8k")


@st.cache_resource
def get_encoder() -> Encoder:
    return Encoder()


@st.cache_resource
def get_captioner(path: str = str(MODEL_DIR)) -> Captioner:
    return load_captioner(path)


@st.cache_data(max_entries=32)
def scene(seed: int) -> tuple[Image.Image, list[str]]:
    """A generated scene image and its reference captions."""
    s = make_scene(seed)
    return s.image, s.captions


@st.cache_data(max_entries=8)
def sample_photo(name: str) -> Image.Image:
    import skimage.data
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


@st.cache_data(max_entries=8, show_spinner=False)
def decode_upload(data: bytes) -> tuple[Image.Image | None, str | None]:
    """(image, None) for a usable upload, (None, message) otherwise."""
    try:
        return open_image(data).image, None
    except ImageError as e:
        return None, str(e)


def image_key(image: Image.Image) -> str:
    """Content hash of an image, the cache key of its captions."""
    return hashlib.sha1(image.tobytes() + str(image.size).encode()).hexdigest()


@st.cache_data(max_entries=64, show_spinner=False)
def caption_image(_image: Image.Image, key: str, beam: int, box: tuple[float, float, float, float] | None = None
                  ) -> tuple[list[str], np.ndarray, float, Image.Image]:
    """Words, (T, g, g) attention maps, log-prob and the image actually captioned (box greyed out if given)."""
    image = mask_box(_image, box) if box else _image
    c = describe(image, get_encoder(), get_captioner(), beam)
    return c.words, c.alphas, c.logprob, image


def for_display(image: Image.Image, width: int = 320) -> Image.Image:
    """The image `width` px wide and at most 4 times as tall or as wide (squashed beyond, as the encoder does)."""
    h = min(max(round(image.height * width / image.width), max(1, width // 4)), 4 * width)
    return image.resize((width, h), Image.BILINEAR)


def overlay(image: Image.Image, alpha: np.ndarray, width: int = 320) -> Image.Image:
    """The paper's look: the image lit where the smoothly upsampled attention is high, dark elsewhere."""
    img = np.asarray(for_display(image, width), dtype=np.float32)  # (h, width, 3)
    h = img.shape[0]
    up = upsample_map(alpha, h, width)
    up = up / max(float(up.max()), 1e-12)
    tint = np.array([255.0, 230.0, 120.0])
    out = img * (0.15 + 0.85 * up[..., None]) * 0.8 + tint * 0.2 * up[..., None]
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def entropy_figure(words: list[str], alphas: np.ndarray) -> go.Figure:
    """Bar per word: attention entropy in nats, beside the uniform map's log(L)."""
    ent = [entropy(a) for a in alphas]
    top = max_entropy(alphas.shape[-1])
    fig = go.Figure(go.Bar(x=[f"{i + 1}. {w}" for i, w in enumerate(words)], y=ent, marker_color="#4c78a8",
                           hovertemplate="%{x}: %{y:.2f} nats<extra></extra>"))
    fig.add_hline(y=top, line_dash="dash", annotation_text=f"uniform over {alphas.shape[-1] ** 2} cells: {top:.2f}")
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), yaxis_title="entropy (nats)")
    return fig


def model_note(captioner: Captioner) -> str:
    """What the loaded model was trained on, in plain words, with its test metrics."""
    test = captioner.card.get("test", {})
    metrics = ", ".join(f"{k} {test[k]:.2f}" for k in ("bleu4", "cider", "pointing_game") if k in test)
    return (f"This captioner was trained only on **generated scenes** ({captioner.card.get('data', 'scene world')}): "
            "coloured circles, squares, triangles and stars on flat, gradient and textured backgrounds. "
            "On a real photo it can only answer in that world's words, so read its caption as what a "
            f"shapes-and-colours model sees. {('Test split: ' + metrics + '.') if metrics else ''} "
            f"To train on a real dataset (Karpathy-split JSON of Flickr8k / Flickr30k / COCO):")
