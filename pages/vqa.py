"""VQA: Stacked Attention Networks. An answer, where each attention hop looked, and the words it leaned on."""
import streamlit as st

from core.vqa.checkpoint import VQACheckpointError
from core.vqa.data import QuestionError
from core.vqa.pipeline import MODEL_OWN
from dashboard import captioning as cap
from dashboard import links, vqa

SOURCES = {"easy-VQA test image": "easy", "Photo-world scene": "photos", "Upload": None}

st.title("Visual question answering")
st.caption("Stacked Attention Networks (Yang et al. 2016): an LSTM reads the question (many-to-one); its final "
           "state attends over the captioner's frozen image grid, adds what it saw to itself and attends "
           "again (2 hops); a classifier picks the answer.")


def match_source() -> None:
    """Switching the model shows an image of its own world."""
    st.session_state["vqa_source"] = next(s for s, w in SOURCES.items() if w == st.session_state["vqa_model"])


links.adopt("vqa_", model=links.choice(vqa.MODELS), source=links.choice(SOURCES), scene=links.number(0, 10**6, int))
model = st.radio("Model", list(vqa.MODELS), format_func=vqa.MODEL_NAMES.get, horizontal=True, key="vqa_model",
                 on_change=match_source)
try:
    ckpt = vqa.get_vqa(model)
except VQACheckpointError as err:
    st.error(f"Cannot load the VQA model: {err}")
    st.stop()
st.info(vqa.model_note(ckpt))
with st.expander("Model card", icon=":material/badge:"):
    st.markdown("  \n".join(f"**{k}**: {v}" for k, v in cap.card_rows(ckpt).items()))

source = st.radio("Image", list(SOURCES), horizontal=True, key="vqa_source")
image, key, suggested, truths, choices = None, None, vqa.UPLOAD_QUESTIONS[model], [], []
if source == "easy-VQA test image":
    index = st.number_input("Test image (0-999)", 0, 999, 0, key="vqa_index")
    image, suggested, truths, choices = vqa.test_image(int(index))
    key = f"test:{index}"
elif source == "Photo-world scene":
    st.session_state.setdefault("vqa_scene", vqa.FIRST_PHOTO_SCENE)
    if st.button("New photo-world scene", key="vqa_new_scene", icon=":material/casino:"):
        st.session_state["vqa_scene"] += 1
    image, suggested, truths, choices = vqa.photo_scene(st.session_state["vqa_scene"])
    key = f"photos:{st.session_state['vqa_scene']}"
    st.caption("A new scene of the photo world, its objects drawn from held-out stamp files; the suggested "
               "questions are generated from its objects and masks.")
else:
    image, key = cap.upload_widget("vqa_upload")
if image is None:
    st.stop()


def use_suggestion() -> None:
    st.session_state["vqa_question"] = st.session_state["vqa_suggested"]


if st.session_state.get("vqa_suggestions") != suggested:      # a new image: start from its first question
    st.session_state["vqa_suggestions"] = suggested
    st.session_state["vqa_question"] = suggested[0]
links.adopt("vqa_", question=links.text(200))  # after the new image's first question, which a link's replaces
st.selectbox("Suggested questions", suggested, key="vqa_suggested", on_change=use_suggestion)
question = st.text_input("Question", key="vqa_question", max_chars=None)
try:
    ans = vqa.ask(image, key, question, model)
except QuestionError as err:
    st.warning(str(err))
    st.stop()
for note in ans.question.notes():
    st.warning(note)

word, prob = ans.best
asked = question.strip().lower()
truth = dict(zip(suggested, truths)).get(asked)
n_words, n_unknown = len(ans.question.words), len(ans.question.unknown)
named = None                     # an upload's object answer read from the open vocabulary (photos model)
if 2 * n_unknown >= n_words:  # the model read mostly <unk>: its answer is not an answer to this question
    st.warning(f"The model knows only {n_words - n_unknown} of this question's {n_words} words (it was trained on "
               "English questions of its own world): the answer below is a guess, not an answer to what you asked.",
               icon=":material/translate:")
    st.subheader(f":gray[guess: {word}  ({prob:.1%})]")
elif truth:
    verdict = ":green[right]" if word == truth else f":red[wrong: the answer is {truth}]"
    st.subheader(f"{word}  ({prob:.1%}) · {verdict}")
else:
    named = vqa.named_answer(image, key, question, model) if model == "photos" and source == "Upload" else None
    if named is not None and named.from_memory:
        st.subheader(f"{named.word}  ·  :gray[the model's own answer: {word} ({prob:.1%})]")
    else:
        st.subheader(f"{word}  ({prob:.1%})")
    if named is not None:
        st.markdown(f"`{named.describe(own=MODEL_OWN)}`", help="An answer that names a thing is read "
                    "again from what the CNN recognises (its ImageNet classes, named through WordNet) or from a "
                    "detected face, where the last hop looked: the model itself can only say the photo world's "
                    "nouns.")
qo_word = ckpt.answers[int(ans.question_only_probs.argmax())]
st.caption(f"Question as read: “{' '.join(ans.question.words)}”"
           + (f"  ·  true answer: **{truth}**" if truth else "")
           + f"  ·  the question-only baseline says **{qo_word}** ({ans.question_only_probs.max():.1%})")

left, right = st.columns([1, 1])
with left:
    if st.toggle("Multiple choice (four candidates)", key="vqa_mc"):
        candidates = (dict(zip(suggested, choices)).get(asked)
                      or vqa.four_candidates(model, truth or word, question, seed=len(question)))
        scores = vqa.multiple_choice(image, key, question, tuple(candidates), model)
        ranked = sorted(zip(candidates, scores.tolist()), key=lambda x: -x[1])
        st.markdown(f"**Pick: {ranked[0][0]}**" + ((" :green[right]" if ranked[0][0] == truth else " :red[wrong]")
                                                    if truth else ""))
        st.image(vqa.top_bars(ranked))
        st.caption("Each candidate is encoded by its own LSTM and scored against the fused question-image vector; "
                   "when all four are answers the model knows, that score is joined with the answer classifier's "
                   "probability of each. The bars are the softmax over the joined scores.")
    else:
        st.image(vqa.top_bars(ans.top(5)))
with right:
    st.image(vqa.saliency_bars(ans.question.words, ans.saliency))
    st.caption("Which words the answer leaned on: the gradient of the answer's score with respect to each word's "
               "embedding (red: an unknown word).")

st.markdown("#### Where each hop looked")
cols = st.columns(len(ans.alphas) + 1)
cols[0].image(cap.with_boxes(image, [named], 240) if named else image, caption="input", width=240)
for k, alpha in enumerate(ans.alphas):
    cols[k + 1].image(cap.overlay(image, alpha, width=240), caption=f"hop {k + 1} (peak weight {alpha.max():.2f})")
