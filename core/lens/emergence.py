"""Cells emerging during training: the best cell's score for a few named signals on a fixed probe text.

Karpathy, Johnson & Fei-Fei (2015) observe that some interpretable cells (quotes, line length) appear early
in training and others late.  Scoring one checkpoint against a fixed probe text gives one point of that
curve; a trainer given `timeline_probe` records it at each timeline step (core.charlm.train's `probe` hook; the
command line and the Train page pass it) and the pages draw score against step.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.charlm.checkpoint import load_checkpoint
from core.charlm.corpus import load_corpus
from core.charlm.model import CharRNN
from core.charlm.settings import TrainConfig
from core.charlm.train import train
from core.charlm.vocab import Vocab
from core.common.events import CheckpointEvent, DoneEvent, TrainEvent
from core.common.io import read_json, replace_json
from core.lens.activations import extract
from core.lens.discovery import CellScore, rank_cells
from core.lens.signals import compute_signal

PROBE_SIGNALS = ("quote", "comment", "line_position", "brace_depth")
PROBE_CHARS = 2_000  # probe text of a timeline entry: the first characters of the validation split


def probe_scores(model: CharRNN, vocab: Vocab, probe_text: str,
                 signals: tuple[str, ...] = PROBE_SIGNALS) -> dict[str, CellScore | None]:
    """The best cell (h or c, any layer) for each named signal on probe_text; None where the signal is constant."""

    acts = extract(model, vocab, probe_text, kinds=("h", "c"))
    out: dict[str, CellScore | None] = {}
    for name in signals:
        y, binary = compute_signal(name, probe_text)
        out[name] = None if np.ptp(y) == 0 else rank_cells(acts, y, binary, top=1)[0]
    return out


def probe_record(scores: dict[str, CellScore | None]) -> dict[str, dict | None]:
    """JSON-ready form for a timeline entry: signal -> {layer, kind, unit, metric, score} or None."""
    return {name: None if s is None else {"layer": int(s.layer), "kind": s.kind, "unit": int(s.unit),
                                          "metric": s.metric, "score": round(s.score, 4)}
            for name, s in scores.items()}


def timeline_probe(model: CharRNN, vocab: Vocab, val_text: str) -> dict[str, dict | None]:
    """The trainer's probe hook: the best cell per PROBE_SIGNALS signal on the first PROBE_CHARS of val_text."""
    return probe_record(probe_scores(model, vocab, val_text[:PROBE_CHARS]))


def attach_retrained(checkpoint: str | Path, timeline: list[dict], command: str) -> None:
    """Store a from-scratch retrain's probed timeline in the checkpoint's samples.json (key "retrained")."""

    path = Path(checkpoint) / "samples.json"
    samples = read_json(path, "sample timeline") if path.exists() else {}
    replace_json(path, {**samples, "retrained": {"command": command, "timeline": timeline}})


def emergence_timeline(samples: dict) -> tuple[list[dict], str]:
    """The probed timeline to draw for a checkpoint's samples.json, and where it comes from: the model's own
    training ("own"), else a stored from-scratch retrain of its configuration (the retrain's command), else ([], "")."""
    own = [e for e in samples.get("timeline") or [] if isinstance(e, dict) and e.get("probe")]
    if own:
        return own, "own"
    retrained = samples.get("retrained")
    if isinstance(retrained, dict) and isinstance(retrained.get("timeline"), list):
        probed = [e for e in retrained["timeline"] if isinstance(e, dict) and isinstance(e.get("probe"), dict)]
        if probed:
            return probed, str(retrained.get("command", "a retrain from scratch"))
    return [], ""


def retrain_timeline(train_config: TrainConfig, probe_chars: int = 5000,
                     on_entry: Callable[[list[dict]], None] | None = None) -> list[dict]:
    """Train a model from scratch as train_config says and probe each checkpoint it writes: one entry a step.

    on_entry(timeline) is called after each new entry (to print or save progress)."""
    probe = load_corpus(train_config.corpus).val[:probe_chars]
    timeline: list[dict] = []

    def on_event(event: TrainEvent) -> None:
        if isinstance(event, (CheckpointEvent, DoneEvent)):
            ckpt = load_checkpoint(event.path)
            if timeline and timeline[-1]["step"] >= ckpt.card.get("steps", 0):
                return  # the final save repeats the last step, or rewinds to an earlier, better one
            timeline.append({"step": ckpt.card.get("steps"), "val_loss": ckpt.card.get("val_loss"),
                             "probe": probe_record(probe_scores(ckpt.model, ckpt.vocab, probe))})
            if on_entry:
                on_entry(timeline)

    train(train_config, on_event, probe=timeline_probe)
    return timeline
