"""Cells: single LSTM cells lighting up over text (Karpathy et al. 2015), finding them, gates, LSTMVis search."""
from functools import partial
from pathlib import Path

import pandas as pd
import streamlit as st

from core.charlm.corpus import CorpusError
from core.common.io import decode_text
from core.lens.activations import KIND_LABELS, KINDS, neutral_value, shown_values
from core.lens.attribution import AttributionError
from core.lens.discovery import DiscoveryError, pattern_search
from core.lens.signals import SIGNALS, SignalError
from dashboard import causal as dca
from dashboard import cells as dc
from dashboard import famous, links, models
from dashboard.markdown import code_span
from dashboard.panels import lazy_tabs
from dashboard.scroll import scroll_to_selector

SOURCES = {"val": "Validation split", "paste": "Paste or upload", "sample": "Last sample"}
MAX_SPAN = 1_000

st.title("Cells")
ckpt = models.selected_checkpoint()
if ckpt is None:
    st.stop()
model_dir = st.session_state["model_dir"]
links.adopt("cells_", source=links.choice(SOURCES), page=links.number(1, 10**6, int), layer=links.number(0, 2, int),
            kind=links.choice(KIND_LABELS), unit=links.number(0, 4095, int), percentiles=links.flag)
st.caption(f"{code_span(ckpt.path.name)}: each character's background is one cell's value after reading it; hover a "
           "character for the value and the model's top-5 next characters. The famous cells' buttons open the "
           "model and page each was found on.")


def open_famous(key: str) -> None:
    """Callback: open the model and the page of its validation text a famous cell was found in, and find it."""
    cell = famous.FAMOUS[key]
    path = models.checkpoints_dir() / cell.model
    if Path(st.session_state["model_dir"]).name != cell.model and (path / "config.json").is_file():
        st.session_state["picker_model"] = st.session_state["model_dir"] = str(path)
        st.session_state["cells_announce"] = (f"Switched the sidebar model to **{cell.model}** for the "
                                              f"{cell.label.lower()} cell.")
    if Path(st.session_state["model_dir"]).name == cell.model:
        st.session_state.update(cells_source="val", cells_page=cell.page)
    st.session_state.update(cells_opened=st.session_state["model_dir"], cells_signal=cell.signal,
                            cells_pending_find=True, cells_jump=True)


for col, (key, cell) in zip(st.columns(len(famous.FAMOUS)), famous.FAMOUS.items()):
    col.button(cell.label, key=f"cells_preset_{key}", on_click=open_famous, args=(key,), width="stretch",
               help=f"{famous.signal_label(cell.signal)}: opens `{cell.model}` on page {cell.page} of its "
                    "validation text and finds the cell.")
    col.caption(f"{cell.model.removesuffix('-lstm')}, page {cell.page}")
if "cells_announce" in st.session_state:
    st.info(st.session_state.pop("cells_announce"), icon=":material/swap_horiz:")
if st.session_state.get("cells_opened") != model_dir:  # a first visit, or a new sidebar model: open on a cell
    st.session_state["cells_opened"] = model_dir
    if not {"page", "unit"} & set(st.query_params):  # unless a link (the Tour's) chose the page and cell
        first = famous.opening(ckpt.path.name, str(ckpt.card.get("corpus", "")))
        st.session_state.update(cells_source="val", cells_page=first.page if first else 1,
                                cells_signal=first.signal if first else "auto", cells_pending_find=True, cells_jump=True)

# --- the text -------------------------------------------------------------------------------------------
text_col, page_col = st.columns([3, 1], vertical_alignment="bottom")
source = text_col.radio("Text", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="cells_source")
text = ""
if source == "val":
    try:
        text = dc.val_text(str(ckpt.card.get("corpus", "")))
    except (CorpusError, OSError) as err:
        st.warning(f"The validation split of this model's corpus cannot be read ({err}); paste a text instead.")
elif source == "paste":
    upload = st.file_uploader("A UTF-8 text file", key="cells_upload")
    if upload is not None:
        try:
            text = decode_text(upload.getvalue())
        except ValueError as err:
            st.error(f"{err}.")
    else:
        text = st.text_area("Text", key="cells_paste", height=150, placeholder="Paste any text here")
else:
    text = st.session_state.get("sample_text", "")
    if not text:
        st.info("Nothing generated yet: write something on the **Sample** page first.")
text = text.replace("\r\n", "\n")
if len(text) < 2:
    st.stop()

n_pages = -(-len(text) // dc.PAGE_CHARS)
page = 0
if n_pages > 1:
    if st.session_state.get("cells_page", 1) > n_pages:
        st.session_state["cells_page"] = 1
    page = page_col.number_input(f"Page (1-{n_pages})", 1, n_pages, key="cells_page",
                                 help=f"The text has {len(text):,} characters, more than the {dc.PAGE_CHARS:,} "
                                      "analysed at once.") - 1
offset, chunk, warmup = dc.text_page(text, page)
where = f" · characters {offset:,}-{offset + len(chunk):,} (warmed up on the {len(warmup):,} before)" if warmup else ""
unknown = ckpt.vocab.unknown_mask(chunk)
if any(unknown):
    odd = "".join(sorted({ch for ch, u in zip(chunk, unknown) if u}))
    st.warning(f"{sum(unknown)} characters are not in the model's vocabulary ({odd[:40]!r}); the model reads them "
               "as its unknown symbol, and they are outlined in red.")
acts = dc.activations(model_dir, chunk, warmup)
L, H, kinds = acts.n_layer, acts.hidden_size, KINDS[acts.cell]
text_key = (model_dir, offset, hash(chunk))

# --- neuron stepper and highlighter ---------------------------------------------------------------------
if st.session_state.get("cells_layer", 0) >= L or st.session_state.get("cells_unit", 0) >= H:
    st.session_state.update(cells_layer=0, cells_unit=0)
if st.session_state.get("cells_kind") not in kinds:
    st.session_state["cells_kind"] = "c" if "c" in kinds else "h"


def highlight(kind: str, layer: int, unit: int) -> None:
    st.session_state.update(cells_kind=kind, cells_layer=layer, cells_unit=unit)


def run_find(model_dir: str, chunk: str, warmup: str, text_key: tuple) -> None:
    """Rank every cell against the chosen signal and highlight the best one (graded: percentile colours)."""
    signal = st.session_state["cells_signal"]
    pattern = st.session_state.get("cells_regex") if signal == "regex" else None
    found = {"key": text_key, "signal": signal, "run": st.session_state.get("cells_runs", 0) + 1}
    st.session_state["cells_runs"] = found["run"]
    try:
        found["scores"] = dc.find_cells(model_dir, chunk, warmup, signal, pattern,
                                        st.session_state.get("cells_monotone", False))
        best = found["scores"][0]
        highlight(best.kind, best.layer, best.unit)
        st.session_state["cells_percentiles"] = best.metric != "auc"
    except (SignalError, DiscoveryError) as err:
        found["error"] = str(err)
    st.session_state["cells_found"] = found


offered = famous.supported(chunk)  # signals that vary over this page: the others have nothing to rank against
if st.session_state.get("cells_signal") == "auto":  # a model with no famous cell opens on a signal its text has
    st.session_state["cells_signal"] = famous.first_signal(chunk) or "regex"
if st.session_state.pop("cells_pending_find", False):  # a famous cell or a first visit: find it on this page
    run_find(model_dir, chunk, warmup, text_key)
a, b, c, d = st.columns([2, 3, 3, 4], vertical_alignment="bottom")
layer = a.selectbox("Layer", range(L), key="cells_layer")
kind = b.selectbox("Value", kinds, key="cells_kind",
                   format_func=lambda k: "cell state c (shown as tanh c)" if k == "c" else KIND_LABELS[k])
unit = c.number_input(f"Unit (0-{H - 1})", 0, H - 1, key="cells_unit", help="The arrows step through the units.")
kind_text = "tanh(c)" if kind == "c" else KIND_LABELS[kind]
label = f"{famous.cell_name(layer, kind, unit)} ({kind_text} of layer {layer}, unit {unit})"
values = dc.cell_values(acts, kind, layer, unit)
percentiles = d.toggle("Colour by the page's range", key="cells_percentiles",
                       help="Red and blue at this cell's 2nd and 98th percentile on the page. Best for graded cells "
                            "(depth, position): a cell that never leaves one side of zero still reads as a gradient. "
                            "Switched on when a graded signal is found.")
lo, hi = dc.colour_range(values, kind, percentiles)
scale_note = ("red: this page's 2nd percentile of the cell, blue: its 98th" if percentiles else
              "red: the lowest value the cell can take, blue: the highest, white: " + f"{(lo + hi) / 2:g}")
jump = st.session_state.pop("cells_jump", False) and st.session_state.get("cells_signal") in offered
mark = famous.first_on(chunk, st.session_state["cells_signal"]) if jump else None  # where a famous cell's signal starts
body = dc.highlight_html(acts, values, lo, hi, ckpt.vocab.itos, unknown, label, mark)
st.markdown(f"**{label}**{where}")
st.html(dc.legend_html(lo, hi, scale_note) + body)
if mark:
    scroll_to_selector(f"#{dc.MARK_ID}")
st.download_button("Download this highlight as HTML", partial(dc.standalone_html, body, f"{ckpt.path.name}: {label}"),
                   file_name=f"{ckpt.path.name}-L{layer}-{kind}{unit}.html", mime="text/html", key="cells_dl_html",
                   on_click="ignore")

# --- panels (only the open one runs) -----------------------------------------------------------------------
def find_panel() -> None:
    st.caption("Rank every cell of every layer (h, c and each gate) against a hypothesis about the text: "
               "AUC for yes/no signals, Pearson r (or Spearman's rho) for graded ones. The best cell is highlighted "
               "above.")
    choices = [*offered, "regex"]
    if st.session_state.get("cells_signal") not in choices:
        st.session_state["cells_signal"] = choices[0]
    left, right = st.columns([2, 3])
    signal = left.selectbox("Signal", choices, format_func=famous.signal_label, key="cells_signal",
                            help="Only the signals that vary over this page are offered.")
    if signal == "regex":
        right.text_input("Regular expression (1 on every character of a match)", r"\d+", key="cells_regex",
                         help="RE2 syntax, matched in linear time: no backreferences or lookaround.")
    st.toggle("Graded signals: rank by Spearman's rho (any monotone rise or fall) instead of Pearson r",
              key="cells_monotone", help="Cells saturate: a depth cell may jump from top level to depth 1 and then "
                                         "move little, which r undervalues and rho does not.")
    st.button("Find cells", key="cells_find", type="primary", on_click=run_find,
              args=(model_dir, chunk, warmup, text_key))
    missing_signals(offered)
    found = st.session_state.get("cells_found")
    if found and found["key"] == text_key:
        preset_model = next((f.model for f in famous.FAMOUS.values() if f.signal == found["signal"]), None)
        if "error" in found:
            st.error(found["error"])
        else:
            scores = found["scores"]
            st.markdown(f"Best cells for **{famous.signal_label(found['signal'])}** over these {len(chunk):,} "
                        "characters (cells written layer:value:unit):")
            st.dataframe(pd.DataFrame([{"cell": famous.cell_name(s.layer, s.kind, s.unit), s.metric: s.score,
                                        "direction": "on" if s.sign > 0 else "off", "r": s.r} for s in scores]),
                         hide_index=True, height=260)
            labels = [f"{i + 1}. {famous.cell_name(s.layer, s.kind, s.unit)} ({s.metric} {s.score:.3f})"
                      for i, s in enumerate(scores)]
            pick = st.selectbox("Highlight a found cell", range(len(scores)), format_func=labels.__getitem__,
                                key=f"cells_pick_{found['run']}")  # a new list, a new widget: no stale label
            st.button("Highlight it", key="cells_pick_go", on_click=highlight,
                      args=(scores[pick].kind, scores[pick].layer, scores[pick].unit))
            if preset_model and preset_model != ckpt.path.name:
                st.caption(f"The lecture found this cell in `{preset_model}`; this model may have no such cell.")


def missing_signals(offered: list[str]) -> None:
    """The signals this page cannot support, each with a button that opens a famous cell's text that has it."""
    missing = [name for name in SIGNALS if name not in offered]
    if not missing:
        return
    st.caption("Not offered, constant on this page: " + "; ".join(
        f"{famous.signal_label(m)} ({famous.MISSING[m]})" for m in missing) + ".")
    fixes = {famous.fix_for(m): m for m in missing if famous.fix_for(m)}
    for col, (key, name) in zip(st.columns(max(len(fixes), 1)), fixes.items()):
        cell, why = famous.FAMOUS[key], famous.MISSING[name]
        col.button(f"{why[0].upper()}{why[1:]} here: open {cell.model}", key=f"cells_fix_{key}",
                   on_click=open_famous, args=(key,), help=f"Opens the {cell.label.lower()} cell in `{cell.model}`.")


n = len(chunk)


def span_slider(label: str, key: str, default: tuple[int, int]) -> tuple[int, int]:
    """A [start, end) range slider over this page, at most MAX_SPAN long and never empty."""
    if not (isinstance(st.session_state.get(key), tuple) and st.session_state[key][1] <= n):
        st.session_state[key] = default
    start, end = st.slider(label, 0, n, key=key)
    if end - start > MAX_SPAN:
        st.info(f"Spans are cut to {MAX_SPAN:,} characters: using [{start}, {start + MAX_SPAN}).")
        end = start + MAX_SPAN
    if end == start:
        start, end = (start - 1, end) if end == n else (start, end + 1)
    return start, end


def shared_span() -> tuple[int, int]:
    """The span the heatmap shows and the export writes (one slider, drawn by whichever of the two is open)."""
    return span_slider("Span of this page (characters) for the heatmap and the export", "cells_span", (0, min(n, 200)))


def heatmap_panel() -> None:
    start, end = shared_span()
    found = st.session_state.get("cells_found")
    if found and found["key"] == text_key and found.get("scores"):
        rows = [(s.kind, s.layer, s.unit) for s in found["scores"]]
        st.caption("Rows: the cells found for the last signal.")
    else:
        rows = [(kind, layer, u) for u in range(unit, min(unit + 16, H))]
        st.caption("Rows: the chosen unit and the next 15 of its layer (find cells to show the best ones).")
    st.plotly_chart(dc.heatmap_figure(acts, rows, start, end), key="cells_heatmap")


def saturation_panel() -> None:
    fig = dc.saturation_figure(acts)
    if fig is None:
        st.info("A vanilla RNN has no gates.")
    else:
        st.caption("Each dot is one gate unit: how often it is nearly closed (< 0.1, x) or fully open (> 0.9, y) "
                   "over this text, as in Karpathy et al.'s fig. 4.")
        st.plotly_chart(fig, key="cells_saturation")


def search_panel() -> None:
    st.caption(f"LSTMVis: pick a span; the cells of layer {layer} ({KIND_LABELS[kind]}) above the threshold over "
               "all of it and below it just before and after form a set; the table lists where else that set is on.")
    lo = 0.0 if neutral_value(kind) else -1.0
    left, right = st.columns(2)
    threshold = right.slider("Threshold", lo, 1.0, 0.5 if neutral_value(kind) else 0.3, 0.05,
                             key=f"cells_threshold_{lo}")
    min_fraction = right.slider("Share of the set that must be on at a match", 0.5, 1.0, 1.0, 0.05,
                                key="cells_min_fraction")
    x = shown_values(acts.states[kind][layer], kind)  # (H, T)
    if st.session_state.get("cells_search_for") != (text_key, kind, layer):  # new text or cells: a span that finds
        st.session_state["cells_search_for"] = (text_key, kind, layer)
        st.session_state["cells_search_span"] = dc.first_word_with_matches(x, chunk, threshold, min_fraction)
    with left:
        s_start, s_end = span_slider("Span to search from (characters of this page)", "cells_search_span", (0, 1))
    units, matches = pattern_search(x, s_start, s_end, threshold, min_fraction)
    if len(units) == 0:
        st.info("No cell is on over the whole span and off around it: lower the threshold or change the span.")
    else:
        st.markdown(f"**{len(units)} cells** on over `{chunk[s_start:s_end][:60]!r}`: "
                    + ", ".join(str(u) for u in units[:40]) + (" …" if len(units) > 40 else ""))
        st.dataframe(pd.DataFrame([{"start": m.start, "end": m.end, "score": m.score,
                                    "text": chunk[max(0, m.start - 15):m.start] + " [" + chunk[m.start:m.end]
                                    + "] " + chunk[m.end:m.end + 15]} for m in matches]),
                     hide_index=True, height=300, column_config={"score": st.column_config.NumberColumn(
                         help="The share of the set on over the match times the length ratio of match and span "
                              "(shorter / longer): 1 is the whole set on over a stretch as long as the span; a "
                              "1-character match of a 4-character span scores at most 0.25.", format="%.2f")})
        st.caption("Score: the share of the set on over the match x (shorter / longer) of the match's and the span's "
                   "lengths.")
        if not matches:
            st.caption("The set is on nowhere else in this page.")


def attribution_panel() -> None:
    st.caption("Which earlier characters the model's prediction after one character leans on: each of the "
               "200 characters before it coloured by its share of the predicted next character's logit.")
    left, right = st.columns(2)
    position = left.number_input("Explain the prediction after character (of this page)", 0, n - 2,
                                 min(dca.default_position(chunk), n - 2), key="cells_attr_position")
    method = right.radio("Method", list(dca.METHODS), key="cells_attr_method", horizontal=True,
                         format_func=dca.METHODS.get)
    if st.toggle("Attribute this prediction", key="cells_attr_on"):
        try:
            attr = dca.attribution(model_dir, warmup + chunk, len(warmup) + int(position), method)
        except AttributionError as err:
            st.error(f"Cannot attribute this position: {err}")
        else:
            dca.show_attribution(attr, chunk[position + 1:position + 21])


def export_panel() -> None:
    start, end = shared_span()
    st.download_button(f"CSV: layer {layer} {kind}, characters {start} to {end}",
                       partial(dc.activations_csv, acts, kind, layer, start, end),
                       file_name=f"cells-L{layer}-{kind}.csv", mime="text/csv", key="cells_dl_csv", on_click="ignore")
    st.download_button(f"NPZ: every layer and value, characters {start} to {end}",
                       partial(dc.activations_npz, acts, start, end), file_name="cells.npz",
                       mime="application/octet-stream", key="cells_dl_npz", on_click="ignore")


PANELS = {"Find cells": find_panel, "Heatmap": heatmap_panel, "Gate saturation": saturation_panel,
          "Pattern search": search_panel, "Attribution": attribution_panel, "Export": export_panel}
lazy_tabs(PANELS, "cells_panel", keep=("cells_signal", "cells_regex", "cells_monotone", "cells_span",
                                       "cells_threshold_", "cells_min_fraction", "cells_search_span", "cells_attr_"))
