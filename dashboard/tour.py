"""The Tour: the lecture on recurrent networks walked in order, one stop per screen, each with its figure made live
by the shipped models, one control and a link that opens the full page with the same settings.

Every stop draws through the full pages' own glue (dashboard.cells, .captioning, .vqa, .gradients, plots), so the
numbers on a stop are the numbers its page shows.
"""
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.caption.model import CaptionCheckpointError
from core.charlm.checkpoint import CheckpointError
from core.charlm.corpus import CorpusError
from core.charlm.hello import HelloRun, train_hello
from core.charlm.sample import stream_sample
from core.vision.photos import PhotoWorldError
from core.vqa.checkpoint import VQACheckpointError
from dashboard import captioning as cap
from dashboard import cells as dc
from dashboard import gradients as G
from dashboard import links, models, plots, showcase, tour_cells, vqa
from dashboard.streaming import show_text
from dashboard.tour_figures import hello_figure

CHART = {"displayModeBar": False}


@dataclass(frozen=True)
class Stop:
    """One screen of the tour: show() draws its control and figure and returns its full page's link."""
    slug: str
    title: str
    text: str
    show: Callable[[], str]


@contextmanager
def figure():
    """The stop's figure area (the browser test checks that it has content)."""
    with st.container(key="tour_figure"):
        yield


# --- 1. sequence types -------------------------------------------------------------------------------------
SEQUENCE_PAGES = ["captioning", "captioning", "gradients", "sample", "train_more"]  # per plots.SEQUENCE_TYPES


def sequence_types() -> str:
    """The five sequence shapes, one highlighted; links to the page that has it."""
    names = [f"{t[0]}: {t[1].replace('<br>', ' ')}" for t in plots.SEQUENCE_TYPES]
    k = st.radio("Sequence type", range(len(names)), format_func=names.__getitem__, horizontal=True, key="tour_seq")
    with figure():
        st.image(plots.sequence_types_svg(selected=k), width="stretch")
    st.caption(f"Here: {plots.SEQUENCE_TYPES[k][2].replace('<br>', ' ')}. Red: inputs, green: the hidden state "
               "(the same weights at every step), blue: outputs.")
    return links.url(SEQUENCE_PAGES[k])


# --- 2. hello ----------------------------------------------------------------------------------------------
HELLO_STEPS = [0, 10, 25, 50, 100, 200]
HELLO_DEFAULT = 50


@st.cache_data(max_entries=16, show_spinner="Training the 3-unit RNN…")
def hello_run(steps: int, seed: int = 0) -> HelloRun:
    """train_hello, cached per step count and seed."""
    return train_hello("hello", steps, seed=seed)


def hello() -> str:
    """The 3-unit RNN trained for the chosen number of steps, its scores per letter."""
    steps = st.select_slider("Training steps (Adam, seed 0)", HELLO_STEPS, value=HELLO_DEFAULT, key="tour_hello_steps")
    run = hello_run(steps)
    with figure():
        st.plotly_chart(hello_figure(run), key="tour_hello_chart", config=CHART)
    right = sum(p == t for p, t in zip(run.predicted(), run.targets))
    loss = f"loss {run.losses[-1]:.3f} nats per letter" if steps else "untrained"
    st.caption(f"After {steps} steps ({loss}) the highest score picks {run.predicted()!r} for the targets "
               f"{run.targets!r}: {right} of {len(run.targets)} right. The box marks each step's target letter.")
    return links.url("train", cell="rnn", layers=1, hidden=32)


# --- 3 and 5. sampling ---------------------------------------------------------------------------------------
@st.cache_data(max_entries=64, show_spinner="Sampling…")
def sample_text(model: str, prime: str, temperature: float, seed: int, length: int) -> str:
    """What the Sample page writes for these settings with a fixed seed (stream_sample, top-k off)."""
    ckpt = models.get_checkpoint(str(models.checkpoints_dir() / model))
    return "".join(stream_sample(ckpt.model, ckpt.vocab, prime, length, temperature, 0, seed=seed))


def sample_link(model: str, temperature: float, seed: int, length: int) -> str:
    """The Sample page with this model, temperature, fixed seed and length."""
    return links.url("sample", checkpoint=model, temperature=temperature, fix_seed=True, seed=seed, length=length)


SAMPLE_LENGTH = 400


def temperature() -> str:
    """shakespeare-lstm's sample and first-character distribution at the chosen temperature."""
    model, prime = "shakespeare-lstm", models.DEFAULT_PRIMES["shakespeare"]
    t = st.select_slider("Temperature", [0.2, 0.5, 0.8, 1.0, 1.5], value=0.8, key="tour_temperature")
    text = sample_text(model, prime, t, 0, SAMPLE_LENGTH)
    p = models.char_probabilities(str(models.checkpoints_dir() / model), prime, text[:1])[0]  # (V,) at T = 1
    p_t = p ** (1 / t) / (p ** (1 / t)).sum()
    top = np.argsort(p_t)[::-1][:6]
    itos = models.get_checkpoint(str(models.checkpoints_dir() / model)).vocab.itos
    with figure():
        left, right = st.columns([3, 2], gap="large")
        show_text(left, prime + text)
        right.image(plots.bars_svg([repr(itos[i]) for i in top], p_t[top].tolist(), full=1.0,
                                   title=f"the first character after {prime!r} at temperature {t}"))
    st.caption(f"`{model}`, seed 0: the same seed at another temperature draws from a sharper or flatter "
               "distribution. Dividing the scores by the temperature before the softmax is p ↦ p^(1/T), renormalised.")
    return sample_link(model, t, 0, SAMPLE_LENGTH)


def linux() -> str:
    """linux-lstm's sample for the chosen seed."""
    model, prime = "linux-lstm", models.DEFAULT_PRIMES["linux"]
    seed = st.number_input("Seed (another number, another function)", 0, 999, 0, key="tour_linux_seed")
    text = sample_text(model, prime, 0.8, int(seed), 600)
    with figure():
        show_text(st.container(), prime + text)
    st.caption(f"`{model}` at temperature 0.8. It closes what it opens and indents by depth; the names and the "
               "logic are invented.")
    return sample_link(model, 0.8, int(seed), 600)


# --- 4. training progress -----------------------------------------------------------------------------------
def progress() -> str:
    """shakespeare-lstm's stored sample at the chosen training step, beside its loss curve."""
    model = "shakespeare-lstm"
    ckpt = models.get_checkpoint(str(models.checkpoints_dir() / model))
    timeline = ckpt.samples.get("timeline", [])
    steps = [e["step"] for e in timeline]
    step = st.select_slider("Training step", steps, value=steps[0], key="tour_step")
    entry = timeline[steps.index(step)]
    with figure():
        left, right = st.columns([3, 2], gap="large")
        show_text(left, entry["text"])
        right.image(plots.loss_svg(ckpt.samples.get("curve", []), marks=steps, selected=step, height=320),
                    width="stretch")
    bpc = entry.get("val_bpc")
    st.caption(f"`{model}` at step {step:,}" + (f": validation loss {bpc:.2f} bits per character." if bpc else ".")
               + " Each sample was written while the model trained, and stored in its checkpoint.")
    return links.url("train_more", checkpoint=model, step=step)


# --- 6. famous cells -----------------------------------------------------------------------------------------
def famous_cells() -> str:
    """The chosen famous cell lit over its excerpt, with its scores."""
    name = st.radio("Cell", list(tour_cells.FAMOUS), horizontal=True, key="tour_cell")
    fc = tour_cells.famous_cell(name)
    c = fc.choice
    with figure():
        st.html(fc.html)
    metric = "AUC" if c.metric == "auc" else c.metric
    st.caption(f"`{fc.model}`, {c.label}: the best of all its cells for *{tour_cells.label(fc.signal)}* on page "
               f"{c.page + 1} of the validation text ({metric} {c.score:.2f}). On this excerpt (characters "
               f"{c.start:,} to {c.start + tour_cells.EXCERPT:,}, another page): {metric} {fc.score:.2f}.")
    return links.url("cells", checkpoint=fc.model, source="val", page=c.start // dc.PAGE_CHARS + 1, layer=c.layer,
                     kind=c.kind, unit=c.unit, percentiles=fc.graded)


# --- 7. captioning -------------------------------------------------------------------------------------------
PHOTO, PHOTO_NOUN = "cat (chelsea)", "cat"  # a scikit-image photo and what it shows


def captioning() -> str:
    """The photo captioner's attention before the chosen word of its caption of a real cat photo."""
    image, key = showcase.sample(PHOTO)  # as the Captioning page reads it, so both show the same caption
    words, alphas, logprob, _, _, _ = cap.caption_image(image, key, "photos", 3)
    k = st.slider("Word", 1, len(words), len(words), key="tour_word") if len(words) > 1 else 1
    with figure():
        left, right = st.columns(2)
        left.image(cap.for_display(image), caption="the photo")
        right.image(cap.overlay(image, alphas[k - 1]), caption=f"where it looked before “{words[k - 1]}”")
    named = "names the cat" if PHOTO_NOUN in words else f"does not name the {PHOTO_NOUN}"
    st.caption(f"`captioner-photos`, beam 3: “{' '.join(words)}” (log-probability {logprob:.2f}); it {named}. "
               "A scikit-image photo, not one of the photo world it was trained on.")
    return links.url("captioning", model="photos", source="Sample photo", sample=PHOTO, beam=3, word=k)


# --- 8. VQA ----------------------------------------------------------------------------------------------------
VQA_SCENE = 9  # several objects, a colour question first (its answers: right or wrong, said live)


def question_answering() -> str:
    """Both attention hops of the photo VQA model for the chosen question about one scene."""
    image, questions, truths, _ = vqa.photo_scene(VQA_SCENE)
    q = st.selectbox("Question", questions, key="tour_question")
    ans = vqa.ask(image, f"photos:{VQA_SCENE}", q, "photos")
    with figure():
        cols = st.columns(len(ans.alphas) + 1)
        cols[0].image(cap.for_display(image, 240), caption="the photo")
        for col, (k, alpha) in zip(cols[1:], enumerate(ans.alphas)):
            col.image(cap.overlay(image, alpha, width=240), caption=f"hop {k + 1}: peak weight {alpha.max():.2f}")
    word, prob = ans.best
    truth = truths[questions.index(q)]
    st.caption(f"`vqa-photos` answers **{word}** ({prob:.0%}); the true answer is **{truth}**. A new photo-world "
               "scene, its objects from photos held out of training.")
    return links.url("vqa", model="photos", source="Photo-world scene", scene=VQA_SCENE, question=q)


# --- 9 and 10. gradients ------------------------------------------------------------------------------------
SMALL_INPUTS = 0.01  # tanh' near 1 at first: the vanilla RNN's gradient grows or shrinks with sigma


def exploding() -> str:
    """A fresh vanilla RNN's gradient by distance at the chosen sigma, beside training with and without clipping."""
    sigma = st.select_slider("Largest singular value σ of W_hh", [0.8, 0.9, 1.0, 1.2, 1.5], value=1.2,
                             key="tour_sigma")
    d = G.FLOW_DEFAULTS
    curves = G.flow_curves(d["length"], sigma, d["forget_bias"], SMALL_INPUTS)
    free, clipped = G.memory_run(**G.CLIP_RUN, clip=None), G.memory_run(**G.CLIP_RUN, clip=G.CLIP_DEFAULT_TAU)
    with figure():
        left, right = st.columns([2, 3])
        left.image(G.flow_svg({"rnn": curves["rnn"]}, sigma, height=340, width=380), width="stretch")
        right.plotly_chart(G.training_figure({"no clipping": free, f"clipped at τ={G.CLIP_DEFAULT_TAU:g}": clipped},
                                             G.CLIP_DEFAULT_TAU, height=340), key="tour_clip", config=CHART)
    st.caption(f"Left: a fresh vanilla RNN with small inputs, ‖∂L/∂h‖ k steps back; at k = {d['length'] - 1} it "
               f"is {curves['rnn'][-1]:.2g} (σ^k = {sigma ** (d['length'] - 1):.2g}). Right: such an RNN trained "
               f"with plain SGD on a copy task: held-out loss {free.eval_loss / G.LN2:.2f} bits without clipping, "
               f"{clipped.eval_loss / G.LN2:.2f} with it, and each step's gradient norm before clipping.")
    return links.url("gradients", sigma=sigma, scale=SMALL_INPUTS, panel="Gradient flow back through time")


def highway() -> str:
    """The LSTM cell state's gradient against the RNN's, fresh (at the chosen forget bias) and trained."""
    bias = st.select_slider("LSTM forget-gate bias", [-2.0, 0.0, 1.0, 3.0, 5.0], value=1.0, key="tour_fbias")
    d = G.FLOW_DEFAULTS
    curves = G.flow_curves(d["length"], d["sigma"], bias, d["input_scale"])
    found, _ = G.comparison()
    found = [c for c in found if c.path.name in ("linux-rnn", "linux-lstm")]
    text = G.real_text(G.TEXT_LENGTH)[:G.TEXT_LENGTH + 1]
    trained = G.text_curves(tuple(str(c.path) for c in found), text, tuple(c.card.get("steps") for c in found))
    with figure():
        left, right = st.columns(2)
        left.image(G.flow_svg({k: curves[k] for k in ("rnn", "lstm c")}, height=340, width=460), width="stretch")
        if trained:
            right.image(G.flow_svg({n: y for n, (y, _) in trained.items()}, height=340, width=460), width="stretch")
    st.caption(f"Left: fresh cells, σ = {d['sigma']:g}; the LSTM's cell state (dashed) is crossed by a product "
               f"with the forget gate only, and at k = {d['length'] - 1} keeps {curves['lstm c'][-1]:.2g} against "
               f"the RNN's {curves['rnn'][-1]:.2g}. Right: the shipped linux models on {len(text) - 1} characters "
               "of kernel code.")
    return links.url("gradients", fbias=bias, panel="Gradient flow back through time")


STOPS = [
    Stop("sequences", "Sequences in, sequences out",
         "A recurrent network reads one item at a time and keeps a hidden state between items. Where the inputs "
         "and outputs sit along the sequence gives five shapes of problem, from one image to one label up to a "
         "label for every frame.", sequence_types),
    Stop("hello", "A character model learns “hello”",
         "Four letters, so each input is a one-hot vector of length 4. A vanilla RNN with three hidden units is "
         "trained here, now, to score the next letter at every step; move the slider to watch the scores sort "
         "themselves out.", hello),
    Stop("temperature", "Sampling with a temperature",
         "A trained model gives a distribution over the next character; we draw one, feed it back and repeat. "
         "The temperature trades safety for variety: low values repeat the likeliest text, high ones invent.",
         temperature),
    Stop("progress", "From gibberish to verse",
         "The same Shakespeare model, caught at steps along its training. Spaces and word lengths come first, "
         "then words, then the layout of a play: speaker names, line breaks, stage directions.", progress),
    Stop("linux", "Writing C like the kernel",
         "A model trained on Linux's memory-management code has learned its surface: braces, indentation, "
         "comments, declarations. It compiles in spirit only.", linux),
    Stop("cells", "Cells that mean something",
         "Most hidden units do nothing a person can name, but a few track one property of the text. Each cell "
         "here is found by ranking every unit against a signal, then checked on text it was not chosen on.",
         famous_cells),
    Stop("captioning", "Captioning with attention",
         "A CNN turns the photo into a grid of features and an LSTM writes the caption. Before each word it "
         "weighs the grid cells; the lit region is where that weight went.", captioning),
    Stop("vqa", "Answering a question about a photo",
         "An LSTM reads the question into one vector; that vector attends over the image grid, adds what it saw "
         "and attends again. Each hop's map is shown.", question_answering),
    Stop("exploding", "Exploding and vanishing gradients",
         "Backpropagation through time multiplies by the same recurrent matrix once per step, so the gradient "
         "grows or shrinks geometrically with its largest singular value. Clipping its norm keeps a training "
         "step from blowing up.", exploding),
    Stop("highway", "The LSTM's highway",
         "The LSTM keeps a cell state that is updated by addition and crossed backwards through a gate, not a "
         "matrix. With the forget gate open the gradient travels hundreds of steps.", highway),
]
SLUGS = [s.slug for s in STOPS]
MISSING = (CheckpointError, CaptionCheckpointError, VQACheckpointError, CorpusError, PhotoWorldError, OSError)


def show(stop: Stop) -> str | None:
    """Draw a stop and return its full page's link; when a shipped model or corpus it needs cannot be read, say
    which instead and return None."""
    try:
        return stop.show()
    except MISSING as err:
        st.error(f"This stop needs a shipped model or a built corpus that cannot be read here: {err}")
        return None


def parse_stop(text: str) -> int:
    """A stop's index from its slug or its number (1 to len(STOPS)); ValueError otherwise."""
    if text in SLUGS:
        return SLUGS.index(text)
    if text.isdigit() and 1 <= int(text) <= len(STOPS):
        return int(text) - 1
    raise ValueError(f"not a stop: give 1 to {len(STOPS)} or one of {', '.join(SLUGS)}")


PRESENTER_CSS = """<style>
[data-testid=stSidebar], [data-testid=stSidebarCollapsedControl], header[data-testid=stHeader] {display: none}
[data-testid=stMainBlockContainer] {max-width: 100%; padding: 1.5rem 3rem}
.st-key-tour_text p {font-size: 1.6rem; line-height: 1.45}
[data-testid=stMain] h2 {font-size: 2.6rem}
</style>"""


def warm_first_view() -> None:
    """Train the "hello" stop's default model into the cache (dashboard/serve.py calls it at start: a first training
    run in a process pays seconds for torch's autograd and optimizer set-up)."""
    hello_run(HELLO_DEFAULT)
