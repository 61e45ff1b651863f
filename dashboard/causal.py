"""Cause & effect page glue: cached clamp-and-resample, causal scores, attribution, cell checks, matching,
error analysis against the n-gram, and the figures and coloured texts that show them."""
import html
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.charlm.model import CharRNNConfig
from core.charlm.ngram import NGram
from core.lens.activations import extract
from core.lens.attribution import Attribution, attribute, reach
from core.lens.cell_checks import CellCheck, check_cells
from core.lens.discovery import rank_cells
from core.lens.emergence import emergence_timeline
from core.lens.error_analysis import ErrorRow, compare_with_ngram
from core.lens.intervene import (
    CausalScore,
    build_clamps,
    causal_score,
    char_diff,
    first_divergence,
    parse_clamp,
    side_by_side,
)
from core.lens.matching import counterpart, match_cells
from core.lens.signals import compute_signal
from dashboard import models, plots
from dashboard.cells import diverging_colour, val_text
from dashboard.famous import signal_label

NAMED_CELLS = {"austen-lstm": ("quote", "1:c:317"), "linux-lstm": ("comment", "0:c:57"),  # found on the Cells page
               "shakespeare-lstm": ("brackets", "1:c:443")}  # Hamlet has no quotes: [stage directions] instead
LINUX_MODELS = ("linux-rnn", "linux-gru", "linux-lstm")
MATCH_SIGNALS = ("comment", "string", "brace_depth", "line_position")
METHODS = {"grad_x_input": "gradient x input", "ig": "integrated gradients"}  # the fast one first
CLAMP_FIRST = dict(prime="\n", length=200, temperature=0.8, seed=1)  # the clamp panel's first stream
CLAMP_VALUE = 2.0         # the clamp panel's first value
REFERENCE_CHARS = 2_000   # val characters whose means resolve `mean` clamps
ATTRIBUTING = ("Attributing the prediction… (integrated gradients: seconds on most paths, up to about a minute "
               "when a path is rough and other shuffles are tried)")
HELDOUT_SKIP = 50_000     # causal scores start this far into val, past the text cells were found on
NGRAM_TRAIN_CHARS = 500_000
PRE = ('<pre style="font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;line-height:1.45;'
       'white-space:pre-wrap;color:#111;background:#fff;padding:8px;border:1px solid #ddd;max-height:420px;'
       'overflow:auto">')


def named_cell(model_dir: str) -> tuple[str, str] | None:
    """(signal, L:KIND:UNIT) of the lecture's named cell for a shipped model, or None."""
    return NAMED_CELLS.get(Path(model_dir).name)


def default_cell(model_dir: str, cfg: CharRNNConfig) -> tuple[str, str]:
    """(signal, L:KIND:UNIT) the page opens on: the lecture's named cell, else unit 0 of the top layer's state."""
    return named_cell(model_dir) or ("quote", f"{cfg.n_layer - 1}:{'c' if cfg.cell == 'lstm' else 'h'}:0")


@dataclass(frozen=True)
class ClampDemo:
    """The clamp panel's first stream for a model: which cell, to what, from which prime and seed, and what to count
    in the two texts to show the effect its label announces (None: nothing announced)."""
    cell: str
    value: float
    prime: str
    seed: int
    count: str | None = None
    says: str = ""


# chosen by sampling 200 characters at temperature 0.8 from seeds 1-3 with the named cell clamped to +-2, +-3, +-5
CLAMP_DEMOS = {
    "shakespeare-lstm": ClampDemo("1:c:285", 3.0, "ROMEO.\n", 1, "lines",
                                  "The line-length cell 1:c:285 held at +3 tells the model it is far into a line: it "
                                  "breaks lines sooner."),
    "austen-lstm": ClampDemo("1:c:317", 2.0, '"', 3, "quotes",
                             "The quote cell 1:c:317 held at +2 tells the model it is inside a quotation: it keeps "
                             "closing and opening quotations."),
}


def clamp_demo(model_dir: str, cfg: CharRNNConfig) -> ClampDemo:
    """The first clamp the page shows for a model: a measured demo, else its default cell at CLAMP_VALUE."""
    cell = default_cell(model_dir, cfg)[1]
    generic = ClampDemo(cell, CLAMP_VALUE, CLAMP_FIRST["prime"], CLAMP_FIRST["seed"])
    return CLAMP_DEMOS.get(Path(model_dir).name, generic)


def clamp_effect(count: str, free: str, clamped: str) -> str:
    """What a demo counts in the free and the clamped text, as a sentence (lines and their mean length, or quotes)."""
    if count == "quotes":
        return f"Quotation marks: **{free.count(chr(34))}** free, **{clamped.count(chr(34))}** clamped."
    lines = [[len(line) for line in text.split("\n")] for text in (free, clamped)]
    a, b = (f"**{len(n) - 1}** line breaks (lines of {np.mean(n):.0f} characters on average)" for n in lines)
    return f"Free: {a}; clamped: {b}."


def warm_first_view(model_dir: str) -> None:
    """Fill the shared caches with the free and clamped streams the page shows first for a model."""
    demo = clamp_demo(model_dir, models.get_checkpoint(model_dir).model.config)
    clamped_samples(model_dir, (f"{demo.cell}={demo.value}",), demo.prime, CLAMP_FIRST["length"],
                    CLAMP_FIRST["temperature"], demo.seed)


def shipped_dir(name: str) -> Path:
    return models.checkpoints_dir() / name


def model_val_text(model_dir: str) -> str:
    """The validation split of the checkpoint's corpus (raises CorpusError)."""
    return val_text(str(models.get_checkpoint(model_dir).card.get("corpus", "")))


# ---- a. clamp and resample --------------------------------------------------------------------------------

@st.cache_data(max_entries=32, show_spinner="Sampling the free and the clamped stream…")
def _clamped(model_dir: str, stamp: float, specs: tuple[str, ...], prime: str, length: int, temperature: float,
             seed: int) -> tuple[list[str], str, str]:
    ckpt = models.get_checkpoint(model_dir)
    clamps = build_clamps(ckpt.model, ckpt.vocab, list(specs), lambda: model_val_text(model_dir)[:REFERENCE_CHARS])
    free, clamped = side_by_side(ckpt.model, ckpt.vocab, clamps, prime, length, temperature, seed)
    shown = [f"{c.layer}:{c.kind}:{u} = {v:+.3f}" for c in clamps for u, v in zip(c.units, c.values)]
    return shown, free, clamped


def clamped_samples(model_dir: str, specs: tuple[str, ...], prime: str, length: int, temperature: float,
                    seed: int) -> tuple[list[str], str, str]:
    """(resolved clamps as text, free sample, clamped sample) from one seed (raises InterventionError)."""
    return _clamped(str(model_dir), models.stamp(model_dir), specs, prime, length, temperature, seed)


def diff_html(free: str, clamped: str) -> tuple[str, str]:
    """Two <pre> blocks: characters only in the free text in red, only in the clamped text in green."""
    left, right = [], []
    for op, a, b in char_diff(free, clamped):
        esc_a, esc_b = html.escape(a), html.escape(b)
        if op == "equal":
            left.append(esc_a)
            right.append(esc_b)
            continue
        if a:
            left.append(f'<span style="background:#f8c9c9">{esc_a}</span>')
        if b:
            right.append(f'<span style="background:#c6ecc6">{esc_b}</span>')
    return PRE + "".join(left) + "</pre>", PRE + "".join(right) + "</pre>"


def clamp_controls(prefix: str, cfg: CharRNNConfig) -> tuple[str, int, str, str]:
    """Layer, state, units and value-or-mean widgets keyed `{prefix}_*`; (spec L:KIND:UNITS[=VALUE], layer, kind,
    units)."""
    kinds = ("c", "h") if cfg.cell == "lstm" else ("h",)
    if st.session_state.get(f"{prefix}_layer", 0) >= cfg.n_layer or st.session_state.get(f"{prefix}_kind") not in kinds:
        st.session_state.update({f"{prefix}_layer": cfg.n_layer - 1, f"{prefix}_kind": kinds[0]})
    st.session_state.setdefault(f"{prefix}_units", "0")
    st.session_state.setdefault(f"{prefix}_value", CLAMP_VALUE)
    a, b, c, d = st.columns(4)
    layer = a.selectbox("Layer", range(cfg.n_layer), key=f"{prefix}_layer")
    kind = b.selectbox("State", kinds, key=f"{prefix}_kind", format_func={"c": "cell state c", "h": "hidden h"}.get)
    units = c.text_input("Units (comma-separated)", key=f"{prefix}_units")
    mode = d.radio("Clamp to", ["value", "mean"], key=f"{prefix}_mode", horizontal=True,
                   format_func={"mean": "its mean (ablate)", "value": "a value"}.get)
    value = st.slider("Value", -5.0, 5.0, step=0.1, key=f"{prefix}_value", disabled=mode == "mean",
                      help="c is unbounded (|c| of a few is common); h lies in -1..1")
    return f"{layer}:{kind}:{units.replace(' ', '')}" + ("" if mode == "mean" else f"={value}"), layer, kind, units


def show_clamped(shown: list[str], free: str, clamped: str) -> None:
    """Which clamps ran, where the texts part, and the two texts side by side with their differences marked."""
    at = first_divergence(free, clamped)
    st.markdown(f"Clamped {', '.join(f'`{s}`' for s in shown)} at every step. "
                + ("The two texts are identical." if at is None else f"The texts part at character **{at}**."))
    left, right = diff_html(free, clamped)
    l, r = st.columns(2)
    l.markdown("**Free** (red: gone under the clamp)")
    l.html(left)
    r.markdown("**Clamped** (green: new under the clamp)")
    r.html(right)


@st.cache_data(max_entries=16, show_spinner="Clamping the cell and 20 random cells on every event…")
def _causal(model_dir: str, stamp: float, signal: str, spec: str, events: int, controls: int, horizon: int,
            chars: int) -> CausalScore:
    ckpt = models.get_checkpoint(model_dir)
    cell = parse_clamp(spec + "=0")
    val = model_val_text(model_dir)
    start = min(HELDOUT_SKIP, max(0, len(val) - chars))
    text = val[start:start + chars]
    y, _ = compute_signal(signal, text)
    acts = extract(ckpt.model, ckpt.vocab, text, kinds=("h", "c"))
    return causal_score(ckpt.model, acts, y, cell.layer, cell.kind, cell.units[0], controls, horizon, events)


def causal_z(model_dir: str, signal: str, spec: str, events: int = 10, controls: int = 20, horizon: int = 50,
             chars: int = 20_000) -> CausalScore:
    """core.lens.intervene.causal_score of one cell (L:KIND:UNIT) on val text past the discovery text, cached."""
    return _causal(str(model_dir), models.stamp(model_dir), signal, spec, events, controls, horizon, chars)


def controls_figure(score: CausalScore) -> go.Figure:
    """The control cells' effects as a strip, the chosen cell's effect as a red line."""
    fig = go.Figure(go.Box(x=list(score.control_effects), boxpoints="all", name="random cells", jitter=0.4,
                           marker=dict(color="#888"), customdata=list(score.control_units),
                           hovertemplate="unit %{customdata}: %{x:+.4f} nats<extra></extra>"))
    fig.add_vline(x=score.effect, line=dict(color="#d62728", width=3),
                  annotation_text=f"{score.layer}:{score.kind}:{score.unit}")
    return plots.plotly_layout(fig, 200, xaxis_title="change in log P(closing character within the horizon), nats")


# ---- b. attribution ---------------------------------------------------------------------------------------

@st.cache_data(max_entries=32, show_spinner=ATTRIBUTING)
def _attribution(model_dir: str, stamp: float, text: str, position: int, method: str, window: int,
                 steps: int) -> Attribution:
    ckpt = models.get_checkpoint(model_dir)
    return attribute(ckpt.model, ckpt.vocab, text, position, method, window, steps=steps)


def attribution(model_dir: str, text: str, position: int, method: str, window: int = 200,
                steps: int = 16) -> Attribution:
    """core.lens.attribution.attribute for the checkpoint, cached (raises AttributionError)."""
    return _attribution(str(model_dir), models.stamp(model_dir), text, position, method, window, steps)


def default_position(text: str, window: int = 200) -> int:
    """A position worth explaining: the first one past the window followed by a closing quote or bracket."""
    for j in range(min(window, len(text) - 2), len(text) - 1):
        if text[j + 1] in "\"\u201d)}":
            return j
    return max(0, min(window, len(text) - 2))


def attribution_html(a: Attribution, after: str = "") -> str:
    """The attributed characters coloured by their contribution (blue raises the target's logit, red lowers it)."""
    scale = max(float(np.abs(a.scores).max()), 1e-12)
    spans = []
    for j, (ch, s) in enumerate(zip(a.chars, a.scores)):
        back = len(a.chars) - 1 - j
        style = f"background:{diverging_colour(float(s) / scale)}"
        if back == 0:
            style += ";outline:2px solid #111"
        tip = html.escape(f"{ch!r}, {back} back: {s:+.4f}")
        spans.append(f'<span style="{style}" title="{tip}">{html.escape(ch)}</span>')
    nxt = f'<span style="color:#999">{html.escape(after)}</span>' if after else ""
    return PRE + "".join(spans) + nxt + "</pre>"


def show_attribution(a: Attribution, after: str = "") -> None:
    """What is predicted, how far back the attribution reaches, its completeness, and the coloured text."""
    st.markdown(f"Predicting **{a.target!r}** (logit {a.logit:.2f}); 90% of the attribution lies in the last "
                f"**{reach(a.scores)}** characters. Blue raised the logit, red lowered it; the outlined character "
                "is the last one read" + (", grey is what comes next." if after else "."))
    if a.method == "ig":
        st.caption(f"Completeness: the attributions sum to {a.scores.sum():.3f}, the logit moved "
                   f"{a.logit - a.baseline_logit:.3f} from the baseline (the window's characters in "
                   f"shuffled order {a.shuffle}): error {a.completeness_error:.2%}, {a.nodes} gradient "
                   "evaluations." + (" The first shuffles gave paths too rough to integrate, so a later one is "
                                     "used." if a.shuffle else ""))
    st.html(attribution_html(a, after))


# ---- c. is the cell real? -----------------------------------------------------------------------------------

@st.cache_data(max_entries=16, show_spinner="Shuffling the signal 100 times and scoring a held-out text…")
def _checks(model_dir: str, stamp: float, signal: str, chars: int, n_perm: int, top: int) -> list[CellCheck]:
    ckpt = models.get_checkpoint(model_dir)
    val = model_val_text(model_dir)
    if len(val) < 2 * chars:
        raise ValueError(f"the validation split has {len(val):,} characters, fewer than the 2 x {chars:,} needed")
    texts = val[:chars], val[chars:2 * chars]
    (y, binary), (y2, _) = (compute_signal(signal, t) for t in texts)
    if np.ptp(y) == 0 or np.ptp(y2) == 0:
        raise ValueError(f"the signal {signal!r} is constant on this model's text: nothing to test")
    acts = [extract(ckpt.model, ckpt.vocab, t, kinds=("h", "c")) for t in texts]
    return check_cells(acts[0], y, acts[1], y2, binary, top, n_perm)


def cell_checks(model_dir: str, signal: str, chars: int = 10_000, n_perm: int = 100, top: int = 5
                ) -> list[CellCheck]:
    """core.lens.cell_checks.check_cells on val[:chars] (ranked) and val[chars:2 chars] (held out), cached."""
    return _checks(str(model_dir), models.stamp(model_dir), signal, chars, n_perm, top)


def checks_table(checks: list[CellCheck]) -> pd.DataFrame:
    """One row per ranked cell: its score, the null's 99th percentile, held-out score, verdict."""
    return pd.DataFrame([{"cell": f"{c.cell.layer}:{c.cell.kind}:{c.cell.unit}", "metric": c.cell.metric,
                          "score": round(c.cell.score, 3), "null 99th pct": round(c.null_p99, 3),
                          "held-out": round(c.heldout, 3), "beats null": c.beats_null, "holds out": c.holds_out,
                          "verdict": "real" if c.real else "fails " + ("null" if not c.beats_null else "held-out")}
                         for c in checks])


# ---- d. the same cell across models -----------------------------------------------------------------------

@st.cache_data(max_entries=4, show_spinner="Running the three linux models and matching their cells…")
def linux_counterparts(chars: int = 5_000, min_r: float = 0.5) -> pd.DataFrame:
    """linux-lstm's best cell per MATCH_SIGNALS and its one-to-one partner in linux-rnn and linux-gru."""
    dirs = [shipped_dir(n) for n in LINUX_MODELS]
    missing = [d.name for d in dirs if not (d / "config.json").is_file()]
    if missing:
        raise FileNotFoundError(f"the shipped checkpoints {', '.join(missing)} are missing")
    ckpts = {d.name: models.get_checkpoint(str(d)) for d in dirs}
    text = val_text(str(ckpts["linux-lstm"].card.get("corpus", "linux")))[:chars]
    acts = {name: extract(c.model, c.vocab, text, kinds=("h", "c")) for name, c in ckpts.items()}
    rows = []
    for other in ("linux-rnn", "linux-gru"):
        m = match_cells(acts["linux-lstm"], acts[other])
        for signal in MATCH_SIGNALS:
            y, binary = compute_signal(signal, text)
            if np.ptp(y) == 0:
                continue
            cell = rank_cells(acts["linux-lstm"], y, binary, top=1)[0]
            partner, r = counterpart(m, (cell.layer, cell.unit), min_r)
            own = rank_cells(acts[other], y, binary, top=1)[0]
            rows.append({"signal": signal, "lstm cell": f"{cell.layer}:{cell.kind}:{cell.unit}",
                         "lstm score": round(cell.score, 3), "model": other,
                         "counterpart": "none" if partner is None else f"{partner[0]}:{partner[1]}",
                         "matched r": round(r, 3), "its own best cell": f"{own.layer}:{own.kind}:{own.unit}",
                         "its score": round(own.score, 3)})
    return pd.DataFrame(rows)


# ---- e. error analysis against the n-gram -----------------------------------------------------------------

@st.cache_resource(max_entries=2, show_spinner="Fitting the 5-gram on the training text…")
def _ngram(corpus: str, order: int) -> tuple[NGram, Counter]:
    from core.charlm.corpus import load_corpus

    train = load_corpus(corpus).train[:NGRAM_TRAIN_CHARS]
    return NGram(train, order), Counter(re.findall(r"\w+", train))


@st.cache_data(max_entries=8, show_spinner="Scoring every character with both models…")
def _errors(model_dir: str, stamp: float, chars: int, order: int
            ) -> tuple[list[ErrorRow], str, np.ndarray, np.ndarray]:
    ckpt = models.get_checkpoint(model_dir)
    corpus = str(ckpt.card.get("corpus", ""))
    ngram, words = _ngram(corpus, order)
    text = model_val_text(model_dir)[:chars]
    rows, p_rnn, p_ngram = compare_with_ngram(ckpt.model, ckpt.vocab, ngram, words, text, "linux" in corpus)
    return rows, text, p_rnn, p_ngram


def error_analysis(model_dir: str, chars: int = 5_000, order: int = 5
                   ) -> tuple[list[ErrorRow], str, np.ndarray, np.ndarray]:
    """core.lens.error_analysis on val[:chars] against an n-gram fitted on the first NGRAM_TRAIN_CHARS of train."""
    return _errors(str(model_dir), models.stamp(model_dir), chars, order)


def errors_figure(rows: list[ErrorRow]) -> go.Figure:
    """Per kind of character that occurs: the share of the n-gram's errors the RNN removes, and the errors it adds."""
    rows = [r for r in rows if r.n]  # a kind absent from the text would be an empty row
    kinds = [r.kind for r in rows]
    fig = go.Figure([go.Bar(y=kinds, x=[r.removed_fraction for r in rows], orientation="h",
                            name="n-gram errors removed",
                            marker_color="#1f77b4", customdata=[[r.removed, r.ngram_errors] for r in rows],
                            hovertemplate="%{customdata[0]} of %{customdata[1]}<extra></extra>"),
                     go.Bar(y=kinds, x=[r.added / r.ngram_errors if r.ngram_errors else 0 for r in rows],
                            orientation="h", name="new errors (share of n-gram errors)", marker_color="#d62728")])
    return plots.plotly_layout(fig, 320, barmode="group", xaxis=dict(tickformat=".0%"),
                               yaxis=dict(autorange="reversed"))


def winner_html(text: str, p_rnn: np.ndarray, p_ngram: np.ndarray) -> str:
    """text coloured by log p_rnn - log p_ngram of each character from the second on (the first, which nothing
    predicts, in grey): blue where the RNN wins, red where the n-gram does."""
    gain = np.log(p_rnn) - np.log(p_ngram)  # (T-1,)
    spans = [f'<span style="color:#999" title="the first character: nothing predicts it">{html.escape(text[:1])}'
             '</span>']
    for ch, g, pr, pn in zip(text[1:], gain, p_rnn, p_ngram):
        tip = html.escape(f"{ch!r}: rnn {pr:.3f}, n-gram {pn:.3f}")
        spans.append(f'<span style="background:{diverging_colour(float(g) / 3)}" title="{tip}">'
                     f'{html.escape(ch)}</span>')
    return PRE + "".join(spans) + "</pre>"


# ---- cells emerging during training -------------------------------------------------------------------------

def emergence_frame(timeline: list[dict]) -> pd.DataFrame:
    """Long table (step, signal, score, cell) from the timeline entries that carry probe scores."""
    return pd.DataFrame([{"step": e["step"], "signal": signal_label(name), "score": s["score"],
                          "cell": f"{s['layer']}:{s['kind']}:{s['unit']} ({s['metric']})"}
                         for e in timeline for name, s in (e.get("probe") or {}).items()
                         if isinstance(s, dict) and {"score", "layer", "kind", "unit", "metric"} <= s.keys()])


def emergence_svg(frame: pd.DataFrame) -> str:
    """Best cell's score for each probe signal against the training step, as an SVG."""
    lines = {signal: plots.Line(list(zip(part["step"], part["score"])))
             for signal, part in frame.groupby("signal", sort=False)}
    return plots.lines_svg(lines, "training step", "best cell's AUC or |r| on the probe text")


def show_emergence(samples: dict) -> None:
    """The cells-emerging chart of a checkpoint (its own probed timeline, else its stored from-scratch retrain)."""
    timeline, source = emergence_timeline(samples)
    frame = emergence_frame(timeline)
    if frame.empty:
        st.info("This model's training timeline has no probe scores yet: models trained from now on record, at "
                "each timeline step, the best cell's score for quotes, comments, line position and depth on a "
                "fixed probe text. Train one on the **Train** page to watch the cells emerge, or pick `linux-lstm` or "
                "`austen-lstm` in the sidebar: each carries a timeline from a retrain of its configuration.")
        return
    st.image(emergence_svg(frame), width="stretch")
    last = frame[frame["step"] == frame["step"].max()]
    st.caption(f"Best cells at step {int(last['step'].iloc[0]):,}: "
               + "; ".join(f"{row.signal} {row.cell} {row.score:.2f}" for row in last.itertuples()) + ".")
    if source == "own":
        st.caption("Recorded while this model trained: at each timeline step, the best cell for each signal on "
                   "the first characters of the validation split.")
    else:
        st.caption("This model was trained before probes were recorded, so its configuration was retrained from "
                   "scratch with the same seed, probing every checkpoint: `" + source + "`. The curves show when "
                   "each kind of cell appears; the shipped model's own cells may differ in number.")
