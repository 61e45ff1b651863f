"""Captioning: Show, Attend and Tell. A caption, one attention map per word, the CNN's own view, a what-if mask."""
import time

import streamlit as st

from core.caption.maps import entropy, max_entropy
from core.caption.model import CaptionCheckpointError
from core.caption.photos import PhotoWorldError
from dashboard import captioning as cap

st.title("Captioning")
st.caption("Show, Attend and Tell (Xu et al. 2015): a frozen CNN turns the image into a grid of feature vectors; "
           "an LSTM writes the caption word by word and, before each word, spreads a soft attention distribution "
           "over the grid.")
model = st.radio("Captioner", list(cap.MODELS), horizontal=True, key="cap_model",
                 format_func=lambda m: {"photos": "Photos (real objects)", "shapes": "Shapes (generated scenes)"}[m])
try:
    captioner = cap.get_captioner(model)
except CaptionCheckpointError as err:
    st.error(f"Cannot load the captioner: {err}")
    st.stop()
st.info(cap.model_note(model, captioner))
if model == "shapes":
    st.code(cap.TRAIN_REAL, language="bash")
with st.expander("Model card", icon=":material/badge:"):
    st.markdown("  \n".join(f"**{k}**: {v}" for k, v in cap.card_rows(captioner).items()))
    if model == "photos":
        st.markdown("**nouns it knows**: " + ", ".join(cap.nouns(captioner)))

st.session_state.setdefault("cap_seed", 0)
source = st.radio("Image", ["Sample photo", "New scene", "Upload"], horizontal=True, key="cap_source",
                  format_func=lambda s: {"New scene": "New photo-world scene" if model == "photos" else
                                         "New scene"}.get(s, s))
image, key, refs = None, None, []
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
    name = st.selectbox("Photo (scikit-image)", list(cap.SAMPLES), key="cap_sample")
    image, key = cap.sample_photo(cap.SAMPLES[name]), f"sample:{name}"
else:
    image, key = cap.upload_widget("cap_upload")
if image is None:
    st.stop()

beam = st.slider("Beam size", 1, 10, 3, key="cap_beam", help="1 = greedy decoding")
words, alphas, logprob, _, cnn_view = cap.caption_image(image, key, model, beam)
main, side = st.columns([3, 2])
main.subheader(" ".join(words) if words else "(empty caption)")
main.caption(f"log-probability {logprob:.2f} with beam {beam}" + (
    "  ·  reference captions: " + " / ".join(refs[:3]) if refs else ""))
warning = cap.caveat(model, words, logprob, cnn_view)
if warning:
    main.warning(warning, icon=":material/help:")
side.markdown("**The CNN's own view** (its ImageNet classifier head, top 5)")
side.dataframe([{"ImageNet class": g.name, "probability": round(g.prob, 3)} for g in cnn_view], hide_index=True)
side.caption("What the pretrained encoder recognises by itself; the caption can only use the nouns its decoder "
             "learned.")
if not words:
    st.stop()


@st.fragment
def word_view() -> None:
    """One word at a time: the image lit where the model looked before writing it."""
    left, right = st.columns(2)
    left.image(cap.for_display(image), caption="input", width=320)
    slot = right.empty()
    i = st.slider("Word", 1, len(words), 1, key="cap_word", format="%d") - 1 if len(words) > 1 else 0

    def show(k: int) -> None:
        slot.image(cap.overlay(image, alphas[k]), width=320,
                   caption=f"{k + 1}. “{words[k]}”  ·  entropy {entropy(alphas[k]):.2f} nats")
    show(i)
    if st.button("Play through the caption", key="cap_play", icon=":material/play_arrow:"):
        for k in range(len(words)):
            show(k)
            time.sleep(0.6)


word_view()

st.markdown("#### Every word")
per_row = 6
for start in range(0, len(words), per_row):
    cols = st.columns(per_row)
    for col, k in zip(cols, range(start, min(start + per_row, len(words)))):
        col.image(cap.overlay(image, alphas[k], width=200), caption=f"{k + 1}. {words[k]}")

st.markdown("#### Attention entropy per word")
st.plotly_chart(cap.entropy_figure(words, alphas), key="cap_entropy", config={"displayModeBar": False})
st.caption(f"Low entropy: a sharp look at a few cells; {max_entropy(alphas.shape[-1]):.2f} nats would be uniform "
           "over the whole grid. Function words (a, and, of) tend to look everywhere.")

with st.expander("What if part of the image were hidden?", icon=":material/visibility_off:"):
    g = captioner.model.cfg.grid
    c1, c2 = st.columns(2)
    cols = c1.slider("Grey box: grid columns", 0, g, (0, g // 2), key="cap_box_cols")
    rows = c2.slider("Grey box: grid rows", 0, g, (0, g // 2), key="cap_box_rows")
    if cols[0] == cols[1] or rows[0] == rows[1]:
        st.info("The box is empty: widen it.")
    else:
        box = (cols[0] / g, rows[0] / g, cols[1] / g, rows[1] / g)
        w2, a2, lp2, masked, _ = cap.caption_image(image, key, model, beam, box)
        st.markdown(f"Before: **{' '.join(words)}**  \nAfter: **{' '.join(w2) if w2 else '(empty)'}** "
                    f"(log-prob {lp2:.2f})")
        cols2 = st.columns(per_row)
        cols2[0].image(cap.for_display(masked, 200), caption="masked input", width=200)
        for k in range(min(len(w2), 2 * per_row - 1)):
            cols2[(k + 1) % per_row].image(cap.overlay(masked, a2[k], width=200), caption=f"masked: {k + 1}. {w2[k]}")
