"""Gradients page glue: cached gradient-flow and memory-task runs, the linux-* comparison, Plotly figures."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from plotly.subplots import make_subplots

from core.gradflow import random_flow, text_flow
from core.memory_task import MemoryConfig, MemoryResult, train_memory
from core.recurrent import CELLS
from dashboard import models, plots

COLOURS = {"rnn": "#d62728", "gru": "#2ca02c", "lstm": "#1f77b4"}
COMPARE = ("linux-rnn", "linux-gru", "linux-lstm")
HIDDEN = 64  # units of the random-init cells
# the clipping demo: a vanilla RNN, plain SGD, W_hh = orthogonal; without clipping the big steps undo its progress
CLIP_RUN = dict(cell="rnn", optimizer="sgd", lr=0.3, sigma=1.0, gap=20, steps=150, seed=0)
# the truncated-BPTT demo: a GRU that learns the full-length task in about 100 steps
BPTT_RUN = dict(cell="gru", optimizer="adam", lr=0.01, clip=1.0, gap=20, steps=150, seed=0)
FALLBACK_TEXT = """static int count_pages(struct list_head *head, unsigned long *nr)
{
	struct page *page;
	int found = 0;

	list_for_each_entry(page, head, lru) {
		if (PageReserved(page))
			continue;
		*nr += 1;
		found++;
	}
	return found;
}
"""


@st.cache_data(max_entries=64, show_spinner=False)
def flow_curves(length: int, sigma: float, forget_bias: float, input_scale: float, seed: int = 0) -> dict:
    """||dL_T/dh_{T-k}|| by distance k for each random-init cell, plus ||dL_T/dc_{T-k}|| for the LSTM."""
    out = {}
    for cell in CELLS:
        fl = random_flow(cell, length, HIDDEN, sigma, forget_bias, input_scale, seed)
        out[cell] = fl.by_distance()
        if fl.c_norm is not None:
            out["lstm c"] = fl.by_distance(state="c")
    return out


def real_text(length: int) -> str:
    """length+1 characters of the linux validation split if that corpus is built here, else a short C snippet."""
    from core.corpus import val_head  # lazy: only this panel reads the corpus
    return val_head("linux", length + 1) or FALLBACK_TEXT


@st.cache_data(max_entries=16, show_spinner="Backpropagating through the trained models…")
def text_curves(model_dirs: tuple[str, ...], text: str, versions: tuple) -> dict:
    """name -> (norms by distance of the top layer, largest singular value of its W_hh) for each checkpoint.

    versions (e.g. each card's step count) is only part of the cache key: a retrained model is recomputed.
    """
    out = {}
    for d in model_dirs:
        ckpt = models.get_checkpoint(d)
        idx = torch.tensor(ckpt.vocab.encode(text), dtype=torch.long)
        fl = text_flow(ckpt.model, idx)
        out[ckpt.path.name] = (fl.by_distance(), float(fl.spectral_norm[-1]))
    return out


@st.cache_data(max_entries=32, show_spinner="Training a tiny model on the copy problem…")
def memory_run(**kw) -> MemoryResult:
    """One seeded train_memory run (a few seconds at most)."""
    return train_memory(MemoryConfig(**kw))


def comparison() -> tuple[list[models.Checkpoint], list[str]]:
    """The linux-rnn/gru/lstm checkpoints that load, and a message for each one that does not."""
    found, missing = [], []
    for name in COMPARE:
        path = models.checkpoints_dir() / name
        if not (path / "config.json").is_file():
            missing.append(f"`{name}` is not there yet (it is still being trained or was not shipped).")
            continue
        try:
            found.append(models.get_checkpoint(str(path)))
        except (models.CheckpointError, OSError) as err:
            missing.append(f"`{name}` cannot be loaded: {err}")
    return found, missing


def show_checkpoint(ckpt: models.Checkpoint) -> None:
    """One comparison column: name, val loss, size, loss curves, the latest stored sample."""
    card = ckpt.card
    st.subheader(ckpt.path.name)
    val = card.get("val_loss")
    st.metric("val loss (nats/char)", "n/a" if val is None else f"{val:.3f}",
              help=None if card.get("val_bpc") is None else f"{card['val_bpc']:.3f} bits per char")
    st.caption(f"{ckpt.config.cell.upper()}, {ckpt.config.n_layer} × {ckpt.config.hidden_size}, "
               f"{ckpt.model.n_params():,} parameters, {card.get('steps', '?')} steps")
    st.plotly_chart(plots.loss_figure(ckpt.samples.get("curve", []), height=260),
                    key=f"gradients_curve_{ckpt.path.name}", config={"displayModeBar": False})
    timeline = ckpt.samples.get("timeline") or [{}]
    st.code(timeline[-1].get("text", "(no sample stored)")[:400], language=None)


def _positive(y: np.ndarray) -> np.ndarray:
    """Zeros (underflow) and infinities cannot go on a log axis: blank them."""
    y = np.asarray(y, dtype=float).copy()
    y[~np.isfinite(y) | (y <= 0)] = np.nan
    return y


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    fig.update_layout(height=height, template="plotly_white", margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), **kw)
    return fig


def flow_figure(curves: dict, sigma: float | None = None, height: int = 420) -> go.Figure:
    """Log-scale ||dL_T/dh_{T-k}|| against k for each curve, and sigma^k beside the RNN's."""
    fig = go.Figure()
    for name, y in curves.items():
        cell = name.split()[0].split("-")[-1]
        fig.add_scatter(x=np.arange(len(y)), y=_positive(y), name=name, mode="lines",
                        line=dict(color=COLOURS.get(cell), dash="dash" if name.endswith(" c") else "solid"),
                        hovertemplate=f"{name}<br>k=%{{x}}<br>%{{y:.3g}}<extra></extra>")
    if sigma is not None:
        k = np.arange(max(len(y) for y in curves.values()))
        fig.add_scatter(x=k, y=_positive(sigma ** k.astype(float)), name=f"σ^k (σ={sigma:g})", mode="lines",
                        line=dict(color=COLOURS["rnn"], dash="dot", width=1))
    return _layout(fig, height, xaxis_title="k = steps back from the loss (T - t)",
                   yaxis=dict(type="log", title="‖∂L_T / ∂h_t‖", exponentformat="power"))


def training_figure(runs: dict[str, MemoryResult], threshold: float | None = None, height: int = 360) -> go.Figure:
    """Loss (left) and gradient norm before clipping (right, log) per training step, one colour per run."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1)
    palette = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
    for (name, r), colour in zip(runs.items(), palette):
        steps = np.arange(1, len(r.loss) + 1)
        fig.add_scatter(x=steps, y=r.loss, name=name, mode="lines", line=dict(color=colour), legendgroup=name,
                        row=1, col=1)
        fig.add_scatter(x=steps, y=_positive(r.grad_norm), name=name, mode="lines", line=dict(color=colour),
                        legendgroup=name, showlegend=False, row=1, col=2)
    chance = next(iter(runs.values())).chance_loss
    fig.add_hline(y=chance, line=dict(color="grey", dash="dot"), annotation_text="guessing", row=1, col=1)
    if threshold is not None:
        fig.add_hline(y=threshold, line=dict(color="black", dash="dash"), annotation_text=f"clip at {threshold:g}",
                      row=1, col=2)
    fig.update_yaxes(title_text="loss (nats)", row=1, col=1)
    fig.update_yaxes(title_text="gradient norm before clipping", type="log", exponentformat="power", row=1, col=2)
    fig.update_xaxes(title_text="training step")
    return _layout(fig, height)
