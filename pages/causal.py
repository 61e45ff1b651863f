"""Cause & effect: clamp a cell and resample, attribute a prediction, test a cell, match cells across models."""
import streamlit as st

from core.charlm.corpus import CorpusError
from core.lens.attribution import AttributionError
from core.lens.discovery import DiscoveryError
from core.lens.intervene import InterventionError
from core.lens.signals import SIGNALS, SignalError
from dashboard import causal as dca
from dashboard import links, models
from dashboard.markdown import code_span
from dashboard.panels import lazy_tabs

PROBLEMS = (InterventionError, AttributionError, CorpusError, SignalError, DiscoveryError, ValueError, OSError)


def run_button(label: str, key: str, state_key: str, work, failure: str) -> None:
    """A button that stores work()'s result under state_key, or says why it failed."""
    if st.button(label, key=key):
        try:
            st.session_state[state_key] = work()
        except PROBLEMS as err:
            st.session_state.pop(state_key, None)
            st.error(f"{failure}: {err}")


st.title("Cause & effect")
ckpt = models.selected_checkpoint()
if ckpt is None:
    st.stop()
model_dir = st.session_state["model_dir"]
cfg = ckpt.model.config
named = dca.named_cell(model_dir)
st.caption(f"{code_span(ckpt.path.name)} ({cfg.cell.upper()}, {cfg.n_layer} x {cfg.hidden_size}). A cell that tracks quotes "
           "is not yet a cell the model *uses* for quotes: fix it and watch the text change, ask which earlier "
           "characters a prediction rests on, and check that the cell is not chance. Log-probabilities here are in "
           "nats (natural log: 1 nat = 1.44 bits).")
if named is None:
    st.info("The lecture's named cells live in **austen-lstm** (quote cell 1:c:317) and **linux-lstm** (comment "
            "cell 0:c:57): pick one of them in the sidebar to start from those cells.")
signal_default, cell_default = dca.default_cell(model_dir, cfg)
demo = dca.clamp_demo(model_dir, cfg)
if st.session_state.get("causal_model") != model_dir:  # a new model: its own defaults
    layer0, kind0, unit0 = demo.cell.split(":")
    st.session_state.update(causal_model=model_dir, causal_layer=int(layer0), causal_kind=kind0, causal_units=unit0,
                            causal_value=demo.value, causal_mode="value", causal_prime=demo.prime,
                            causal_seed=demo.seed, causal_signal=signal_default, causal_check_signal=signal_default,
                            causal_score_cell=cell_default)
    for key in ("causal_score", "causal_checks", "causal_errors"):
        st.session_state.pop(key, None)


def clamp_panel() -> None:
    spec, layer, kind, units = dca.clamp_controls("causal", cfg)
    e, f, g, h = st.columns(4)
    first = dca.CLAMP_FIRST
    prime = e.text_input("Prime", key="causal_prime")
    length = f.slider("Characters", 50, 1000, first["length"], 50, key="causal_length")
    temperature = g.slider("Temperature", 0.1, 1.5, first["temperature"], 0.05, key="causal_temperature")
    seed = h.number_input("Seed", 0, 2**31 - 1, key="causal_seed")
    try:
        shown, free, clamped = dca.clamped_samples(model_dir, (spec,), prime, length, temperature, int(seed))
    except PROBLEMS as err:
        st.error(f"Cannot clamp `{spec}`: {err}")
    else:
        if demo.count and spec == f"{demo.cell}={demo.value}":  # the model's demo: say what to look for, and count it
            st.info(f"{demo.says} {dca.clamp_effect(demo.count, free, clamped)}", icon=":material/science:")
        dca.show_clamped(shown, free, clamped)

    st.subheader("Causal score")
    st.caption("Clamp one cell to its value outside spans right after a span opens (a quote, a comment), and "
               "measure the change in log-probability of the closing character within 50 steps, following the real "
               "text; the same clamp on 20 random cells of the same layer gives the z-score's control.")
    s1, s2 = st.columns(2)
    signal = s1.selectbox("Span signal", [k for k, v in SIGNALS.items() if v.binary], key="causal_signal",
                          format_func=lambda k: SIGNALS[k].label)
    cell = s2.text_input("Cell (L:KIND:UNIT)", key="causal_score_cell",
                         help="The model's named cell for its signal; any cell works, e.g. the one clamped above.")
    run_button("Score this cell against 20 random cells (10 events)", "causal_score_btn", "causal_score",
               lambda: dca.causal_z(model_dir, signal, cell), f"Cannot score `{cell}` for {signal}")
    score = st.session_state.get("causal_score")
    if score is not None:
        st.metric(f"z-score of {score.layer}:{score.kind}:{score.unit}", f"{score.z:+.2f}",
                  help="(cell's effect - mean of controls) / sd of controls; |z| >= 3 is a clear effect")
        st.caption(f"{score.n_events} events; free log P(close) {score.free_logp:.3f}; the cell's clamp changes it "
                   f"by {score.effect:+.4f} nats.")
        st.plotly_chart(dca.controls_figure(score), key="causal_controls")


def attribution_panel() -> None:
    try:
        val = dca.model_val_text(model_dir)[:5_000]
    except PROBLEMS as err:
        val = ""
        st.warning(f"The model's validation text cannot be read ({err}).")
    if len(val) > 2:
        a, b, c = st.columns(3)
        position = a.number_input("Explain the prediction after character", 0, len(val) - 2,
                                  dca.default_position(val), key="causal_position")
        method = b.radio("Method", list(dca.METHODS), key="causal_method", horizontal=True, format_func=dca.METHODS.get)
        links.adopt("causal_", window=links.number(20, 400, int))
        window = c.slider("Characters back", 20, 400, 200, 20, key="causal_window")
        links.publish("causal_", window=window)
        try:
            attr = dca.attribution(model_dir, val, int(position), method, window)
        except PROBLEMS as err:
            st.error(f"Cannot attribute this position: {err}")
        else:
            dca.show_attribution(attr, val[position + 1:position + 21])


def real_panel() -> None:
    st.caption("The best of hundreds of cells tracks even a meaningless signal a little. Shuffle the signal in "
               "blocks of 5 lines 100 times; a cell is real when it beats the 99th percentile of the best shuffled "
               "score, and still does on a second, disjoint text.")
    check_signal = st.selectbox("Signal", list(SIGNALS), key="causal_check_signal",
                                format_func=lambda k: SIGNALS[k].label)
    run_button("Test the top 5 cells", "causal_check_btn", "causal_checks",
               lambda: (check_signal, dca.cell_checks(model_dir, check_signal)),
               f"Cannot test cells for {check_signal}")
    if "causal_checks" in st.session_state:
        tested, checks = st.session_state["causal_checks"]
        st.markdown(f"**{SIGNALS[tested].label}**: ranked on val[0:10k], held out on val[10k:20k].")
        st.dataframe(dca.checks_table(checks), hide_index=True)


def across_panel() -> None:
    st.caption("linux-lstm's best cell for each signal, and its one-to-one partner (by correlation of activations "
               "on 5,000 characters of linux val) in linux-rnn and linux-gru; 'none' when |r| < 0.5. This panel "
               "always uses the three shipped linux models.")
    run_button("Match the linux models' cells", "causal_match_btn", "causal_match", dca.linux_counterparts,
               "Cannot match the linux models")
    if "causal_match" in st.session_state:
        st.dataframe(st.session_state["causal_match"], hide_index=True)


def ngram_panel() -> None:
    st.caption("As in Karpathy et al. (2015, sec. 4.3): an error is a character given probability below 0.5. "
               "Which of a 5-gram's errors (fitted on 500k training characters) does this model remove, by kind "
               "of character, on the first 5,000 validation characters?")
    run_button("Compare with the 5-gram", "causal_errors_btn", "causal_errors", lambda: dca.error_analysis(model_dir),
               "Cannot compare with the n-gram")
    if "causal_errors" in st.session_state:
        rows, text, p_rnn, p_ngram = st.session_state["causal_errors"]
        st.plotly_chart(dca.errors_figure(rows), key="causal_errors_fig")
        st.caption("Each character: blue where this model gave it more probability than the n-gram, red less.")
        st.html(dca.winner_html(text[:2_000], p_rnn[:1_999], p_ngram[:1_999]))


def emergence_panel() -> None:
    dca.show_emergence(ckpt.samples)


PANELS = {"Clamp & resample": clamp_panel, "Attribution": attribution_panel, "Is the cell real?": real_panel,
          "Across models": across_panel, "vs the n-gram": ngram_panel, "Emerging in training": emergence_panel}
lazy_tabs(PANELS, "causal_panel", keep=("causal_layer", "causal_kind", "causal_units", "causal_mode", "causal_value",
                                         "causal_prime", "causal_length", "causal_temperature", "causal_seed",
                                         "causal_signal", "causal_score_cell", "causal_position", "causal_method",
                                         "causal_window", "causal_check_signal"))
