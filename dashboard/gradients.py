"""Gradients page glue: cached gradient-flow and memory-task runs, the linux-* comparison, the charts."""
import hashlib
import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from plotly.subplots import make_subplots

from core.charlm.recurrent import CELLS
from core.gradients.flow import random_flow, text_flow
from core.gradients.memory_task import MemoryConfig, MemoryResult, train_memory
from dashboard import models, plots
from dashboard.markdown import code_span
from dashboard.plots import LN2
from dashboard.streaming import code_html

COLOURS = {"rnn": "#d62728", "gru": "#2ca02c", "lstm": "#1f77b4"}
COMPARE = ("linux-rnn", "linux-gru", "linux-lstm")
HIDDEN = 64  # units of the random-init cells
FLOW_DEFAULTS = dict(length=200, sigma=1.0, forget_bias=1.0, input_scale=0.1)  # the flow panel's sliders at first
# the clipping demo: a vanilla RNN, plain SGD, W_hh = orthogonal; without clipping the big steps undo its progress
CLIP_RUN = dict(cell="rnn", optimizer="sgd", lr=0.3, sigma=1.0, gap=20, steps=150, seed=0)
CLIP_TAUS = [0.1, 0.3, 1.0, 3.0, 10.0]
CLIP_DEFAULT_TAU = 1.0
# the truncated-BPTT demo: a GRU that learns the full-length task in about 100 steps
BPTT_RUN = dict(cell="gru", optimizer="adam", lr=0.01, clip=1.0, gap=20, steps=150, seed=0)
BPTT_WINDOWS = [5, 10, 15, 20]
BPTT_DEFAULT_WINDOW = 10
# every run the two panels' sliders can ask for, and the real-text curves of the default text, computed once by
# `python -m dashboard.precompute`
PRECOMPUTED = Path(__file__).with_name("gradients_precomputed.json")
TEXT_LENGTH = 300  # the real-text panel's default number of characters
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
    from core.charlm.corpus import val_head  # lazy: only this panel reads the corpus
    return val_head("linux", length + 1) or FALLBACK_TEXT


def text_key(model_dir: str, version, text: str) -> str:
    """A checkpoint's name and version with the text's hash (the key of a stored text curve)."""
    return f"{Path(model_dir).name}|{version}|{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def text_curve(model_dir: str, text: str) -> tuple[list[float], float]:
    """Norms by distance of the top layer of the checkpoint over text, and the largest singular value of its W_hh."""
    ckpt = models.get_checkpoint(model_dir)
    idx = torch.tensor(ckpt.vocab.encode(text), dtype=torch.long)
    fl = text_flow(ckpt.model, idx)
    return fl.by_distance().tolist(), float(fl.spectral_norm[-1])


@st.cache_data(max_entries=16, show_spinner="Backpropagating through the trained models…")
def text_curves(model_dirs: tuple[str, ...], text: str, versions: tuple) -> dict:
    """name -> (norms by distance of the top layer, largest singular value of its W_hh) for each checkpoint,
    read from the build-time file for the page's default text.

    versions (e.g. each card's step count) is part of the key: a retrained model is recomputed.
    """
    stored = _precomputed().get("text", {})
    out = {}
    for d, version in zip(model_dirs, versions):
        norms, sigma = stored.get(text_key(d, version, text)) or text_curve(d, text)
        out[Path(d).name] = (np.array(norms), sigma)
    return out


def slider_runs() -> list[dict]:
    """The train_memory arguments of every run the clipping and truncated-BPTT sliders can show."""
    return ([dict(CLIP_RUN, clip=tau) for tau in [None, *CLIP_TAUS]]
            + [dict(BPTT_RUN, bptt=k) for k in [*BPTT_WINDOWS, BPTT_RUN["gap"] + 1]])


def run_key(kw: dict) -> str:
    """A run's arguments as a stable string (its key in the precomputed file)."""
    return json.dumps(kw, sort_keys=True)


def result_to_json(r: MemoryResult) -> dict:
    """The per-step curves and held-out scores of a run, for the precomputed file."""
    return {"loss": r.loss.tolist(), "grad_norm": r.grad_norm.tolist(), "update_norm": r.update_norm.tolist(),
            "eval_loss": r.eval_loss, "eval_accuracy": r.eval_accuracy, "seconds": r.seconds}


@st.cache_resource
def _precomputed() -> dict:
    try:
        return json.loads(PRECOMPUTED.read_text())
    except (OSError, ValueError):
        return {}


@st.cache_data(max_entries=32, show_spinner="Training a tiny model on the copy problem…")
def memory_run(**kw) -> MemoryResult:
    """One seeded train_memory run: the one trained at build time when the sliders ask for it, else trained now."""
    stored = _precomputed().get("memory", {}).get(run_key(kw))
    if stored is None:
        return train_memory(MemoryConfig(**kw))
    return MemoryResult(MemoryConfig(**kw), **{k: np.array(v) if isinstance(v, list) else v for k, v in stored.items()})


def comparison() -> tuple[list[models.Checkpoint], list[str]]:
    """The linux-rnn/gru/lstm checkpoints that load, and a message for each one that does not."""
    found, missing = [], []
    for name in COMPARE:
        path = models.checkpoints_dir() / name
        if not (path / "config.json").is_file():
            missing.append(f"{code_span(name)} is not there yet (it is still being trained or was not shipped).")
            continue
        try:
            found.append(models.get_checkpoint(str(path)))
        except (models.CheckpointError, OSError) as err:
            missing.append(f"{code_span(name)} cannot be loaded: {err}")
    return found, missing


def warm_first_view() -> None:
    """Fill the shared cache with what the page computes on a first visit, its first tab's curves
    (dashboard/serve.py calls it at start; the other tabs run only when opened)."""
    flow_curves(**FLOW_DEFAULTS)


def show_checkpoint(ckpt: models.Checkpoint) -> None:
    """One comparison column: name, val loss, size, loss curves, the latest stored sample."""
    card = ckpt.card
    st.subheader(ckpt.path.name)
    bpc = card.get("val_bpc")
    st.metric("val loss (bits/char)", "n/a" if bpc is None else f"{bpc:.3f}")
    st.caption(f"{ckpt.config.cell.upper()}, {ckpt.config.n_layer} × {ckpt.config.hidden_size}, "
               f"{ckpt.model.n_params():,} parameters, {card.get('steps', '?')} steps")
    st.image(plots.loss_svg(ckpt.samples.get("curve", []), height=260), width="stretch")
    timeline = ckpt.samples.get("timeline") or [{}]
    st.html(code_html(timeline[-1].get("text", "(no sample stored)")[:400]))


def _positive(y: np.ndarray) -> np.ndarray:
    """Zeros (underflow) and infinities cannot go on a log axis: blank them."""
    y = np.asarray(y, dtype=float).copy()
    y[~np.isfinite(y) | (y <= 0)] = np.nan
    return y


def _log_range(curves: dict) -> tuple[float, float]:
    """log10 of the smallest and largest plottable value over the curves, with a little margin."""
    y = np.concatenate([_positive(c) for c in curves.values()])
    y = y[np.isfinite(y)]
    if not len(y):
        return -1.0, 1.0
    lo, hi = np.log10(y.min()), np.log10(y.max())
    pad = max(0.3, 0.05 * (hi - lo))
    return float(lo - pad), float(hi + pad)


def flow_lines(curves: dict, sigma: float | None = None, fit: str | None = None
               ) -> tuple[dict[str, plots.Line], tuple[float, float]]:
    """The flow chart's lines in log10 units: log ||dL_T/dh_{T-k}|| against k for each curve and sigma^k beside them,
    drawn up to where it leaves the curves' y-range; for the curve named fit, sigma^k starts at its first value and
    its mean factor per step rho is drawn as rho^k. Also that y-range (lo, hi)."""
    lines = {}
    for name, y in curves.items():
        log_y = np.log10(_positive(y))                                     # (T,), nan where it cannot be drawn
        k = np.flatnonzero(np.isfinite(log_y))
        cell = name.split()[0].split("-")[-1]
        lines[name] = plots.Line(list(zip(k.tolist(), log_y[k].tolist())), COLOURS.get(cell),
                                 "6,4" if name.endswith(" c") else "", markers=False)
    lo, hi = _log_range(curves)
    k_max = max(len(y) for y in curves.values()) - 1
    start, rate = _mean_rate(curves[fit]) if fit in curves else (0.0, None)
    if sigma is not None:
        lines[f"σ^k (σ = {sigma:.2f})"] = plots.Line(_power_line(start, np.log10(sigma), k_max, lo, hi),
                                                      COLOURS["rnn"], "2,3", 1, markers=False)
    if rate is not None:
        lines[f"ρ^k, {fit}'s mean factor per step (ρ = {10 ** rate:.2f})"] = plots.Line(
            _power_line(start, rate, k_max, lo, hi), "grey", "8,3,2,3", 1, markers=False)
    return lines, (lo, hi)


def flow_svg(curves: dict, sigma: float | None = None, height: int = 420, fit: str | None = None,
             width: int = 600) -> str:
    """flow_lines drawn as an SVG chart on a log axis, about width pixels wide."""
    lines, y_range = flow_lines(curves, sigma, fit)
    return plots.lines_svg(lines, "k = steps back from the loss (T - t)", "‖∂L_T / ∂h_t‖", height, log_y=True,
                           y_range=y_range, width=width)


def _mean_rate(y: np.ndarray) -> tuple[float, float | None]:
    """log10 of a curve's first plottable value and of its mean factor per step (None under two such values)."""
    log_y = np.log10(_positive(y))
    k = np.flatnonzero(np.isfinite(log_y))
    if len(k) < 2:
        return 0.0, None
    rate = (log_y[k[-1]] - log_y[k[0]]) / (k[-1] - k[0])
    return float(log_y[k[0]] - k[0] * rate), float(rate)


def _power_line(log_start: float, log_step: float, k_max: int, lo: float, hi: float) -> list[tuple[float, float]]:
    """(k, log_start + k log_step) for k in 0..k_max, kept to [lo, hi]: the points inside and the point where the
    line crosses the edge."""
    k = np.arange(k_max + 1, dtype=float)
    log_y = log_start + k * log_step  # in log10: no overflow
    inside = (log_y >= lo) & (log_y <= hi)
    if inside.all() or not inside.any() or log_step == 0:
        return list(zip(k[inside].tolist(), log_y[inside].tolist()))
    edge = hi if log_step > 0 else lo
    cross = (edge - log_start) / log_step
    keep = inside & (k < cross)
    return list(zip(k[keep].tolist(), log_y[keep].tolist())) + [(float(cross), float(edge))]


def training_figure(runs: dict[str, MemoryResult], threshold: float | None = None, height: int = 360) -> go.Figure:
    """Loss (left) and gradient norm before clipping (right, log) per training step, one colour per run."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.17)  # room for the right plot's ticks and title
    palette = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
    for (name, r), colour in zip(runs.items(), palette):
        steps = np.arange(1, len(r.loss) + 1)
        fig.add_scatter(x=steps, y=r.loss / LN2, name=name, mode="lines", line=dict(color=colour), legendgroup=name,
                        row=1, col=1)
        fig.add_scatter(x=steps, y=_positive(r.grad_norm), name=name, mode="lines", line=dict(color=colour),
                        legendgroup=name, showlegend=False, row=1, col=2)
    chance = next(iter(runs.values())).chance_loss / LN2
    fig.add_hline(y=chance, line=dict(color="grey", dash="dot"), annotation_text="guessing", row=1, col=1)
    if threshold is not None:
        fig.add_hline(y=threshold, line=dict(color="black", dash="dash"), annotation_text=f"clip at {threshold:g}",
                      row=1, col=2)
    fig.update_yaxes(title_text="loss (bits)", row=1, col=1)
    fig.update_yaxes(title_text="gradient norm before clipping", type="log", exponentformat="power", row=1, col=2)
    fig.update_xaxes(title_text="training step")
    return plots.plotly_layout(fig, height)
