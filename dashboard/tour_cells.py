"""The Tour's five famous cells (Karpathy, Johnson & Fei-Fei 2015), found and checked, never hard-coded.

Each cell is the best of its shipped model for its signal on one page of the validation split, the page (of the
first six) where the signal varies most; it is then shown and scored on an excerpt of another page, the window
where the signal varies most, so that there is something to track on text the cell was not chosen on. The score
there reads the signal with the characters before the excerpt (a brace opened earlier counts) and the cell's raw
value, as the ranking does. The choice (ranking every cell over a page) is computed once by
`python -m dashboard.precompute` into dashboard/tour_cells.json; the excerpt is read and scored live.
"""
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from core.lens.activations import shown_label
from core.lens.discovery import auc
from core.lens.signals import SIGNALS, compute_signal
from dashboard import cells as dc
from dashboard import models

FAMOUS = {  # name -> (signal, the shipped model it shows in)
    "quote": ("quote", "austen-lstm"),
    "line length": ("line_position", "austen-lstm"),
    "if statement": ("if", "linux-lstm"),
    "code depth": ("brace_depth", "linux-lstm"),
    "comment": ("comment", "linux-lstm"),
}
PAGES = 6          # pages of the split (dc.PAGE_CHARS each) the choice and the excerpt come from
EXCERPT = 600      # characters shown
PRECOMPUTED = Path(__file__).with_name("tour_cells.json")


@dataclass(frozen=True)
class Choice:
    """A cell chosen on one page and the excerpt of another page it is shown on."""
    kind: str
    layer: int
    unit: int
    sign: int      # +1: it rises with the signal
    metric: str    # "auc" or "r", as ranked
    score: float   # on the page it was chosen on
    page: int      # that page, from 0
    start: int     # the excerpt's offset in the split

    @property
    def label(self) -> str:
        return f"layer {self.layer} {shown_label(self.kind)} unit {self.unit}"


@dataclass(frozen=True)
class FamousCell:
    """A famous cell of a shipped model, its highlight over the excerpt and its score there."""
    model: str
    signal: str
    choice: Choice
    html: str      # the excerpt lit by the cell, with its colour legend
    score: float   # AUC (binary signals) or Pearson r (graded) on the excerpt, in the chosen direction
    graded: bool


def busiest_window(y: np.ndarray, starts: np.ndarray, width: int) -> tuple[int, float]:
    """The start (one of starts) of the width-long window of y (T,) with the largest variance, and that variance."""
    y = np.asarray(y, dtype=np.float64)
    c1, c2 = np.concatenate([[0], np.cumsum(y)]), np.concatenate([[0], np.cumsum(y ** 2)])
    ends = np.minimum(starts + width, len(y))
    n = ends - starts
    var = (c2[ends] - c2[starts]) / n - ((c1[ends] - c1[starts]) / n) ** 2   # (len(starts),)
    best = int(np.argmax(var))
    return int(starts[best]), float(var[best])


def _split(model: str) -> tuple[str, str]:
    """The model's directory and its corpus's validation split (raises OSError, CorpusError, CheckpointError)."""
    model_dir = str(models.checkpoints_dir() / model)
    corpus = str(models.get_checkpoint(model_dir).card.get("corpus", ""))
    return model_dir, dc.val_text(corpus).replace("\r\n", "\n")


def _page(text: str, k: int) -> tuple[str, str]:
    """Page k of text and the characters read before it, as the Cells page cuts them."""
    offset = k * dc.PAGE_CHARS
    return text[offset:offset + dc.PAGE_CHARS], text[max(0, offset - dc.WARMUP_CHARS):offset]


def signal_in_context(signal: str, text: str, start: int, end: int) -> tuple[np.ndarray, bool]:
    """The signal over text[start:end] (end - start,) computed with the characters before it that the model reads
    first (a brace or a quote opened there counts), and whether it is binary."""
    before = max(0, start - dc.WARMUP_CHARS)
    y, binary = compute_signal(signal, text[before:end])
    return y[start - before:], binary


def choose(name: str) -> Choice:
    """Rank every cell of the model for the signal on its busiest page; pick the excerpt on another page."""
    signal, model = FAMOUS[name]
    model_dir, text = _split(model)
    P = dc.PAGE_CHARS
    ys = [signal_in_context(signal, text, k * P, (k + 1) * P)[0] for k in range(PAGES)]
    page = int(np.argmax([y.var() for y in ys]))
    cell = dc.find_cells(model_dir, *_page(text, page), signal, None)[0]
    windows = []
    for k in (k for k in range(PAGES) if k != page):
        chunk = _page(text, k)[0]
        starts = np.array([0] + [i + 1 for i, ch in enumerate(chunk[:len(chunk) - EXCERPT]) if ch == "\n"])
        start, var = busiest_window(ys[k], starts, EXCERPT)
        windows.append((var, k * dc.PAGE_CHARS + start))
    start = max(windows)[1]
    return Choice(cell.kind, int(cell.layer), int(cell.unit), cell.sign, cell.metric, cell.score, page, start)


def stored_key(name: str) -> str:
    """A famous cell's key in the stored file: its name, model and the model's step count (a retrain recomputes)."""
    model = FAMOUS[name][1]
    steps = models.get_checkpoint(str(models.checkpoints_dir() / model)).card.get("steps")
    return f"{name}|{model}|{steps}"


@st.cache_resource
def _precomputed() -> dict:
    try:
        return json.loads(PRECOMPUTED.read_text())
    except (OSError, ValueError):
        return {}


def stored_choices() -> dict:
    """Every famous cell's choice, freshly computed, as the stored file holds them."""
    return {stored_key(name): asdict(choose(name)) for name in FAMOUS}


@st.cache_data(max_entries=8, show_spinner="Reading the excerpt with the cell…")
def famous_cell(name: str) -> FamousCell:
    """The famous cell `name` (a key of FAMOUS) over its excerpt (raises OSError, CorpusError, CheckpointError)."""
    signal, model = FAMOUS[name]
    stored = _precomputed().get(stored_key(name))
    choice = Choice(**stored) if stored else choose(name)
    model_dir, text = _split(model)
    excerpt = text[choice.start:choice.start + EXCERPT]
    acts = dc.activations(model_dir, excerpt, text[max(0, choice.start - dc.WARMUP_CHARS):choice.start])
    x = acts.states[choice.kind][choice.layer, choice.unit]             # (EXCERPT,) as ranked: c itself
    y, binary = signal_in_context(signal, text, choice.start, choice.start + EXCERPT)
    if binary:
        a = float(auc(x, y > 0.5))
        score = a if choice.sign > 0 else 1 - a
    else:
        score = float(np.corrcoef(x, y)[0, 1]) * choice.sign
    shown = dc.cell_values(acts, choice.kind, choice.layer, choice.unit)  # tanh(c), as the Cells page shows it
    lo, hi = dc.colour_range(shown, choice.kind, not binary)
    vocab = models.get_checkpoint(model_dir).vocab
    legend = dc.legend_html(lo, hi, "red low, blue high" + (" (this excerpt's 2nd to 98th percentile)"
                                                            if not binary else ""))
    html = legend + dc.highlight_html(acts, shown, lo, hi, vocab.itos, vocab.unknown_mask(excerpt), choice.label)
    return FamousCell(model, signal, choice, html, score, not binary)


def label(signal: str) -> str:
    """The signal's plain-words name."""
    return SIGNALS[signal].label
