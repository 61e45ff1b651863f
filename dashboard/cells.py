"""Cells page glue: cached extraction and discovery, the per-character highlighter, heatmap and saturation figures.

The highlighter follows Karpathy, Johnson & Fei-Fei (2015), fig. 2: each character's background is one
cell's value on a diverging scale (red below zero, blue above; gates are centred on 0.5).
"""
import csv
import html
import io
import re

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.charlm.corpus import load_corpus
from core.lens.activations import (
    KIND_LABELS,
    Activations,
    extract,
    neutral_value,
    shown_values,
)
from core.lens.discovery import CellScore, gate_saturation, pattern_search, rank_cells
from core.lens.signals import compute_signal
from dashboard import famous, models, plots

PAGE_CHARS = 5_000  # characters analysed at once (one page); longer texts are paged
WARMUP_CHARS = 1_000  # text before a page read first, so the page does not start from a blank state
MARK_ID = "rnnlens-cells-mark"  # the id of the character the page scrolls to
NEG, POS = (214, 39, 40), (31, 119, 180)  # red for -1, blue for +1


@st.cache_data(max_entries=4, show_spinner="Reading the validation split…")
def val_text(corpus: str) -> str:
    """The validation split of a corpus by name or path (raises CorpusError)."""
    return load_corpus(corpus).val


@st.cache_resource(max_entries=4, show_spinner="Running the model over the text…")
def _activations(model_dir: str, stamp: float, text: str, warmup: str) -> Activations:
    ckpt = models.get_checkpoint(model_dir)
    return extract(ckpt.model, ckpt.vocab, text, warmup=warmup)


def activations(model_dir: str, text: str, warmup: str = "") -> Activations:
    """Every layer's h (c, gates) for text, cached per process (shared: never mutate the arrays)."""
    return _activations(str(model_dir), models.stamp(model_dir), text, warmup)


@st.cache_data(max_entries=32, show_spinner="Ranking every cell…")
def find_cells(model_dir: str, text: str, warmup: str, signal: str, pattern: str | None,
               monotone: bool = False, top: int = 20) -> list[CellScore]:
    """The cells best tracking a signal over text (raises SignalError / DiscoveryError)."""
    y, binary = compute_signal(signal, text, pattern)
    return rank_cells(activations(model_dir, text, warmup), y, binary, top=top, monotone=monotone)


def text_page(text: str, page: int) -> tuple[int, str, str]:
    """Page `page` (0-based) of a text: its offset, its PAGE_CHARS characters and the warm-up read before them."""
    offset = page * PAGE_CHARS
    return offset, text[offset:offset + PAGE_CHARS], text[max(0, offset - WARMUP_CHARS):offset]


def opening_page(model_dir: str) -> tuple[str, str, str | None]:
    """The page of a model's val text the Cells page opens on, its warm-up and the signal it finds there
    (None: the page picks one), as pages/cells.py computes them (raises CorpusError)."""
    ckpt = models.get_checkpoint(model_dir)
    corpus = str(ckpt.card.get("corpus", ""))
    first = famous.opening(ckpt.path.name, corpus)
    _, chunk, warmup = text_page(val_text(corpus).replace("\r\n", "\n"), first.page - 1 if first else 0)
    return chunk, warmup, first.signal if first else None


def cell_values(acts: Activations, kind: str, layer: int, unit: int) -> np.ndarray:
    """One cell over the text (T,); the cell state is shown as tanh(c), as in the paper."""
    return shown_values(acts.states[kind][layer, unit], kind)


def diverging_colour(v: float, lo: float = -1.0, hi: float = 1.0) -> str:
    """A red (lo) - white - blue (hi) background colour for v."""
    a = float(np.clip(2 * (v - lo) / max(hi - lo, 1e-9) - 1, -1, 1))  # lo -> -1 (red), hi -> +1 (blue)
    rgb = NEG if a < 0 else POS
    w = abs(a)
    return "#%02x%02x%02x" % tuple(round(255 + (c - 255) * w) for c in rgb)


def colour_range(values: np.ndarray, kind: str, percentiles: bool) -> tuple[float, float]:
    """The values painted full red and full blue: the page's 2nd and 98th percentiles, or the kind's fixed range
    (-1 to 1; gates 0 to 1)."""
    if percentiles:
        lo, hi = np.percentile(values, [2, 98])
        return float(lo), float(max(hi, lo + 1e-6))
    mid = neutral_value(kind)
    return 2 * mid - 1, 1.0


def _shown(ch: str) -> str:
    return {"\n": "\\n", "\t": "\\t", " ": "space"}.get(ch, ch)


LEVELS = 41             # background shades of the highlighter, red (lo) through white to blue (hi)


def _shade_styles() -> str:
    """One CSS class per shade (rk0 .. rk40) and one for characters outside the vocabulary: the per-character
    spans then carry a short class instead of an inline style (the page's HTML is a third smaller)."""
    shades = "".join(f".rk{i}{{background:{diverging_colour(i / (LEVELS - 1), 0.0, 1.0)}}}" for i in range(LEVELS))
    return f"<style>{shades}.rku{{outline:1px dashed #d00}}</style>"


def _p(p: float, digits: int = 2) -> str:
    """A probability without its leading zero (".31"; "1.00" stays)."""
    return f"{p:.{digits}f}".removeprefix("0")


def highlight_html(acts: Activations, values: np.ndarray, lo: float, hi: float, itos: list[str],
                   unknown: list[bool], label: str, mark: int | None = None) -> str:
    """Monospace HTML of acts.text, each character's background = its value (lo red, hi blue, in LEVELS shades);
    hover: the value, the top-5 next characters and the actual next one's probability; character `mark` carries
    the id MARK_ID (to scroll to)."""
    levels = np.clip(np.rint((np.asarray(values) - lo) / max(hi - lo, 1e-9) * (LEVELS - 1)), 0, LEVELS - 1)
    spans = []
    for t, ch in enumerate(acts.text):
        tip = [f"{_shown(ch)!s} (#{t}) {values[t]:+.3f}"]
        if acts.top_ids is not None:
            guesses = zip(acts.top_ids[t], acts.top_p[t])
            tip.append("next: " + ", ".join(f"{_shown(itos[i])} {_p(p)}" for i, p in guesses))
            if not np.isnan(acts.p_next[t]):
                tip.append(f"p(actual next) {_p(acts.p_next[t], 3)}")
        css = f"rk{int(levels[t])}"
        if unknown[t]:
            tip.append("not in the model's vocabulary (read as the unknown symbol)")
            css += " rku"
        body = html.escape(ch) if ch != "\n" else "\n"
        anchor = f' id="{MARK_ID}"' if t == mark else ""
        spans.append(f'<span{anchor} class="{css}" title="{html.escape(chr(10).join(tip))}">{body}</span>')
    return (_shade_styles() + f'<pre title="{html.escape(label)}" style="font-family:ui-monospace,Menlo,Consolas,'
            'monospace;font-size:13px;line-height:1.45;white-space:pre-wrap;tab-size:8;color:#111;background:#fff;'
            'padding:8px;border:1px solid #ddd;max-height:520px;overflow:auto">' + "".join(spans) + "</pre>")


def legend_html(lo: float, hi: float, what: str) -> str:
    """A small colour bar for the highlighter, from lo (red) to hi (blue), and what the ends are."""
    cells = "".join(f'<span style="background:{diverging_colour(v, lo, hi)};padding:0 6px">&nbsp;</span>'
                    for v in np.linspace(lo, hi, 11))
    return f'<div style="font-size:12px">{lo:+.3g} {cells} {hi:+.3g} &nbsp;<span style="color:#666">{what}</span></div>'


def standalone_html(body: str, title: str) -> str:
    """A whole HTML document around a highlighted text, for download."""
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f'<body><h3 style="font-family:sans-serif">{html.escape(title)}</h3>{body}</body></html>')


def first_word_with_matches(x: np.ndarray, text: str, threshold: float, min_fraction: float,
                            max_words: int = 50, min_score: float = 0.5) -> tuple[int, int]:
    """The first word (of 3+ characters) of text whose LSTMVis cell set (x: (H, T)) is also on somewhere else over a
    stretch of similar length (score >= min_score): a search span that finds something; else the first word."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\w{3,}", text)][:max_words]
    for start, end in words:
        matches = pattern_search(x, start, end, threshold, min_fraction)[1]
        if matches and matches[0].score >= min_score:
            return start, end
    return words[0] if words else (0, 1)


def heatmap_figure(acts: Activations, cells: list[tuple[str, int, int]], start: int, end: int) -> go.Figure:
    """Cells (rows) x characters (columns) of [start, end), tanh(c) for cell states, diverging scale."""
    z = np.stack([cell_values(acts, k, l, u)[start:end] - neutral_value(k) for k, l, u in cells])  # (N, S)
    chars = [_shown(ch) if ch in "\n\t " else ch for ch in acts.text[start:end]]
    fig = go.Figure(go.Heatmap(
        z=z, x=list(range(start, end)), y=[f"{l}:{k}:{u}" for k, l, u in cells], zmid=0, zmin=-1, zmax=1,
        colorscale=[[0, "rgb(%d,%d,%d)" % NEG], [0.5, "white"], [1, "rgb(%d,%d,%d)" % POS]],
        customdata=np.broadcast_to(np.array(chars, dtype=object), z.shape),
        hovertemplate="%{y}<br>char %{x}: %{customdata}<br>value - centre %{z:+.3f}<extra></extra>"))
    return plots.plotly_layout(fig, max(220, 22 * len(cells) + 90), yaxis=dict(autorange="reversed"),
                               xaxis_title="character position")


def saturation_figure(acts: Activations) -> go.Figure | None:
    """Per layer: each gate unit's fraction of time left- (< 0.1) vs right-saturated (> 0.9); None for RNN."""
    sat = gate_saturation(acts)
    if not sat:
        return None
    L = acts.n_layer
    fig = make_subplots(rows=1, cols=L, subplot_titles=[f"layer {l}" for l in range(L)], shared_yaxes=True)
    colours = {"i": "#2ca02c", "f": "#1f77b4", "o": "#d62728", "r": "#9467bd", "z": "#ff7f0e"}
    for l in range(L):
        for g, (left, right) in sat.items():
            fig.add_scatter(x=left[l], y=right[l], mode="markers", name=KIND_LABELS[g], legendgroup=g,
                            showlegend=l == 0, marker=dict(size=5, opacity=0.6, color=colours[g]),
                            customdata=np.arange(acts.hidden_size), row=1, col=l + 1,
                            hovertemplate=f"{g} unit %{{customdata}}<br>left %{{x:.2f}} right %{{y:.2f}}"
                                          "<extra></extra>")
        fig.update_xaxes(title_text="fraction left-saturated (< 0.1)", range=[-0.02, 1.02], row=1, col=l + 1)
    fig.update_yaxes(title_text="fraction right-saturated (> 0.9)", range=[-0.02, 1.02], row=1, col=1)
    return plots.plotly_layout(fig, 380, margin=dict(l=10, r=10, t=40, b=10))


def activations_csv(acts: Activations, kind: str, layer: int, start: int, end: int) -> bytes:
    """One layer's kind over [start, end): a row per character, a column per unit (raw values)."""
    x = acts.states[kind][layer, :, start:end].T                           # (S, H)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["position", "char", *(f"{kind}{u}" for u in range(x.shape[1]))])
    w.writerows([t, acts.text[t], *(f"{v:.6g}" for v in row)] for t, row in zip(range(start, end), x))
    return out.getvalue().encode("utf-8")


def activations_npz(acts: Activations, start: int, end: int) -> bytes:
    """Every kind over [start, end) as (L, H, S) arrays, plus the characters and next-char predictions."""
    span = acts.span(start, end)
    buf = io.BytesIO()
    np.savez_compressed(buf, text=np.array(list(span.text)), ids=span.ids, p_next=span.p_next,
                        top_ids=span.top_ids, top_p=span.top_p, **span.states)
    return buf.getvalue()
