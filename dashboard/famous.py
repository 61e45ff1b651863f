"""The lecture's famous cells (Karpathy, Johnson & Fei-Fei 2015, figs. 2-3): which shipped model and which page of
its validation text each one opens on, which view the Cells page opens on, and one name per cell and per signal."""
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.lens.signals import SIGNALS, compute_signal


@dataclass(frozen=True)
class Famous:
    """A named cell: button label, signal, the shipped model it lives in, the 1-based page of that model's val text."""
    label: str
    signal: str
    model: str
    page: int


# pages chosen by ranking every cell on the first 8 pages of each model's val split, 1,000 characters of warm-up
# (`python bench/famous_cells.py --pages 8`): a page where the best cell scores >= 0.9 and the signal occurs
FAMOUS = {
    "line": Famous("Line length", "line_position", "shakespeare-lstm", 3),  # 1:c:285, r 0.91
    "quote": Famous("Quote", "quote", "austen-lstm", 4),                      # 1:c:317, AUC 0.99
    "if": Famous("If-statement", "if", "linux-lstm", 4),                      # 1:c:72, AUC 0.93
    "depth": Famous("Code depth", "brace_depth", "linux-lstm", 5),            # 0:c:211, r 0.92
    "comment": Famous("Comment", "comment", "linux-lstm", 1),                 # 0:c:57, AUC 1.00
}
CORPUS_OF = {"shakespeare-lstm": "shakespeare", "austen-lstm": "austen", "linux-lstm": "linux"}
MISSING = {  # why a signal is constant on a text, for the one-click fix
    "quote": "no double quotes", "string": "no C strings", "comment": "no C comments", "if": "no C if-statements",
    "brace_depth": "no C braces", "indentation": "no indented lines", "brackets": "no brackets",
    "line_position": "no line breaks",
}
FALLBACK_ORDER = ("line_position", "quote", "comment", "brackets", "indentation", "brace_depth", "if", "string")


def cell_name(layer: int, kind: str, unit: int) -> str:
    """The one notation for a cell everywhere in the dashboard, as the command line writes it: `1:c:317`."""
    return f"{int(layer)}:{kind}:{int(unit)}"


def signal_label(name: str) -> str:
    """A signal's readable label (`brace_depth` -> "brace depth (code depth)"); unknown names are returned as is."""
    return SIGNALS[name].label if name in SIGNALS else "your regular expression" if name == "regex" else name


def opening(model_name: str, corpus: str) -> Famous | None:
    """The famous cell a model opens on: its own, else the first one found in a model of the same corpus."""
    own = [f for f in FAMOUS.values() if f.model == model_name]
    same_text = [f for f in FAMOUS.values() if CORPUS_OF.get(f.model) == corpus]
    return (own or same_text or [None])[0]


@st.cache_data(max_entries=16, show_spinner=False)
def supported(text: str) -> list[str]:
    """The named signals that vary over text (a constant one has nothing to rank cells against)."""
    return [name for name in SIGNALS if np.ptp(compute_signal(name, text)[0]) > 0] if text else []


def first_signal(text: str) -> str | None:
    """The signal a model without a famous cell opens on: the first of FALLBACK_ORDER that text supports."""
    ok = set(supported(text))
    return next((name for name in FALLBACK_ORDER if name in ok), None)


def fix_for(signal: str) -> str | None:
    """The key of the famous cell of this signal, whose model's text has it (the one-click fix when a text lacks it)."""
    return next((key for key, cell in FAMOUS.items() if cell.signal == signal), None)


def first_on(text: str, signal: str) -> int:
    """Where the signal first leaves its lowest value on text: where the page scrolls to show it (0 when never)."""
    y = compute_signal(signal, text)[0]
    on = np.flatnonzero(y > y.min())
    return int(on[0]) if len(on) else 0
