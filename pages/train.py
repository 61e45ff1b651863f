"""Train: a character-level model on a built-in corpus or an uploaded text, in the background, watched live."""
from dataclasses import fields
from pathlib import Path

import streamlit as st

from core.charlm.corpus import BUILDERS, CorpusError, corpus_info, upload_file_name
from core.charlm.settings import TrainConfig
from dashboard import links, plots, training
from dashboard.markdown import code_span
from dashboard.models import (
    CheckpointError,
    available_models,
    get_checkpoint,
    model_label,
    runs_dir,
)
from dashboard.streaming import code_html

DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}
STATUS = {"running": ":blue-badge[running]", "stopping": ":orange-badge[stopping…]",
          "stopped": ":gray-badge[stopped]", "done": ":green-badge[done]", "error": ":red-badge[failed]"}

st.title("Train")
links.adopt("train_", cell=links.choice(["rnn", "gru", "lstm"]), layers=links.choice([1, 2, 3]),
            hidden=links.choice(["auto", 32, 64, 128, 256, 512]))
st.caption("Training runs in its own process on this server: it goes on if you leave the page or close the tab, "
           f"and the checkpoint lands in `{runs_dir().name}/`, in the sidebar's model list.")
jobs = training.registry()


def use_model(path: str) -> None:
    st.session_state["picker_model"] = st.session_state["model_dir"] = path


with st.container(border=True):
    st.subheader("New run")
    data_col, model_col = st.columns(2, gap="large")
    with data_col:
        source = st.segmented_control("Data", ["builtin", "upload"], default="builtin", required=True,
                                      format_func={"builtin": "Built-in corpus", "upload": "Upload a text file"}.get,
                                      key="train_source")
        corpus = None
        if source == "builtin":
            corpus = st.selectbox("Corpus", list(BUILDERS), key="train_corpus")
            info = corpus_info(corpus)
            if info is not None:
                st.caption(f"{info.train_mb:.1f} MB to train on, {info.val_mb:.2f} MB held out "
                           f"({info.rule}); from {info.source}.")
            else:
                st.caption("Not built on this machine yet: the first run downloads its source package and builds "
                           "it, which can take minutes.")
        else:
            upload = st.file_uploader(f"A UTF-8 text file (at most {training.MAX_UPLOAD_MB} MB)", key="train_upload",
                                      max_upload_size=training.MAX_UPLOAD_MB)
            if upload is not None:
                try:
                    text = training.check_upload(upload.getvalue())
                except CorpusError as err:
                    st.error(f"Cannot train on **{upload.name}**: {err}.")
                else:
                    corpus = str(training.save_upload(upload_file_name(upload.name), text))
                    st.success(f"**{upload.name}**: {len(text):,} characters, {len(set(text))} distinct; "
                               "the last 10% of the lines are held out for validation.")
    with model_col:
        init_from = st.selectbox("Start from", ["", *available_models()], key="train_init_from",
                                 format_func=lambda m: f"fine-tune {model_label(m)}" if m else "random weights",
                                 help="Fine-tuning keeps the checkpoint's architecture, vocabulary and timeline "
                                      "and trains it further on the chosen text.")
        if init_from:
            try:
                parent = get_checkpoint(init_from).config
            except (CheckpointError, OSError) as err:
                st.error(f"Cannot fine-tune {code_span(Path(init_from).name)}: {err}")
                st.stop()
            cell, n_layer, hidden_size = parent.cell, parent.n_layer, parent.hidden_size
            st.caption(f"{cell.upper()} {n_layer} x {hidden_size}, from {code_span(Path(init_from).name)}")
        else:
            a, b = st.columns(2)
            cell = a.segmented_control("Cell", ["rnn", "gru", "lstm"], default="lstm", required=True,
                                       key="train_cell", format_func=str.upper)
            n_layer = b.segmented_control("Layers", [1, 2, 3], default=2, required=True, key="train_layers")
            hidden_size = st.select_slider(
                "Hidden size", ["auto", 32, 64, 128, 256, 512], value="auto", key="train_hidden",
                help="auto: chosen for the text and the minutes (a longer run on a bigger text gets a wider model "
                     "and dropout); the run says what it chose.")
        minutes = st.slider("Minutes", 0.5, 60.0, 5.0, 0.5, key="train_minutes",
                            help="Training stops after this long (or the step limit), saving a checkpoint.")
        with st.expander("More settings"):
            c, d, e = st.columns(3)
            max_steps = c.number_input("Max steps (0: no limit)", 0, 10**7, 0, key="train_max_steps")
            batch_size = d.number_input("Batch size", 1, 512, DEFAULTS["batch_size"], key="train_batch",
                                         placeholder="auto")
            seq_len = e.number_input("Sequence length", 8, 1024, DEFAULTS["seq_len"], key="train_seq_len",
                                     placeholder="auto")
            lr = c.number_input("Learning rate", 1e-5, 1e-1, DEFAULTS["lr"], 5e-4, format="%.4f", key="train_lr",
                                 placeholder="auto")
            eval_every = d.number_input("Val loss every N steps", 1, 10**6, DEFAULTS["eval_every"],
                                        key="train_eval_every")
            sample_every = e.number_input("Sample every N steps", 1, 10**6, 100, key="train_sample_every")
            seed = c.number_input("Seed", 0, 2**31 - 1, DEFAULTS["seed"], key="train_seed")
            dropout = d.number_input("Dropout between layers", 0.0, 0.9, DEFAULTS["dropout"], 0.05, key="train_dropout",
                                     placeholder="auto", help="Fights over-fitting on small texts (2+ layers).")
        choices = training.devices()
        device = st.segmented_control("Device", choices, default=choices[0], required=True, key="train_device",
                                      format_func=str.upper) if len(choices) > 1 else choices[0]
        st.caption(f"Trains on {training.device_name(device)}.")
    start = st.button("Start training", type="primary", disabled=corpus is None, key="train_start",
                      icon=":material/play_arrow:")

if start:
    try:
        hidden_size = None if hidden_size == "auto" else hidden_size
        cfg = TrainConfig(corpus=corpus, out=str(runs_dir() / training.run_name(corpus, cell, n_layer, hidden_size)),
                          cell=cell, n_layer=n_layer, hidden_size=hidden_size, max_minutes=minutes,
                          max_steps=max_steps or None, batch_size=batch_size, seq_len=seq_len, lr=lr,
                          eval_every=eval_every, sample_every=sample_every, seed=seed, dropout=dropout,
                          init_from=init_from, device=device)
        st.session_state["train_job"] = jobs.start(cfg).name
    except (ValueError, training.JobError) as err:
        st.error(f"Cannot start: {err}")

names = jobs.names()
if not names:
    st.stop()
if st.session_state.get("train_job") not in names:
    st.session_state["train_job"] = names[0]
if len(names) > 1:
    st.selectbox("Watch", names, key="train_job", help="Every run started on this server since it started.")
job = jobs.get(st.session_state["train_job"])
was_active = job.snapshot().active


@st.fragment(run_every=1.0 if was_active else None)
def live_panel() -> None:
    """Progress, curves and the latest sample of the watched job, refreshed every second while it runs."""
    snap = job.snapshot()
    if was_active and not snap.active:
        st.rerun()  # the whole page: stop polling, and the new checkpoint shows in the sidebar
    cfg = snap.cfg
    st.markdown(f"### {snap.name} {STATUS[snap.status]}")
    limits = " or ".join(([f"{cfg.max_minutes:g} min"] if cfg.max_minutes else [])
                         + ([f"{cfg.max_steps:,} steps"] if cfg.max_steps else []))
    model = f"{cfg.cell.upper()} {cfg.n_layer} x {cfg.hidden_size or 'auto'}"
    st.caption(f"{model} on `{Path(cfg.corpus).stem}`, up to {limits}"
               + (f" · {snap.settings_note}" if snap.settings_note else ""))
    with st.container(horizontal=True):
        if snap.active:
            st.button("Stop", on_click=job.stop, disabled=snap.status == "stopping", key="train_stop",
                      icon=":material/stop:")
        elif snap.path:
            if st.button(f"Resume for {snap.minutes:g} more min", key="train_resume", icon=":material/replay:",
                         help="Continue this run from its checkpoint for as long again as its last leg."):
                try:
                    jobs.resume(snap.name, snap.minutes)
                except training.JobError as err:
                    st.error(str(err))
                else:
                    st.rerun()
            if st.button("Sample from it", on_click=use_model, args=(snap.path,), key="train_use",
                         icon=":material/edit_note:", type="primary"):
                st.switch_page("../pages/sample.py")
    if snap.starting:
        st.progress(0.0, text=f"Starting · reading the corpus, building the model and taking the first step "
                              f"({snap.elapsed_s:,.0f} s)")
    else:
        st.progress(min(max(snap.progress, 0.0), 1.0),
                    text=f"{snap.progress:.0%} · step {snap.step:,} · {snap.elapsed_s:,.0f} s")
    m = st.columns(5 if snap.final_bpc is not None else 4)
    last = next((p["train_loss"] for p in reversed(snap.curve) if p["train_loss"] is not None), None)
    m[0].metric("Step", f"{snap.step:,}")
    m[1].metric("Train loss (bits/char)", "–" if last is None else f"{last / plots.LN2:.3f}")
    m[2].metric(f"Val loss, first {cfg.eval_chars:,} chars (bits/char)",
                "–" if snap.val_bpc is None else f"{snap.val_bpc:.3f}",
                help=f"Checked during training on the first {cfg.eval_chars:,} validation characters (quick).")
    m[3].metric("Tokens / s", "–" if snap.tokens_per_s is None else f"{snap.tokens_per_s:,.0f}")
    if snap.final_bpc is not None:
        m[4].metric("Final val loss, whole split (bits/char)", f"{snap.final_bpc:.3f}",
                    help="On every validation character, once, when the run ended; it differs from the "
                         "running figure beside it, which reads only the first part of the split.")
    if snap.error:
        st.error(f"Training failed: {snap.error}")
    elif snap.status in ("done", "stopped") and snap.path:
        st.success(f"Checkpoint saved in `{runs_dir().name}/{Path(snap.path).name}`; "
                   "it is in the sidebar's model list.")
    curve_col, sample_col = st.columns([3, 2], gap="large")
    curve_col.image(plots.loss_svg(snap.curve, height=340), width="stretch")
    with sample_col:
        if snap.samples:
            st.markdown(f"**Sample at step {snap.samples[-1]['step']:,}**")
            st.container(height=300, border=False).html(code_html(snap.samples[-1]["text"]))
        else:
            st.info(f"A sample appears every {cfg.sample_every:,} steps and when the run ends."
                    if cfg.sample_every else "A sample appears when the run ends.")


live_panel()
