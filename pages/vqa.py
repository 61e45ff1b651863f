"""VQA: Stacked Attention Networks. An answer, where each attention hop looked, and the words it leaned on."""
import streamlit as st

from core.vqa.checkpoint import VQACheckpointError
from core.vqa.data import QuestionError
from dashboard import captioning as cap
from dashboard import vqa

st.title("Visual question answering")
st.caption("Stacked Attention Networks (Yang et al. 2016): an LSTM reads the question (many-to-one); its final "
           "state attends over the captioner's frozen 14 x 14 image grid, adds what it saw to itself and attends "
           "again (2 hops); a classifier picks the answer.")
try:
    ckpt = vqa.get_vqa()
except VQACheckpointError as err:
    st.error(f"Cannot load the VQA model: {err}")
    st.stop()
st.info(vqa.model_note(ckpt))

source = st.radio("Image", ["easy-VQA test image", "Upload"], horizontal=True, key="vqa_source")
image, key, suggested, truths = None, None, vqa.UPLOAD_QUESTIONS, []
if source == "easy-VQA test image":
    index = st.number_input("Test image (0-999)", 0, 999, 0, key="vqa_index")
    image, suggested, truths = vqa.test_image(int(index))
    key = f"test:{index}"
else:
    image, key = cap.upload_widget("vqa_upload")
if image is None:
    st.stop()


def use_suggestion() -> None:
    st.session_state["vqa_question"] = st.session_state["vqa_suggested"]


st.session_state.setdefault("vqa_question", suggested[0])
st.selectbox("Suggested questions", suggested, key="vqa_suggested", on_change=use_suggestion)
question = st.text_input("Question", key="vqa_question", max_chars=None)
try:
    ans = vqa.ask(image, key, question)
except QuestionError as err:
    st.warning(str(err))
    st.stop()
for note in ans.question.notes():
    st.warning(note)

word, prob = ans.best
truth = dict(zip(suggested, truths)).get(question.strip().lower()) if truths else None
st.subheader(f"{word}  ({prob:.1%})")
qo_word = ckpt.answers[int(ans.question_only_probs.argmax())]
st.caption(f"Question as read: “{' '.join(ans.question.words)}”"
           + (f"  ·  true answer: **{truth}**" if truth else "")
           + f"  ·  the question-only baseline says **{qo_word}** ({ans.question_only_probs.max():.1%})")

left, right = st.columns([1, 1])
with left:
    if st.toggle("Multiple choice (four candidates)", key="vqa_mc"):
        candidates = vqa.four_candidates(ckpt.answers, truth or word, seed=len(question))
        scores = vqa.multiple_choice(image, key, question, tuple(candidates))
        st.plotly_chart(vqa.top_figure(sorted(zip(candidates, scores.tolist()), key=lambda x: -x[1])),
                        key="vqa_mc_chart", config={"displayModeBar": False})
        st.caption("Each candidate is encoded by its own LSTM and scored against the fused question-image vector.")
    else:
        st.plotly_chart(vqa.top_figure(ans.top(5)), key="vqa_top", config={"displayModeBar": False})
with right:
    st.plotly_chart(vqa.saliency_figure(ans.question.words, ans.saliency), key="vqa_saliency",
                    config={"displayModeBar": False})
    st.caption("Which words the answer leaned on: the gradient of the answer's score with respect to each word's "
               "embedding (red: an unknown word).")

st.markdown("#### Where each hop looked")
cols = st.columns(len(ans.alphas) + 1)
cols[0].image(image, caption="input", width=240)
for k, alpha in enumerate(ans.alphas):
    cols[k + 1].image(cap.overlay(image, alpha, width=240), caption=f"hop {k + 1} (peak weight {alpha.max():.2f})")
