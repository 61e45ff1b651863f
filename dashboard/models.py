"""Checkpoints for the dashboard: where they live, one cached copy per process, the sidebar card."""
import os
from pathlib import Path

import numpy as np
import streamlit as st

from core.charlm.checkpoint import (
    Checkpoint,
    CheckpointError,
    checkpoint_problem,
    list_checkpoints,
    load_checkpoint,
)
from core.charlm.next_char import next_char_probabilities
from dashboard.markdown import code_span

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = "shakespeare-lstm"  # the lecture's model comes first in the picker
# what a model is first asked to continue, by its corpus (the Sample page and the Tour)
DEFAULT_PRIMES = {"shakespeare": "ROMEO.\n", "austen": "\"My dear", "linux": "static int ", "latex": "\\begin{"}
LOSS_UNITS = ("**bpc**, bits per character: the mean of -log2 of the probability the model gave each true next "
              "character of held-out text. 1 bpc: on average as unsure as a fair coin toss between 2 characters; "
              "guessing uniformly among 64 characters scores 6.")


def checkpoints_dir() -> Path:
    """Shipped checkpoints (override with RNNLENS_CHECKPOINTS)."""
    return Path(os.environ.get("RNNLENS_CHECKPOINTS", ROOT / "checkpoints"))


def runs_dir() -> Path:
    """Checkpoints trained in the dashboard, git-ignored (override with RNNLENS_RUNS)."""
    return Path(os.environ.get("RNNLENS_RUNS", ROOT / "runs"))


def _root_stamp(root: Path) -> tuple:
    """What changes when a checkpoint under root is added, removed or saved again (a stat per entry)."""
    try:
        return tuple(sorted((e.name, e.stat(follow_symlinks=False).st_mtime_ns) for e in os.scandir(root)))
    except OSError:
        return ()


@st.cache_data(max_entries=16, show_spinner=False)
def _scan(root: str, stamp: tuple) -> dict[str, str | None]:
    """Checkpoint directory -> why it cannot be used (None when it can), for one state of root."""
    return {str(p): checkpoint_problem(p) for p in list_checkpoints(root)}


def _listing() -> dict[str, str | None]:
    roots = [checkpoints_dir(), runs_dir()]
    scans = [_scan(str(root), _root_stamp(root)) for root in roots]
    shipped = sorted(scans[0], key=lambda p: Path(p).name != DEFAULT_MODEL)
    return {**{p: scans[0][p] for p in shipped}, **scans[1]}


def available_models() -> list[str]:
    """Every character-model checkpoint under the shipped and the user-trained roots (rescanned only when a
    root changes), unusable ones included: model_label marks them."""
    return list(_listing())


def model_problem(model_dir: str) -> str | None:
    """Why a listed checkpoint cannot be used, from the cached scan (None: usable or not listed)."""
    return _listing().get(str(model_dir))


def is_user_trained(model_dir: str) -> bool:
    return Path(model_dir).resolve().is_relative_to(runs_dir().resolve())


def model_label(model_dir: str) -> str:
    """Short name for the picker: the directory name, marked when trained here."""
    name = Path(model_dir).name
    if model_problem(model_dir):
        return f"{name} (unusable)"
    return f"{name} (trained here)" if is_user_trained(model_dir) else name


def stamp(model_dir: str) -> float:
    """The directory's modification time: checkpoints are rewritten as a new directory, so a new stamp."""
    return Path(model_dir).stat().st_mtime


@st.cache_resource(max_entries=8, show_spinner="Loading model…")
def _load(model_dir: str, stamp: float) -> Checkpoint:
    return load_checkpoint(model_dir)


def get_checkpoint(model_dir: str) -> Checkpoint:
    """The checkpoint at model_dir, loaded once per process (shared by every session: never mutate it)."""
    return _load(str(model_dir), stamp(model_dir))


def selected_checkpoint() -> Checkpoint | None:
    """The model chosen in the sidebar, or None after telling the user why there is none."""
    model_dir = st.session_state.get("model_dir")
    if not model_dir:
        st.info("No model yet: train one on the **Train** page, or add a checkpoint under `checkpoints/`.")
        return None
    try:
        return get_checkpoint(model_dir)
    except (CheckpointError, OSError) as err:
        st.error(f"Cannot load the model at {code_span(model_dir)}: {err}")
        return None


def card_rows(card: dict) -> dict[str, str]:
    """The card fields the sidebar shows, formatted."""
    def num(key: str, fmt: str) -> str:
        value = card.get(key)
        return "n/a" if value is None else format(value, fmt)
    n_params = card.get("n_params")
    return {
        "corpus": str(card.get("corpus", "?")),
        "cell": str(card.get("cell", "?")).upper(),
        "layers x hidden": f"{card.get('n_layer', '?')} x {card.get('hidden_size', '?')}",
        "parameters": "n/a" if n_params is None else f"{n_params / 1e6:.2f} M" if n_params >= 1e5 else f"{n_params:,}",
        "val bpc": num("val_bpc", ".3f"),
        "steps": num("steps", ","),
        "trained on": trained_on(card),
    }


def trained_on(card: dict) -> str:
    """Where a model was trained: the card's device (newer cards) or the start of its hardware line."""
    where = card.get("device") or str(card.get("hardware", "n/a")).split(", torch")[0]
    where = where.replace(" 1 threads", " 1 thread")  # older cards wrote the plural for one
    return where.replace(":", "", 1) if where.startswith(("cpu:", "cuda:", "mps:")) else where


def char_probabilities(model_dir: str, prime: str, text: str) -> np.ndarray:
    """core.charlm.next_char.next_char_probabilities for the checkpoint at model_dir, cached: (len(text), V)."""
    return _char_probabilities(str(model_dir), stamp(model_dir), prime, text)


@st.cache_data(max_entries=64, show_spinner=False)
def _char_probabilities(model_dir: str, stamp: float, prime: str, text: str) -> np.ndarray:
    ckpt = _load(model_dir, stamp)
    return next_char_probabilities(ckpt.model, ckpt.vocab, prime, text)
