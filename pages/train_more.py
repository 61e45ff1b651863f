"""Training timeline: the checkpoint's stored samples at each recorded step, beside its loss curve."""
import streamlit as st

from dashboard import links, models, plots
from dashboard.causal import show_emergence
from dashboard.markdown import code_span
from dashboard.scroll import scroll_to
from dashboard.streaming import code_html

st.title("Training timeline")
ckpt = models.selected_checkpoint()
if ckpt is None:
    st.stop()

timeline = ckpt.samples.get("timeline", [])
curve = ckpt.samples.get("curve", [])
st.caption(f"{code_span(ckpt.path.name)}: what the model wrote as training went on (300 characters at each recorded step).")
if not timeline:
    st.info("This checkpoint has no stored timeline (samples.json).")
    st.stop()

steps = [entry["step"] for entry in timeline]
links.adopt("train_more_", step=links.choice(steps))
selected = st.select_slider("Highlight step", options=steps, value=steps[-1], key="train_more_step")
left, right = st.columns([3, 2], gap="large")
with right:
    st.image(plots.loss_svg(curve, marks=steps, selected=selected), width="stretch")
    st.caption("Dotted lines: steps with a stored sample; the highlighted one is solid.")
    st.subheader("Cells emerging")
    show_emergence(ckpt.samples)
with left:
    box = st.container(height=720, key="train_more_timeline")
    for i, entry in enumerate(timeline):
        bpc = entry.get("val_bpc")
        head = f"**step {entry['step']:,}**" + (f" · val loss {bpc:.3f} bits/char" if bpc is not None else "")
        if i:
            box.markdown("<div style='text-align:center;color:#888'>⬇ train more</div>", unsafe_allow_html=True)
        with box.container(border=True, key=f"train_more_entry_{entry['step']}"):
            st.markdown(head + (" :violet-badge[highlighted]" if entry["step"] == selected else ""))
            st.html(code_html(entry["text"]))
scroll_to(f"train_more_entry_{selected}")
