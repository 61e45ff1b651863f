"""Home: what rnnlens shows, and the lecture's sequence types mapped to the pages."""
import streamlit as st

from dashboard import plots

st.title("rnnlens: seeing inside recurrent neural networks")
st.markdown(
    "Character-level RNN, GRU and LSTM language models (Karpathy's *char-rnn*; Karpathy, Johnson & Fei-Fei 2015) "
    "and an image captioner with attention (Xu et al. 2015), built to be poked at. "
    "Pick a character model in the sidebar: **Sample**, **Train more** and **Cells** use it. **Gradients** "
    "compares three Linux models of its own, **Captioning** has its own captioner, and **Train** makes new models."
)

st.page_link("../pages/tour.py", label="Take the tour: the lecture on RNNs in ten live stops, for a class or a projector",
             icon=":material/tour:")

st.subheader("Sequence types and where they appear here")
st.image(plots.sequence_types_svg(), width="stretch")
st.caption("Red: inputs, green: the recurrent hidden state (same weights at every step), blue: outputs.")

st.subheader("The pages")
PAGES = [
    ("Sample", "Text streamed character by character at your temperature, top-k, seed; greedy and beam search; "
               "four temperatures side by side; each character's probability and the model's top-5 next characters."),
    ("Train more", "The checkpoint's own history: a sample at each recorded step beside the loss curve, "
                   "from gibberish to words to structure, as in the lecture's Shakespeare slides."),
    ("Train", "Train your own model on a built-in corpus or a text file you upload, with live loss curves, "
              "tokens/s and fresh samples; stop, resume, and sample from it."),
    ("Cells", "Single hidden cells lighting up over text: quotes, line length, indentation, comments."),
    ("Gradients", "Why LSTMs exist: exploding and vanishing gradients, clipping, truncated BPTT."),
    ("Captioning", "A CNN looks at an image, an LSTM writes a caption, attention shows where it looks."),
]
for row in range(0, len(PAGES), 3):
    for col, (name, text) in zip(st.columns(3), PAGES[row:row + 3]):
        with col.container(border=True, height="stretch"):
            st.markdown(f"**{name}**")
            st.caption(text)
