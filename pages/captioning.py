"""Captioning: Show, Attend and Tell. A caption, one attention map per word, the CNN's own view, a what-if mask."""
import time

import streamlit as st

from core.caption.model import CaptionCheckpointError
from core.vision.maps import entropy, max_entropy
from core.vision.photos import PhotoWorldError
from dashboard import captioning as cap
from dashboard import links, showcase

st.title("Captioning")
st.caption("Show, Attend and Tell (Xu et al. 2015): an LSTM writes the caption word by word and, before each word, "
           "spreads a soft attention over the frozen CNN's grid of image features.")
about = st.expander("What this captioner knows: training data, model card, how to train on a real dataset",
                    icon=":material/badge:")  # filled once the captioner is loaded
links.adopt("cap_", model=links.choice(cap.MODELS), source=links.choice(["Sample photo", "New scene", "Upload"]),
            sample=links.choice(showcase.SHOWCASE), beam=links.number(1, 10, int))
inputs, outputs = st.columns(2, gap="medium")
model = inputs.radio("Captioner", list(cap.MODELS), horizontal=True, key="cap_model", format_func={
    "photos": "Photos (real objects)", "shapes": "Shapes (generated scenes)"}.get)
source = inputs.radio("Image", ["Sample photo", "New scene", "Upload"], horizontal=True, key="cap_source",
                      format_func=lambda s: {"New scene": "New photo-world scene" if model == "photos" else
                                             "New scene"}.get(s, s))
try:
    captioner = cap.get_captioner(model)
except CaptionCheckpointError as err:
    st.error(f"Cannot load the captioner: {err}")
    st.stop()
with about:
    st.info(cap.model_note(model, captioner))
    if model == "shapes":
        st.code(cap.TRAIN_REAL, language="bash", wrap_lines=True)
    st.markdown("  \n".join(f"**{k}**: {v}" for k, v in cap.card_rows(captioner).items()))
    if model == "photos":
        st.markdown("**nouns it knows**: " + ", ".join(cap.nouns(captioner)))

def select_word(k: int) -> None:
    """Callback of a thumbnail's button: the word map above shows word k (1-based)."""
    st.session_state["cap_word"] = k


st.session_state.setdefault("cap_seed", 0)
image, key, refs = None, None, []
with inputs:
    if source == "New scene":
        if st.button("New scene", key="cap_new_scene", icon=":material/casino:"):
            st.session_state["cap_seed"] += 1
        seed = 30_000_000 + st.session_state["cap_seed"]       # beyond the train/val/test seeds
        world = "photos" if model == "photos" else "scenes"
        try:
            image, refs = cap.scene(seed, world)
        except PhotoWorldError as err:
            st.error(f"The photo world's source images are missing: {err}")
            st.stop()
        key = f"{world}:{seed}"
    elif source == "Sample photo":
        name = st.selectbox("Photo (scikit-image)", list(showcase.SHOWCASE), key="cap_sample",
                            help="Two photos the Photos captioner gets right and one it gets wrong. Each is read "
                                 "as an upload of the same file is, so uploading it gives the same caption.")
        image, key = showcase.sample(name)
    else:
        image, key = cap.upload_widget("cap_upload")
    if image is None:
        st.stop()

beam = outputs.slider("Beam size", 1, 10, 3, key="cap_beam", help="1 = greedy decoding")
words, alphas, logprob, _, cnn_view, sources = cap.caption_image(image, key, model, beam)
inputs.image(cap.with_boxes(image, sources), caption="input")
links.adopt("cap_", word=links.number(1, max(len(words), 1), int))  # a word of this caption
outputs.subheader(showcase.caption_text(words) if words else "(empty caption)")
if source == "Sample photo" and model == "photos":
    outputs.markdown(showcase.verdict(name, words))
named = [src.describe() for src in sources if src is not None]
if named:
    outputs.markdown("  \n".join(f"`{line}`" for line in named), help="Each noun is read from what the CNN "
                     "recognises (its ImageNet classes, named through WordNet) or from a detected face, where the "
                     "captioner looked while writing it.")
outputs.caption(f"log-probability {logprob:.2f} with beam {beam}" + (
    "  ·  reference captions: " + " / ".join(refs[:3]) if refs else ""))
# a generated scene is the training world itself, and its reference captions stand beside the caption
warning = None if source == "New scene" else cap.caveat(model, words, logprob, cnn_view, sources)
if model == "shapes" and source != "New scene":  # its words are shapes and colours, whatever the picture shows
    warning = ("The Shapes captioner has only seen generated scenes of coloured shapes: on any other picture it "
               "still answers in shapes and colours. Use the Photos captioner for real objects.")
if warning:
    outputs.warning(warning, icon=":material/help:")


@st.fragment
def word_map() -> None:
    """One word at a time: the image lit where the model looked before writing it."""
    slot = st.empty()
    if "cap_word_next" in st.session_state:  # the play-through ended on its last word: the slider says so too
        st.session_state["cap_word"] = st.session_state.pop("cap_word_next")
    if st.session_state.get("cap_word", 1) > len(words):
        st.session_state["cap_word"] = 1
    i = st.slider("Word", 1, len(words), key="cap_word", format="%d") - 1 if len(words) > 1 else 0

    def show(k: int) -> None:
        slot.image(cap.overlay(image, alphas[k]),
                   caption=f"{k + 1}. “{words[k]}”  ·  entropy {entropy(alphas[k]):.2f} nats")
    show(i)
    if st.button("Play through the caption", key="cap_play", icon=":material/play_arrow:"):
        for k in range(len(words)):
            show(k)
            time.sleep(0.6)
        st.session_state["cap_word_next"] = len(words)
        st.rerun(scope="fragment")


if not words:
    st.stop()
with outputs:
    word_map()

st.markdown("#### Every word")
st.caption("Press a word under its thumbnail to show it in the map above.")
with st.container(horizontal=True, gap="small", key="cap_words"):
    for k, w in enumerate(words):
        with st.container(width=cap.THUMB + 10, gap=None):
            st.image(cap.overlay(image, alphas[k], cap.THUMB))
            st.button(f"{k + 1}. {w}", key=f"cap_thumb_{k}", on_click=select_word, args=(k + 1,), type="tertiary")

view, chart = st.columns([2, 3])
view.markdown("#### The CNN's own view")
view.image(cap.cnn_view_svg(cnn_view))
view.caption("Its ImageNet classifier head, top 5: what the pretrained encoder recognises by itself; the caption "
             "can only use the nouns its decoder learned.")
chart.markdown("#### Attention entropy per word")
chart.image(cap.entropy_svg(words, alphas))
chart.caption(f"Low entropy: a sharp look at a few cells; a full bar, {max_entropy(alphas.shape[-1]):.2f} nats, would be "
              f"uniform over the whole grid of {alphas.shape[-1] ** 2} cells. Function words (a, and, of) tend to look "
              "everywhere.")

what_if = st.expander("What if part of the image were hidden?", icon=":material/visibility_off:", key="cap_what_if",
                      on_change="rerun")  # runs its second caption only while open
if what_if.open:
    with what_if:
        g = captioner.model.cfg.grid
        c1, c2 = st.columns(2)
        cols = c1.slider("Grey box: grid columns", 0, g, (0, g // 2), key="cap_box_cols")
        rows = c2.slider("Grey box: grid rows", 0, g, (0, g // 2), key="cap_box_rows")
        if cols[0] == cols[1] or rows[0] == rows[1]:
            st.info("The box is empty: widen it.")
        else:
            box = (cols[0] / g, rows[0] / g, cols[1] / g, rows[1] / g)
            w2, a2, lp2, masked, _, _ = cap.caption_image(image, key, model, beam, box)
            st.markdown(f"Before: **{' '.join(words)}**  \nAfter: **{' '.join(w2) if w2 else '(empty)'}** "
                        f"(log-prob {lp2:.2f})")
            cap.gallery([(cap.for_display(masked, cap.THUMB), "masked input")] +
                        [(cap.overlay(masked, a2[k], cap.THUMB), f"masked: {k + 1}. {w}") for k, w in enumerate(w2)],
                        "cap_masked_words")
