"""Interventions on recurrent cells: clamp or ablate units at every step, resample, and score the causal effect.

Correlating with a signal (core.lens.discovery) does not show that a cell *is used* for it.  Activation patching
(as TransformerLens does for transformers) answers that: fix a cell's value at every step and watch the
output change.  Here a clamp fixes h or c of chosen units of one layer to a value (a number, the cell's mean
over a text: mean ablation, or its mean where a signal is off), applied after each step's update, so that
the clamped value is what the next layer, the head and the next step read; for an LSTM's c the output
h = o * tanh(c) is computed from the clamped c.

Sampling runs a free and a clamped stream as one batch through the fast stepper (core.charlm.stepper), and the
streams share their random draws: each step is one exponential race (core.charlm.sample.pick), the way
torch.multinomial samples, run by every stream against the same V exponential numbers.  So the free stream
is plain sampling from the same seed (its logits agree with core.charlm.sample's to float rounding), and the two
texts differ only where the clamp changed the distribution enough to change the winner.

The causal score of a cell for a span-closing event (a closing quote, the end of a comment, a closing brace)
is the change in log-probability that the model emits the closing character somewhere in the `horizon`
characters after the span opened, following the real text (teacher-forced), when the cell is clamped to its
value outside spans; the same clamp on random cells of the same layer and kind gives a control distribution
and a z-score.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from core.charlm.model import CharRNN
from core.charlm.sample import START, pick, validate_sampling
from core.charlm.stepper import Stepper
from core.charlm.vocab import Vocab
from core.lens.activations import Activations, extract

MEAN = "mean"  # clamp value: the cell's mean over a reference text (mean ablation), until resolved


class InterventionError(ValueError):
    """A clamp cannot be applied (bad spec, layer or unit out of range, kind the cell lacks)."""


@dataclass(frozen=True)
class Clamp:
    """Fix `kind` ("h" or "c") of `units` in `layer` to `values` (one per unit) at every step."""
    layer: int
    kind: str
    units: tuple[int, ...]
    values: tuple[float, ...] | str  # floats, or MEAN until resolved

    @property
    def resolved(self) -> bool:
        return not isinstance(self.values, str)


def parse_clamp(spec: str) -> Clamp:
    """Parse `L:KIND:UNIT[,UNIT...]=VALUE` (VALUE a number or `mean`); `L:KIND:UNITS` alone means `=mean`."""
    m = re.fullmatch(r"\s*(\d+):([hc]):(\d+(?:,\d+)*)\s*(?:=\s*(\S+))?\s*", spec)
    if not m:
        raise InterventionError(f"clamp {spec!r} must look like 1:c:317=0.5, 0:h:3,7=mean or 1:c:317 (ablate)")
    layer, kind, units, value = int(m[1]), m[2], tuple(int(u) for u in m[3].split(",")), m[4] or MEAN
    if value != MEAN:
        try:
            number = float(value)
        except ValueError:
            raise InterventionError(f"clamp value {value!r} must be a number or 'mean'") from None
        if not np.isfinite(number):
            raise InterventionError(f"clamp value must be finite, not {value}")
        return Clamp(layer, kind, units, (number,) * len(units))
    return Clamp(layer, kind, units, MEAN)


def check_clamp(model: CharRNN, clamp: Clamp) -> None:
    """Raise InterventionError when the clamp does not fit the model."""
    cfg = model.config
    if not 0 <= clamp.layer < cfg.n_layer:
        raise InterventionError(f"layer {clamp.layer} does not exist: the model has layers 0..{cfg.n_layer - 1}")
    if clamp.kind not in ("h", "c") or (clamp.kind == "c" and cfg.cell != "lstm"):
        raise InterventionError(f"a {cfg.cell.upper()} has no {clamp.kind!r} state to clamp (use h)")
    bad = [u for u in clamp.units if not 0 <= u < cfg.hidden_size]
    if bad or not clamp.units:
        raise InterventionError(f"units {bad or '(none)'} are out of range 0..{cfg.hidden_size - 1}")
    if clamp.resolved and len(clamp.values) != len(clamp.units):
        raise InterventionError("a clamp needs one value per unit")


def resolve(clamps: list[Clamp], means: dict[str, np.ndarray]) -> list[Clamp]:
    """Replace MEAN values by the cells' means over a text: means[kind] is (L, H) (Activations.column_stats)."""
    out = []
    for c in clamps:
        if c.values == MEAN:
            c = replace(c, values=tuple(float(means[c.kind][c.layer, u]) for u in c.units))
        elif not c.resolved:
            raise InterventionError(f"clamp value {c.values!r} cannot be resolved here")
        out.append(c)
    return out


def reference_means(model: CharRNN, vocab: Vocab, text: str) -> dict[str, np.ndarray]:
    """Each cell's mean h (and c) over text: kind -> (L, H), for mean ablation."""
    acts = extract(model, vocab, text, kinds=("h", "c"))
    return {k: acts.column_stats(k)[0] for k in acts.states if k in ("h", "c")}


def build_clamps(model: CharRNN, vocab: Vocab, specs: list[str], reference: Callable[[], str]) -> list[Clamp]:
    """Parse, check and resolve clamp specs (`L:KIND:UNITS=VALUE`, `=mean` or none for ablation) for a model.

    reference() gives the text whose means resolve `mean` values; it is only called when one is needed."""
    clamps = [parse_clamp(spec) for spec in specs]
    for c in clamps:
        check_clamp(model, c)
    if any(not c.resolved for c in clamps):
        clamps = resolve(clamps, reference_means(model, vocab, reference()))
    return clamps


class ClampedStepper(Stepper):
    """The fast stepper (core.charlm.stepper) over B streams, stream b with its own clamps (inference only)."""

    def __init__(self, model: CharRNN, clamps_per_stream: list[list[Clamp]]):
        B, H = len(clamps_per_stream), model.config.hidden_size
        super().__init__(model, streams=B)
        # (layer, kind) -> (mask (B, H) bool, value (B, H)); only pairs that some stream clamps
        self.clamps: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]] = {}
        for b, clamps in enumerate(clamps_per_stream):
            for c in clamps:
                check_clamp(model, c)
                if not c.resolved:
                    raise InterventionError("resolve 'mean' clamp values (resolve()) before stepping")
                mask, value = self.clamps.setdefault((c.layer, c.kind), (torch.zeros(B, H, dtype=torch.bool),
                                                                         torch.zeros(B, H)))
                mask[b, list(c.units)] = True
                value[b, list(c.units)] = torch.tensor(c.values, dtype=torch.float32)
        self.clamps = {k: (m.to(self.device), v.to(self.device)) for k, (m, v) in self.clamps.items()}
        self.h = [torch.zeros(B, H, device=self.device) for _ in range(self.n_layer)]
        self.c = [torch.zeros(B, H, device=self.device) for _ in range(self.n_layer)] if self.cell == "lstm" else []

    def set_state(self, h: torch.Tensor, c: torch.Tensor | None = None) -> None:
        """Start from given states, each (L, B, H) (c only for an LSTM)."""
        self.h = [t.to(self.device, copy=True) for t in h.unbind(0)]
        if c is not None:
            self.c = [t.to(self.device, copy=True) for t in c.unbind(0)]

    def _fix(self, l: int, kind: str, state: torch.Tensor) -> torch.Tensor:
        entry = self.clamps.get((l, kind))
        return state if entry is None else torch.where(entry[0], entry[1], state)

    def run(self, ids: torch.Tensor) -> torch.Tensor:
        """Teacher-force ids (B, T) through every stream -> logits (B, T, V)."""
        return torch.stack([self.step(ids[:, t]) for t in range(ids.shape[1])], 1)


@torch.inference_mode()
def sample_streams(model: CharRNN, vocab: Vocab, clamps_per_stream: list[list[Clamp]], prime: str = "\n",
                   length: int = 500, temperature: float = 0.8, seed: int = 0, top_k: int = 0) -> list[str]:
    """One sampled continuation of prime per stream (each with its own clamps), all sharing the random draws.

    A stream without clamps is what core.charlm.sample.stream_sample gives for the same seed."""
    validate_sampling(temperature, length, top_k)
    generator = torch.Generator().manual_seed(seed)
    B = len(clamps_per_stream)
    stepper = ClampedStepper(model, clamps_per_stream)
    for t in vocab.encode(prime or START):  # the prompt runs clamped too: the clamp holds at every step
        logits = stepper.step(torch.full((B,), t))  # (B, V)
    temps = torch.full((B, 1), float(temperature))
    out = []
    for n in range(length):
        if n:
            logits = stepper.step(out[-1])
        logits[:, 0] = float("-inf")  # never emit the unknown symbol
        out.append(pick(logits, temps, top_k, False, generator, shared=True))  # (B,)
    return [vocab.decode(row) for row in torch.stack(out, 1).tolist()]


def side_by_side(model: CharRNN, vocab: Vocab, clamps: list[Clamp], prime: str = "\n", length: int = 500,
                 temperature: float = 0.8, seed: int = 0, top_k: int = 0) -> tuple[str, str]:
    """(free text, clamped text) from the same seed and the same random draws."""
    free, clamped = sample_streams(model, vocab, [[], clamps], prime, length, temperature, seed, top_k)
    return free, clamped


def char_diff(a: str, b: str) -> list[tuple[str, str, str]]:
    """Character diff of a -> b as (op, a_part, b_part) runs; op is equal, replace, delete or insert."""
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [(op, a[i1:i2], b[j1:j2]) for op, i1, i2, j1, j2 in sm.get_opcodes()]


def first_divergence(a: str, b: str) -> int | None:
    """Index of the first character where a and b differ (None if equal)."""
    tail = None if len(a) == len(b) else min(len(a), len(b))
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), tail)


# ---- causal score -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CausalScore:
    """Effect of clamping one cell on a span-closing event, against random cells of the same layer and kind."""
    layer: int
    kind: str
    unit: int
    effect: float              # mean over events of delta log P(close within horizon), clamped - free
    control_units: tuple[int, ...]
    control_effects: tuple[float, ...]
    z: float                   # (effect - mean(control)) / std(control)
    n_events: int
    free_logp: float           # mean log P(close within horizon) without a clamp


def closing_events(text: str, signal: np.ndarray, horizon: int = 50, limit: int = 60) -> list[tuple[int, int]]:
    """Spans (start, end) where signal (T,) rises at start and first falls back at end, at most `limit`.

    The state after reading start is inside; text[end] is the character that closes the span."""
    y = np.asarray(signal, dtype=np.float64)
    events, t = [], 1
    while t < len(y) and len(events) < limit:
        if y[t] > y[t - 1]:
            below = np.flatnonzero(y[t + 1:] < y[t])
            if len(below) == 0:
                break
            end = t + 1 + int(below[0])
            events.append((t, end))
            t = end if end - t <= horizon else t + 1
        t += 1
    return events


def _log_close(logp: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """log P(target emitted at least once in the first lengths steps): logp (B, T, V) -> (B,)."""
    lp = logp.gather(2, targets[:, None, None].expand(-1, logp.shape[1], 1)).squeeze(2)  # (B, T)
    keep = torch.arange(lp.shape[1])[None] < lengths[:, None]  # (B, T)
    log_none = torch.where(keep, torch.log1p(-lp.exp().clamp_max(1 - 1e-7)), 0.0).sum(1)  # log P(never)
    return torch.log((-torch.expm1(log_none)).clamp_min(1e-30))


@torch.inference_mode()
def event_logp(model: CharRNN, acts: Activations, events: list[tuple[int, int]], clamp_sets: list[list[Clamp]],
               horizon: int = 50) -> np.ndarray:
    """log P(close within horizon) for each clamp set (S) and event (E) -> (S, E), following the real text.

    acts: Activations of the text (h, c of every layer) give the free state before each event."""
    ids = torch.from_numpy(acts.ids)
    S, E = len(clamp_sets), len(events)
    starts = torch.tensor([s for s, _ in events])
    lengths = torch.tensor([min(e - s, horizon) for s, e in events]).repeat(S)  # (S*E,)
    targets = ids[torch.tensor([e for _, e in events])].repeat(S)  # (S*E,)
    T = int(lengths.max())
    cols = (starts[:, None] + torch.arange(T)[None]).clamp_max(len(ids) - 1)  # (E, T) inputs from start
    stepper = ClampedStepper(model, [c for c in clamp_sets for _ in range(E)])

    def before(kind: str) -> torch.Tensor:  # state after start-1, (L, S*E, H)
        st = torch.from_numpy(acts.states[kind][:, :, starts - 1]).permute(0, 2, 1)  # (L, E, H)
        return st.repeat(1, S, 1)

    stepper.set_state(before("h"), before("c") if acts.cell == "lstm" else None)
    logp = torch.log_softmax(stepper.run(ids[cols].repeat(S, 1)), -1)  # (S*E, T, V)
    return _log_close(logp, targets, lengths).view(S, E).numpy()


def outside_values(acts: Activations, signal: np.ndarray) -> dict[str, np.ndarray]:
    """Each cell's mean where the signal is at its lowest (outside spans): kind -> (L, H)."""
    off = np.asarray(signal) <= np.min(signal)
    return {k: acts.states[k][:, :, off].mean(axis=2) for k in ("h", "c") if k in acts.states}


def causal_score(model: CharRNN, acts: Activations, signal: np.ndarray, layer: int, kind: str, unit: int,
                 n_control: int = 20, horizon: int = 50, max_events: int = 40, seed: int = 0) -> CausalScore:
    """Clamp (layer, kind, unit) to its outside-span value over each span's first `horizon` steps; z vs controls."""
    events = closing_events(acts.text, signal, horizon, max_events)
    if not events:
        raise InterventionError("the signal never opens and closes a span in this text: no events to score")
    values = outside_values(acts, signal)
    rng = np.random.default_rng(seed)
    others = np.setdiff1d(np.arange(acts.hidden_size), [unit])
    controls = rng.choice(others, size=min(n_control, len(others)), replace=False)
    units = [unit, *controls.tolist()]
    sets = [[]] + [[Clamp(layer, kind, (u,), (float(values[kind][layer, u]),))] for u in units]
    lp = event_logp(model, acts, events, sets, horizon)  # (1 + 1 + n_control, E)
    deltas = (lp[1:] - lp[0]).mean(axis=1)  # (1 + n_control,)
    ctrl = deltas[1:]
    z = float((deltas[0] - ctrl.mean()) / max(ctrl.std(ddof=1), 1e-12))
    return CausalScore(layer, kind, unit, float(deltas[0]), tuple(units[1:]), tuple(map(float, ctrl)), z,
                       len(events), float(lp[0].mean()))
