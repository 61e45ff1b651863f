"""Home: what rnnlens shows, and the lecture's sequence types mapped to the pages."""
import streamlit as st

from dashboard import plots

st.title("rnnlens: seeing inside recurrent neural networks")
st.markdown(
    "Character-level RNN, GRU and LSTM language models (Karpathy's *char-rnn*; Karpathy, Johnson & Fei-Fei 2015) "
    "and an image captioner with attention (Xu et al. 2015), built to be poked at. "
    "Pick a character model in the sidebar: **Sample**, **Training timeline**, **Cells** and **Cause & effect** use "
    "it. **Gradients** compares three Linux models of its own, **Captioning** and **VQA** have their own models, and "
    "**Train** makes new models."
)


st.subheader("Sequence types and where they appear here")
st.image(plots.sequence_types_svg(), width="stretch")
st.caption("Red: inputs, green: the recurrent hidden state (same weights at every step), blue: outputs.")

st.subheader("The pages, in a suggested order")
PAGES = [  # (file relative to the entrypoint dashboard/app.py, title, one line)
    ("../pages/tour.py", "Tour", "The lecture's story in ten live stops, from sequence types to the LSTM's gradient "
                                 "highway, each opening its full page."),
    ("../pages/sample.py", "Sample", "Text written character by character at your temperature, seed, greedy or beam "
                                     "search, with each character's probability."),
    ("../pages/train_more.py", "Training timeline", "What the model wrote at each recorded training step beside its "
                                                    "loss curve: gibberish, then words, then structure."),
    ("../pages/cells.py", "Cells", "Single cells lighting up over text: line length, quotes, if-blocks, code depth, "
                                   "comments; find them and check them."),
    ("../pages/causal.py", "Cause & effect", "Clamp a cell and watch the text change; which earlier characters a "
                                             "prediction rests on; is the cell real?"),
    ("../pages/gradients.py", "Gradients", "Why LSTMs exist: exploding and vanishing gradients, clipping, truncated "
                                           "backpropagation through time."),
    ("../pages/train.py", "Train", "Train or fine-tune your own model on a corpus or an uploaded text, with live loss "
                                   "curves and samples."),
    ("../pages/captioning.py", "Captioning", "A CNN looks at a photo, an LSTM writes a caption, attention shows "
                                             "where it looks for each word."),
    ("../pages/vqa.py", "VQA", "Ask a question about a picture; stacked attention shows where the answer comes "
                               "from."),
]
for path, title, line in PAGES:
    left, right = st.columns([1, 4], vertical_alignment="center")
    left.page_link(path, label=title)
    right.caption(line)
