"""rnnlens dashboard script: `streamlit run dashboard/serve.py` serves it warm (or `streamlit run dashboard/app.py`).

Wide layout, the shared sidebar model picker (shipped checkpoints plus those trained here) with the chosen
model's card, and navigation over the pages in ../pages/.
"""
import os
from pathlib import Path

import streamlit as st
import torch

from dashboard import links, models

torch.set_num_threads(int(os.environ.get("RNNLENS_TORCH_THREADS", "1")))  # batch-1 sampling: 1 thread is fastest
st.set_page_config(page_title="rnnlens", page_icon="🔁", layout="wide")

PAGES = [  # (file relative to this entrypoint, title, icon); Home stays the default page
    ("../pages/tour.py", "Tour", ":material/tour:"),
    ("../pages/home.py", "Home", ":material/home:"),
    ("../pages/sample.py", "Sample", ":material/edit_note:"),
    ("../pages/train_more.py", "Training timeline", ":material/timeline:"),
    ("../pages/train.py", "Train", ":material/model_training:"),
    ("../pages/cells.py", "Cells", ":material/grid_on:"),
    ("../pages/gradients.py", "Gradients", ":material/trending_down:"),
    ("../pages/causal.py", "Cause & effect", ":material/science:"),
    ("../pages/captioning.py", "Captioning", ":material/image:"),
    ("../pages/vqa.py", "VQA", ":material/quiz:"),
]


def model_picker() -> None:
    """Sidebar selectbox over every checkpoint; puts the chosen directory in st.session_state["model_dir"]."""
    options = models.available_models()
    chosen = st.session_state.get("model_dir")
    if chosen and chosen not in options and (Path(chosen) / "config.json").is_file():
        options.append(chosen)  # a checkpoint set from elsewhere (a test, the Train page) stays selectable
    st.sidebar.header("Model")
    st.sidebar.caption("Used by Sample, Training timeline, Cells and Cause & effect; Gradients, Captioning and VQA "
                       "bring their own models.")
    if not options:
        st.session_state["model_dir"] = None
        st.sidebar.info("No checkpoints yet. Train one on the **Train** page.")
        return
    if st.session_state.get("picker_model") not in options:
        st.session_state["picker_model"] = chosen if chosen in options else options[0]
    model_dir = st.sidebar.selectbox("Checkpoint", options, key="picker_model", format_func=models.model_label,
                                     label_visibility="collapsed")
    st.session_state["model_dir"] = model_dir
    try:
        card = models.get_checkpoint(model_dir).card
    except (models.CheckpointError, OSError) as err:
        st.sidebar.error(f"Cannot load this checkpoint: {err}")
        return
    st.sidebar.markdown("  \n".join(f"{k}: **{v}**" for k, v in models.card_rows(card).items()))
    st.sidebar.caption(models.LOSS_UNITS)


nav = st.navigation([st.Page(path, title=title, icon=icon, default=title == "Home") for path, title, icon in PAGES])
links.adopt_model(models.available_models())  # ?checkpoint=NAME on any page
model_picker()
nav.run()
