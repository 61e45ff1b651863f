"""Sample: stream text from the chosen model; temperatures side by side; per-character confidence."""
import secrets

import numpy as np
import streamlit as st

from core.charlm.corpus import CorpusError
from core.charlm.sample import (
    MAX_PRIME,
    beam_search,
    sample_batch,
    stream_sample,
    validate_sampling,
)
from core.lens.attribution import AttributionError
from core.lens.intervene import InterventionError
from dashboard import causal as dca
from dashboard import links, models, plots
from dashboard.markdown import code_span
from dashboard.model_slots import model_slot
from dashboard.streaming import show_text, stream_into

BATCH_TEMPERATURES = [0.2, 0.5, 1.0, 1.5]
MODES = {"sample": "Sample", "greedy": "Greedy", "beam": "Beam search"}
MAX_CLAMPED = 1_000  # characters per stream when clamping
MAX_SHOWN_LENGTH = 5_000  # the longest text the page writes (the library allows more)

st.title("Sample")
ckpt = models.selected_checkpoint()
if ckpt is None:
    st.stop()
model_dir = st.session_state["model_dir"]
links.adopt("sample_", temperature=links.number(0.1, 2.0), seed=links.number(0, 2**31 - 1, int),
            fix_seed=links.flag, length=links.number(1, MAX_SHOWN_LENGTH, int))  # the Tour's links, a reload
st.caption(f"{code_span(ckpt.path.name)} writes one character at a time, each fed back in as the next input.")


@st.fragment
def inspect(key: str, prime: str, text: str, narrow: bool = False) -> None:
    """On demand: the probability of each generated character, and the top-5 at a chosen position."""
    if not text or not st.toggle("Show confidence and top-5 next characters", key=f"{key}_inspect"):
        return
    vocab = models.get_checkpoint(model_dir).vocab
    probs = models.char_probabilities(model_dir, prime, text)  # (N, V)
    p_chosen = probs[np.arange(len(text)), vocab.encode(text)]  # (N,)
    pos = st.slider("Position in the generated text", 0, max(len(text) - 1, 1), 0, key=f"{key}_pos") \
        if len(text) > 1 else 0
    st.plotly_chart(plots.confidence_figure(text, p_chosen, width=28 if narrow else 80, selected=pos),
                    key=f"{key}_band", config={"displayModeBar": False})
    st.caption(f"Colour: the probability the model gave each generated character (temperature 1). Mean "
               f"{p_chosen.mean():.2f}, i.e. {-np.log2(np.maximum(p_chosen, 1e-12)).mean():.2f} bits per character.")
    top = np.argsort(probs[pos])[::-1][:5]
    rank = int((probs[pos] > p_chosen[pos]).sum()) + 1
    context = (prime + text[:pos])[-30:]
    words, chart = (st.container(), st.container()) if narrow else st.columns([2, 3], gap="large")
    words.markdown(f"**Position {pos}.** After `…{context!r}` the model's top 5 guesses are on the right; "
                   f"it wrote `{text[pos]!r}` (p = {p_chosen[pos]:.3f}, rank {rank} of {len(vocab)}).")
    chart.plotly_chart(plots.topk_figure([vocab.itos[i] for i in top], probs[pos][top].tolist(), actual=text[pos]),
                       key=f"{key}_top", config={"displayModeBar": False})
    attribute_here(key, prime + text, len(prime) + pos - 1)


def attribute_here(key: str, full: str, position: int) -> None:
    """On demand: which earlier characters the prediction of full[position + 1] leans on."""
    left, right = st.columns([2, 3])
    if not left.toggle("Which earlier characters did this choice lean on?", key=f"{key}_attr"):
        return
    method = right.radio("Method", list(dca.METHODS), key=f"{key}_method", horizontal=True,
                         format_func=dca.METHODS.get)
    if position < 0:
        st.info("The first character of a sample with an empty prime follows nothing.")
        return
    try:
        dca.show_attribution(dca.attribution(model_dir, full, position, method))
    except AttributionError as err:
        st.error(f"Cannot attribute this character: {err}")


@st.fragment
def clamp_panel(prime: str, length: int, temperature: float, seed: int | None) -> None:
    """Clamp cells, then write a free and a clamped stream from one seed and show them side by side."""
    st.caption("Fix cells (h or c) of a layer to a value, or to their mean over validation text (ablation), at "
               "every step. The free and the clamped stream share the prime, the seed and every random draw, so "
               "they part only where the clamp changes the model's choice. Several units: separate them with commas.")
    spec, *_ = dca.clamp_controls("sample_clamp", ckpt.model.config)
    if st.button("Generate free and clamped", key="sample_clamp_go", icon=":material/compare:"):
        seed = secrets.randbelow(2**31) if seed is None else seed
        try:
            validate_sampling(temperature, length, 0, 1, seed, prime)
            st.session_state["sample_clamped"] = {"model_dir": model_dir, "seed": seed, "shown": dca.clamped_samples(
                model_dir, (spec,), prime, min(length, MAX_CLAMPED), temperature, seed)}
        except (InterventionError, CorpusError, ValueError, OSError) as err:
            st.session_state.pop("sample_clamped", None)
            st.error(f"Cannot clamp `{spec}`: {err}")
    done = st.session_state.get("sample_clamped")
    if done and done["model_dir"] == model_dir:
        dca.show_clamped(*done["shown"])
        st.caption(f"Seed {done['seed']}, temperature {temperature}, prime as above.")


with st.container(border=True):
    left, right = st.columns([2, 3], gap="large")
    with left:
        links.adopt("sample_", prime=links.text(MAX_PRIME))  # a reload or a shared link: the same text
        if "sample_prime" in st.session_state and "sample_prime_for" not in st.session_state:
            st.session_state["sample_prime_for"] = model_dir
        if st.session_state.get("sample_prime_for") != model_dir or "sample_prime" not in st.session_state:
            st.session_state["sample_prime_for"] = model_dir  # each model starts from a prime in its corpus's style
            st.session_state["sample_prime"] = models.DEFAULT_PRIMES.get(ckpt.card.get("corpus"), "")
        prime = st.text_area("Prime text", height=110, key="sample_prime",
                             help=f"The model reads this first, then continues it (at most {MAX_PRIME:,} characters).")
        mode = st.segmented_control("Mode", list(MODES), format_func=MODES.get, default="sample",
                                    required=True, key="sample_mode")
    with right:
        a, b = st.columns(2)
        if "seed" in st.query_params and "sample_fix_seed" not in st.session_state:
            st.session_state["sample_fix_seed"] = True  # a reloaded sample is written again from its seed
        length = a.number_input("Length (characters)", 1, None, 500, step=100, key="sample_length",
                                help=f"At most {MAX_SHOWN_LENGTH:,}.")
        with b:
            fixed = st.toggle("Fix the seed", key="sample_fix_seed",
                              help="Off: each press draws a new seed (shown under the text), so a new sample. "
                                   "On: the same settings give the same text.")
            seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="sample_seed", disabled=not fixed,
                                   label_visibility="visible" if fixed else "collapsed")
        temperature = st.slider("Temperature", 0.1, 2.0, 1.0, 0.05, key="sample_temperature",
                                disabled=mode != "sample", help="Below 1: safer, repetitive; above 1: wilder.")
        c, d = st.columns(2)
        top_k = c.number_input("Top-k (0 = all characters)", 0, len(ckpt.vocab), 0, key="sample_top_k",
                               disabled=mode != "sample")
        beam = d.number_input("Beam width", 2, 16, 4, key="sample_beam", disabled=mode != "beam")
    too_long = length > MAX_SHOWN_LENGTH
    if too_long:
        st.error(f"A length of {length:,} is above the maximum of {MAX_SHOWN_LENGTH:,} characters: lower it to "
                 "generate.")
    generate = st.button("Generate", type="primary", key="sample_generate", icon=":material/play_arrow:",
                         disabled=too_long)
    replay = "seed" in st.query_params and "sample_result" not in st.session_state and not too_long
    generate = generate or replay  # a reloaded page writes its text again from the seed in its address

unknown = {ch for ch, bad in zip(prime, ckpt.vocab.unknown_mask(prime)) if bad}
if unknown:
    st.warning(f"Not in this model's vocabulary, read as unknown: {''.join(sorted(unknown))!r}")

output = st.container(key="sample_output")
if generate:
    try:
        validate_sampling(temperature, length, top_k, beam if mode == "beam" else 1, seed, prime)
    except ValueError as err:
        st.error(str(err))
        st.stop()
    if not fixed:
        seed = secrets.randbelow(2**31)
    if mode == "sample":  # the address reproduces this text from now on: a reload or a shared link writes it again
        links.publish("sample_", prime=prime, length=length, seed=seed, temperature=f"{temperature:g}")
    slot = output.empty()
    if mode == "beam":
        with st.spinner("Beam search…"), model_slot():
            text = beam_search(ckpt.model, ckpt.vocab, prime, length, beam)
        show_text(slot, prime + text)
    else:
        chars = stream_sample(ckpt.model, ckpt.vocab, prime, length, temperature, top_k,
                              greedy=mode == "greedy", seed=seed)
        text = stream_into(slot, chars, head=prime)
    st.session_state["sample_result"] = {"model_dir": model_dir, "prime": prime, "text": text,
                                         "seed": seed if mode == "sample" else None}
    st.session_state["sample_text"] = prime + text  # read by the Cells page

result = st.session_state.get("sample_result")
if result and result["model_dir"] == model_dir:
    if not generate:
        show_text(output, result["prime"] + result["text"])
    if result.get("seed") is not None:
        output.caption(f"Seed {result['seed']}: fix the seed and enter it to write this text again.")
    output.download_button("Download the text", result["prime"] + result["text"], icon=":material/download:",
                           file_name=f"{ckpt.path.name}-sample.txt", mime="text/plain", key="sample_download")
    with output:
        inspect("sample_main", result["prime"], result["text"])

st.divider()
st.subheader("Clamp cells and resample")
last_seed = result["seed"] if result and result["model_dir"] == model_dir else None
clamp_panel(prime, int(length), temperature, int(seed) if fixed else last_seed)

st.divider()
st.subheader("Same prime, four temperatures")
st.caption("One batch, one seed: low temperature repeats the likeliest characters, high temperature invents.")
if st.button(f"Generate at {' / '.join(map(str, BATCH_TEMPERATURES))}", key="sample_batch_go",
             icon=":material/view_column:"):
    try:
        validate_sampling(1.0, length, top_k, 1, seed, prime)
    except ValueError as err:
        st.error(str(err))
        st.stop()
    if not fixed:
        seed = secrets.randbelow(2**31)
    with st.spinner("Sampling four temperatures in one batch…"), model_slot():
        texts = sample_batch(ckpt.model, ckpt.vocab, prime, length, BATCH_TEMPERATURES, top_k=top_k, seed=seed)
    st.session_state["sample_batch"] = {"model_dir": model_dir, "prime": prime, "texts": texts}

batch = st.session_state.get("sample_batch")
if batch and batch["model_dir"] == model_dir:
    for i, (col, t, text) in enumerate(zip(st.columns(4), BATCH_TEMPERATURES, batch["texts"])):
        with col:
            st.markdown(f"**temperature {t}**")
            show_text(st.container(height=360, border=False), batch["prime"] + text)
            inspect(f"sample_batch{i}", batch["prime"], text, narrow=True)
