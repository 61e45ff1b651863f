"""Train a character-level RNN / GRU / LSTM language model (char-rnn) with truncated BPTT.

`python -m core.charlm.train --corpus shakespeare --cell lstm --n-layer 2 --hidden-size 512 --out runs/shakespeare`

The training text is cut into `batch_size` contiguous streams; each step reads the next `seq_len`
characters of every stream and carries the hidden state across chunks (detached). Adam, gradient-norm
clipping, cosine learning-rate decay; validation loss in nats and bits per character; atomic checkpoints
that `--resume` continues exactly (model, optimizer, step, data position, RNG); a timeline of samples.

`--device auto|cpu|cuda|mps` picks where to train (bf16 autocast where the CPU or GPU has bf16 arithmetic), and
`torchrun --nproc_per_node=N -m core.charlm.train ...` trains data-parallel: the `--batch-size` streams are split across
the N processes, gradients are averaged, rank 0 validates and writes checkpoints. Left unset (`none`), the
model size, dropout, batch size, sequence length and learning rate are chosen from the corpus size and the device
(`auto_settings`). The checkpoint keeps the model with the best interval validation loss (as nanoGPT does);
its card reports the loss on the whole validation split.

`--init-from DIR` fine-tunes an existing checkpoint (char-rnn's -init_from): its architecture, vocabulary
(characters it never saw read as unknown), weights, step count and timeline carry over, with a fresh
optimizer and this call's dropout, learning rate and budget, e.g. to add dropout to an over-fitting model
or to adapt a model to a user's own text.
"""
import argparse
import copy
import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from core.charlm.checkpoint import (
    MAX_PARAMS,
    Checkpoint,
    CheckpointError,
    TrainState,
    claim_output,
    load_checkpoint,
    load_train_state,
    n_params,
    save_checkpoint,
)
from core.charlm.corpus import Corpus, CorpusError, load_corpus
from core.charlm.evaluate import evaluate_loss, streams
from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.recurrent import detach
from core.charlm.sample import sample_batch
from core.charlm.vocab import Vocab
from core.common.config_args import add_config_args, config_from_args
from core.common.device import (
    DEVICE_HELP,
    DEVICES,
    autocast,
    bf16_supported,
    describe,
    resolve_device,
)
from core.common.distributed import Ranks
from core.common.events import (
    LN2,
    CheckpointEvent,
    CurveEvent,
    DoneEvent,
    SampleEvent,
    StartEvent,
    StepEvent,
    TrainEvent,
    ValEvent,
)
from core.common.io import OVERWRITE_HELP
from core.lens.emergence import probe_record, probe_scores

PROBE_CHARS = 2_000  # probe text for the cells-emerging scores at each timeline step (2 x 384: 5 s on a busy
#                     2-core machine; outside the timed training budget, at most 15 entries a run)
TIMELINE_STEPS = (100, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000, 7000, 10000, 15000, 20000, 30000)
SAMPLE_CHARS = 300
CLI_HELP = {"corpus": "shakespeare | austen | linux | latex, or a UTF-8 text file",
            "out": "checkpoint directory to write",
            "bf16": "train in float32 (default: bf16 autocast where the device has bf16 instructions)",
            "resume": "continue the checkpoint in --out",
            "overwrite": OVERWRITE_HELP, "max_steps": "0 or none: no step limit",
            "max_minutes": "0 or none: no time limit", "device": DEVICE_HELP,
            **{k: "none: chosen from the corpus size and the device" for k in
               ("n_layer", "hidden_size", "dropout", "batch_size", "seq_len", "lr")}}


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss diverged); the message says what was kept and what to try."""


@dataclass
class TrainConfig:
    corpus: str
    out: str
    cell: str = "lstm"
    n_layer: int | None = None  # None here and below: chosen by auto_settings
    hidden_size: int | None = None
    dropout: float | None = None
    # LSTM forget-gate bias at init; None keeps torch's init. Measured on 5-minute shakespeare runs (seed 1337,
    # 2 x 128 and 2 x 256): 1.0 did not help (2 x 128, val at step 250: 2.091 vs 2.080 nats), so None stays.
    forget_bias: float | None = None
    batch_size: int | None = None  # streams in one step, over all processes
    seq_len: int | None = None
    lr: float | None = None
    lr_min_ratio: float = 0.1  # cosine decay ends at lr * lr_min_ratio
    grad_clip: float = 1.0
    max_steps: int | None = None
    max_minutes: float | None = 5.0
    seed: int = 1337
    eval_every: int = 250
    eval_chars: int = 60_000  # validation characters per interval check (the final check uses all)
    checkpoint_every: int = 500
    sample_every: int = 0  # also report a fresh sample every N steps (0: only at the timeline steps)
    bf16: bool = True  # bfloat16 autocast where the device runs it natively (core.common.device.bf16_supported)
    init_from: str = ""  # checkpoint directory to fine-tune (architecture and vocabulary come from it)
    resume: bool = False
    overwrite: bool = False
    device: str = "auto"

    def __post_init__(self):
        if self.max_steps is None and self.max_minutes is None:
            raise ValueError("give --max-steps or --max-minutes (or both)")
        for name in ("batch_size", "seq_len", "eval_every", "checkpoint_every", "eval_chars"):
            if (getattr(self, name) or 1) < 1:
                raise ValueError(f"{name} must be positive")
        if not ((self.lr or 1) > 0 and self.grad_clip > 0):
            raise ValueError("lr and grad_clip must be positive")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        CharRNNConfig(2, self.cell, self.n_layer or 2, self.hidden_size or 256, self.dropout or 0.0)  # validates


def auto_settings(train_chars: int, device_type: str) -> dict:
    """Model size, dropout, batch size, sequence length and learning rate for a corpus of train_chars
    characters on a device.

    On a CPU a short budget is short of updates, not of text: batch 16 x 64 characters gives a 2 x 256 LSTM
    about ten steps a second on one core, where batch 64 x 128 gave about one (1.1 MB of shakespeare, one
    thread, 1 minute: val 1.742 against 2.198 nats; 16 x 128: 1.832, 8 x 64: 1.785, 16 x 32: 1.738). In 5
    minutes that reads a 1.1 MB text about three times, too few for dropout to pay (0.25: 1.535 against 1.495),
    so only small texts, read ten times and more, get it; 2 x 384 (1.548), batch 32 (1.544) and lr 3e-3 or
    6e-3 (1.524, 1.507) did no better. bench/vs_transformer.py compares these defaults with nanoGPT's CPU
    recipe. On a CUDA GPU a 3 x 1024 LSTM at batch 128 x 128 and lr 1e-3, the plain cuDNN loop issue 14
    measured (lr 2e-3 diverged).
    """
    small = train_chars < 300_000
    if device_type == "cuda":
        return {"n_layer": 2 if small else 3, "hidden_size": 512 if small else 1024,
                "dropout": 0.25 if train_chars < 2_000_000 else 0.1 if train_chars < 10_000_000 else 0.0,
                "batch_size": 128, "seq_len": 128, "lr": 1e-3}
    return {"n_layer": 2, "hidden_size": 128 if small else 256, "dropout": 0.25 if small else 0.0,
            "batch_size": 16, "seq_len": 64, "lr": 4e-3}


def with_auto_settings(cfg: TrainConfig, train_chars: int, device_type: str) -> TrainConfig:
    """cfg with every knob left as None filled in by auto_settings."""
    auto = auto_settings(train_chars, device_type)
    return replace(cfg, **{k: v for k, v in auto.items() if getattr(cfg, k) is None})


def lr_at(cfg: TrainConfig, progress: float) -> float:
    """Cosine decay from lr to lr * lr_min_ratio as progress goes 0 -> 1."""
    low = cfg.lr * cfg.lr_min_ratio
    return low + (cfg.lr - low) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _timeline_entry(step: int, val_loss: float, text: str, probe: dict) -> dict:
    return {"step": step, "val_loss": round(val_loss, 4), "val_bpc": round(val_loss / LN2, 4), "text": text,
            "probe": probe}


def _rounded(loss: float) -> float | None:
    """A loss for JSON: 4 decimals, or None when there is none (strict JSON has no NaN)."""
    return round(loss, 4) if math.isfinite(loss) else None


class Throughput:
    """Tokens per second over a window that restarts every `window` seconds."""

    def __init__(self, window: float = 5.0):
        self.window, self.tokens, self.start = window, 0, time.perf_counter()

    def add(self, tokens: int) -> float:
        """Count tokens just processed; the rate since the window started."""
        self.tokens += tokens
        now = time.perf_counter()
        rate = self.tokens / max(now - self.start, 1e-9)
        if now - self.start > self.window:
            self.tokens, self.start = 0, now
        return rate


def corpus_sha256(corpus: Corpus) -> str:
    """The hash a card records for the text it was trained on: train.txt's of a built corpus, a file's own."""
    return corpus.manifest.get("files", {}).get("train.txt", {}).get("sha256") or corpus.manifest["source"]["sha256"]


@dataclass
class Snapshot:
    """A copy of the training state at an interval validation: what the run rewinds to if it stays the best."""
    val_loss: float | None  # rank 0's interval validation loss (None on the other ranks)
    train_loss: float
    step: int
    pos: int
    epoch: int
    elapsed: float
    model: dict
    optimizer: dict
    rng: torch.Tensor
    hidden: object


def _to_cpu(tree):
    """A nest of dicts / lists / tuples with every tensor moved to the CPU."""
    if isinstance(tree, torch.Tensor):
        return tree.cpu()
    if isinstance(tree, dict):
        return {k: _to_cpu(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to_cpu(v) for v in tree)
    return tree


def _map_hidden(hidden, fn):
    """fn applied to the carried h, or to both of (h, c); None stays None."""
    if hidden is None:
        return None
    return tuple(fn(t) for t in hidden) if isinstance(hidden, tuple) else fn(hidden)


class Trainer:
    """One training run: holds the model, optimizer, data streams and the run's history.

    Under torchrun each process holds a Trainer over its share of the streams (`ranks`); they agree on rank
    0's clock and decisions, and only rank 0 validates, samples and writes the checkpoint.
    """

    def __init__(self, cfg: TrainConfig, command: str = "", ranks: Ranks | None = None):
        self.cfg = cfg
        self.ranks = ranks or Ranks()
        self.device = resolve_device(cfg.device, self.ranks.local_rank)
        self.ranks.join(self.device)
        self.commands = [command]  # every invocation that trained this model, oldest first
        self.out = Path(cfg.out)
        # refused before anything else (see claim_output); held by rank 0 until run() ends, so a second writer
        # is refused
        self.lock = claim_output(self.out, resume=cfg.resume, overwrite=cfg.overwrite) if self.ranks.is_main else None
        try:
            self._prepare()
        except BaseException:
            if self.lock is not None:
                self.lock.release()
            raise

    def _prepare(self) -> None:
        cfg = self.cfg
        self.corpus: Corpus = load_corpus(cfg.corpus)
        self.step, self.pos, self.epoch, self.elapsed = 0, 0, 0, 0.0
        self.state = None  # the hidden state carried across chunks (this rank's streams)
        self.timeline: list[dict] = []  # samples.json "timeline": a sample at each of TIMELINE_STEPS
        self.curve: list[dict] = []  # samples.json "curve": the one loss curve of this model
        self.base_step, self.base_elapsed = 0, 0.0  # where this run's budget starts (fine-tuning)
        self.last_train_loss = float("nan")
        self.last_saved_step: int | None = None
        self.best: Snapshot | None = None  # the state with the best interval validation loss so far
        self.trained_steps: int | None = None  # set when the run rewinds to an earlier, better step
        # the model, vocabulary and optimizer come from one of three places
        if cfg.resume:
            self._resume()
        elif cfg.init_from:
            self._init_from(cfg.init_from)
        else:
            self._fresh()
        if self.cfg.batch_size % self.ranks.world_size:
            raise ValueError(f"--batch-size {self.cfg.batch_size} does not split evenly over "
                             f"{self.ranks.world_size} processes")
        x, y = streams(torch.tensor(self.vocab.encode(self.corpus.train)), self.cfg.batch_size)
        rows = self.ranks.rows(self.cfg.batch_size)
        # the whole (small) id streams live on the device: no host-to-device copy per step
        self.x, self.y = x[rows].to(self.device), y[rows].to(self.device)  # (B / world, L)
        self.val_ids = torch.tensor(self.vocab.encode(self.corpus.val)).to(self.device)
        self.model.to(self.device)
        self.net = self.model
        if self.ranks.distributed:
            from torch.nn.parallel import DistributedDataParallel
            self.net = DistributedDataParallel(self.model, device_ids=[self.device.index]
                                               if self.device.type == "cuda" else None)

    def _fresh(self) -> None:
        self.cfg = cfg = with_auto_settings(self.cfg, len(self.corpus.train), self.device.type)
        torch.manual_seed(cfg.seed)
        self.vocab = Vocab.from_text(self.corpus.train)
        config = CharRNNConfig(len(self.vocab), cfg.cell, cfg.n_layer, cfg.hidden_size, cfg.dropout, cfg.forget_bias)
        if n_params(config) > MAX_PARAMS:  # its checkpoint could not be loaded
            raise ValueError(f"{cfg.n_layer} x {cfg.hidden_size} {cfg.cell} over {len(self.vocab)} symbols has "
                             f"{n_params(config):,} parameters; checkpoints hold at most {MAX_PARAMS:,}")
        self.model = CharRNN(config)
        self.opt = self._optimizer()
        torch.manual_seed(cfg.seed + self.ranks.rank)  # each rank its own dropout masks; rank 0 as one process

    def _optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)

    def _resume(self) -> None:
        if not (self.out / "config.json").exists():
            raise CheckpointError(f"--resume: {self.out} holds no checkpoint to resume")
        ckpt = load_checkpoint(self.out)
        ts = load_train_state(self.out)
        saved_world = ts.rng.size(0) if ts.rng.dim() == 2 else 1  # one RNG state per process
        if saved_world != self.ranks.world_size:
            how = f"torchrun --nproc_per_node={saved_world} -m core.charlm.train ..." if saved_world > 1 \
                else "python -m core.charlm.train ... (without torchrun)"
            raise CheckpointError(f"--resume: {self.out} was trained by {saved_world} process(es), this run has "
                                  f"{self.ranks.world_size}; an exact resume needs the same number: {how}")
        try:
            saved = TrainConfig(**{**ts.config, "resume": True})
        except TypeError as e:
            raise CheckpointError(f"train_state.json holds a training config this version cannot read: {e}") from None
        # the model and data knobs come from the checkpoint; the budget and device from this call
        self.cfg = TrainConfig(**{**asdict(saved), "max_steps": self.cfg.max_steps,
                                  "max_minutes": self.cfg.max_minutes, "device": self.cfg.device})
        self.vocab, self.model = ckpt.vocab, ckpt.model.train().to(self.device)
        self.opt = self._optimizer()
        self.opt.load_state_dict(ts.optimizer)
        self.step, self.pos, self.epoch, self.elapsed = ts.step, ts.pos, ts.epoch, ts.elapsed
        torch.set_rng_state((ts.rng[self.ranks.rank] if saved_world > 1 else ts.rng).clone())
        rows = self.ranks.rows(self.cfg.batch_size)
        self.state = _map_hidden(ts.hidden, lambda t: t[:, rows].contiguous().to(self.device))  # (L, B / world, H)
        self.base_step, self.base_elapsed = ts.base_step, ts.base_elapsed
        self._continue_history(ckpt)
        saved_hash, now_hash = ckpt.card.get("manifest_sha256"), corpus_sha256(self.corpus)
        if saved_hash and saved_hash != now_hash:
            raise CheckpointError(
                f"--resume: the corpus {self.cfg.corpus} has changed since {self.out} was saved (sha256 "
                f"{saved_hash[:12]}... then, {now_hash[:12]}... now); resuming would go on over a different "
                f"text. Restore the text, or fine-tune on the new one with --init-from {self.out} --out NEW_DIR.")

    def _init_from(self, path: str) -> None:
        parent = load_checkpoint(path)
        m = parent.config
        self.cfg = with_auto_settings(replace(self.cfg, cell=m.cell, n_layer=m.n_layer, hidden_size=m.hidden_size,
                                              forget_bias=m.forget_bias), len(self.corpus.train), self.device.type)
        torch.manual_seed(self.cfg.seed)
        self.vocab = parent.vocab
        self.model = CharRNN(replace(m, dropout=self.cfg.dropout))
        self.model.load_state_dict(parent.model.state_dict())
        self.opt = self._optimizer()
        torch.manual_seed(self.cfg.seed + self.ranks.rank)
        self.step = self.base_step = int(parent.card.get("steps", 0))
        self.elapsed = self.base_elapsed = float(parent.card.get("train_seconds", 0.0))
        self._continue_history(parent)

    def _continue_history(self, ckpt: Checkpoint) -> None:
        """Carry a checkpoint's timeline, curve, commands and last train loss into this run."""
        self.timeline, self.curve = ckpt.samples.get("timeline", []), ckpt.samples.get("curve", [])
        self.commands = list(ckpt.card.get("commands") or [ckpt.card.get("command", "")]) + self.commands
        self.last_train_loss = ckpt.card.get("train_loss") or float("nan")

    # ---- the loop --------------------------------------------------------------------------------

    def progress(self) -> float:
        """How much of this run's budget (steps or minutes, whichever runs out first) is spent, 0..1+."""
        cfg = self.cfg
        by_steps = (self.step - self.base_step) / cfg.max_steps if cfg.max_steps else 0.0
        by_time = (self.elapsed - self.base_elapsed) / (60 * cfg.max_minutes) if cfg.max_minutes else 0.0
        return max(by_steps, by_time)

    def train_step(self) -> float:
        """One optimizer step on the next seq_len characters of every stream; returns the loss in nats."""
        cfg = self.cfg
        if self.pos + cfg.seq_len > self.x.size(1):  # next epoch: restart the streams
            self.pos, self.epoch, self.state = 0, self.epoch + 1, None
        x = self.x[:, self.pos:self.pos + cfg.seq_len]  # (B, T)
        y = self.y[:, self.pos:self.pos + cfg.seq_len]  # (B, T)
        for group in self.opt.param_groups:
            group["lr"] = lr_at(cfg, self.progress())
        with autocast(self.device, cfg.bf16):
            logits, state = self.net(x, self.state)  # (B, T, V)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))
        mean_loss = self.ranks.mean(loss.detach())  # over all processes' streams
        if not torch.isfinite(mean_loss):
            kept = f"the last good checkpoint (step {self.last_saved_step}) is kept in {self.out}" \
                if self.last_saved_step is not None else "no checkpoint was written yet"
            raise TrainingError(f"the loss became {mean_loss.item()} at step {self.step + 1}; {kept}. "
                                f"Try a lower --lr or --grad-clip.")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()  # DistributedDataParallel averages the gradients over the processes here
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.opt.step()
        self.state = detach(state)
        self.pos += cfg.seq_len
        self.step += 1
        return mean_loss.item()

    def validate(self, full: bool = False) -> float:
        """Validation loss in nats: on the first eval_chars characters, or on all of them."""
        ids = self.val_ids if full else self.val_ids[:self.cfg.eval_chars]
        return evaluate_loss(self.model, ids, bf16=self.cfg.bf16)

    def sample(self) -> str:
        """A seeded sample of SAMPLE_CHARS characters at temperature 0.8."""
        self.model.eval()
        text = sample_batch(self.model, self.vocab, "", SAMPLE_CHARS, [0.8], seed=self.cfg.seed)[0]
        self.model.train()
        return text

    def _go_on(self, should_stop: Callable[[], bool]) -> bool:
        """Whether to take another step: rank 0 decides (its clock and should_stop), every rank follows."""
        stop = self.ranks.is_main and should_stop()
        self.elapsed, stop = self.ranks.from_main([self.elapsed, float(stop)], self.device)
        return self.progress() < 1.0 and not stop

    def probe(self) -> dict:
        """Cells emerging: the best cell's score per core.lens.emergence signal on the first PROBE_CHARS of val."""
        self.model.eval()
        with torch.random.fork_rng(devices=[]):  # the run's random stream stays as if there were no probe
            scores = probe_scores(self.model, self.vocab, self.corpus.val[:PROBE_CHARS])
        self.model.train()
        return probe_record(scores)

    def run(self, on_event: Callable[[TrainEvent], None], should_stop: Callable[[], bool]) -> Path:
        """Train until the budget is spent or should_stop(); keep the best model, validate it on all of val,
        save, return the path. Only rank 0 sends events."""
        try:
            with self._holding_lock():
                return self._run(on_event, should_stop)
        finally:
            if self.lock is not None:
                self.lock.release()

    def _holding_lock(self):
        """The output directory's lock, held by rank 0 (the only writer); a no-op on the other ranks."""
        return self.lock.holding() if self.lock is not None else nullcontext()

    def _run(self, on_event: Callable[[TrainEvent], None], should_stop: Callable[[], bool]) -> Path:
        cfg, main = self.cfg, self.ranks.is_main
        on_event = on_event if main else (lambda event: None)
        self.model.train()
        speed = Throughput()
        on_event(StartEvent(list(self.curve)))
        train_loss = self.last_train_loss  # a run with no step left to take reports the checkpoint's
        if cfg.resume:  # what this run starts from is the best it knows
            self._consider(self.validate() if main else None, train_loss)
        while self._go_on(should_stop):
            # step: one optimizer step, timed (only training time counts against the budget)
            t0 = time.perf_counter()
            train_loss = self.train_step()
            self.elapsed += time.perf_counter() - t0
            tokens_per_s = speed.add(cfg.batch_size * cfg.seq_len)
            on_event(StepEvent(self.step, train_loss, tokens_per_s, self.opt.param_groups[0]["lr"],
                               min(self.progress(), 1.0)))
            # validate: a slice of val every eval_every steps and at the timeline's steps; keep the best state
            val_loss = None
            if self.step % cfg.eval_every == 0 or self.step in TIMELINE_STEPS:
                val_loss = self.validate() if main else None
                on_event(ValEvent(self.step, val_loss))
                self._consider(val_loss, train_loss)
            # curve: a point every 10 steps and at each validation
            if main and (self.step % 10 == 0 or val_loss is not None):
                self._add_to_curve(train_loss, val_loss, tokens_per_s, on_event)
            # samples: kept in the timeline at its steps; only shown every sample_every steps
            if main and self.step in TIMELINE_STEPS:
                text = self.sample()
                self.timeline.append(_timeline_entry(self.step, val_loss, text, self.probe()))
                on_event(SampleEvent(self.step, text))
            elif main and cfg.sample_every and self.step % cfg.sample_every == 0:
                on_event(SampleEvent(self.step, self.sample()))
            # checkpoint: every checkpoint_every steps, so a killed run resumes from there
            if self.step % cfg.checkpoint_every == 0:
                self.save(train_loss, val_loss if val_loss is not None or not main else self.validate())
                on_event(CheckpointEvent(str(self.out)))
        # finish: rewind to the best state, validate it on the whole split, write the final checkpoint
        train_loss = self._rewind_to_best(train_loss)
        val_loss = self.validate(full=True) if main else float("nan")
        if main and (not self.timeline or self.timeline[-1]["step"] != self.step):
            self.timeline.append(_timeline_entry(self.step, val_loss, self.sample(), self.probe()))
        if main:
            self._add_to_curve(train_loss, val_loss, None, on_event)
        on_event(ValEvent(self.step, val_loss))
        path = self.save(train_loss, val_loss)
        on_event(DoneEvent(str(path), val_loss))
        return path

    # ---- the best state --------------------------------------------------------------------------

    def _consider(self, val_loss: float | None, train_loss: float) -> None:
        """Keep a copy of the training state when val_loss (rank 0's) is the best interval loss so far."""
        better = self.ranks.is_main and (self.best is None or val_loss < self.best.val_loss)
        if self.ranks.from_main([float(better)], self.device)[0]:
            self.best = Snapshot(val_loss, train_loss, self.step, self.pos, self.epoch, self.elapsed,
                                 copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.opt.state_dict()),
                                 torch.get_rng_state(), _map_hidden(self.state, torch.clone))

    def _rewind_to_best(self, train_loss: float) -> float:
        """Go back to the best state when the last one validates worse; returns the kept state's train loss."""
        main, best = self.ranks.is_main, self.best
        worse = False
        if best is not None and best.step != self.step:
            worse = main and best.val_loss < self.validate()
        if not self.ranks.from_main([float(worse)], self.device)[0]:
            return train_loss
        self.trained_steps = self.step
        self.model.load_state_dict(best.model)
        self.opt.load_state_dict(best.optimizer)
        torch.set_rng_state(best.rng)
        self.state = best.hidden
        self.step, self.pos, self.epoch, self.elapsed = best.step, best.pos, best.epoch, best.elapsed
        self.curve = [p for p in self.curve if p["step"] <= best.step]  # the history of the kept model
        self.timeline = [t for t in self.timeline if t["step"] <= best.step]
        return best.train_loss

    def _add_to_curve(self, train_loss: float, val_loss: float | None, tokens_per_s: float | None,
                      on_event: Callable[[TrainEvent], None]) -> None:
        point = {"step": self.step, "train_loss": _rounded(train_loss),
                 "val_loss": None if val_loss is None else round(val_loss, 4),
                 "tokens_per_s": None if tokens_per_s is None else round(tokens_per_s)}
        self.curve.append(point)
        on_event(CurveEvent(dict(point)))

    # ---- checkpoints -----------------------------------------------------------------------------

    def card(self, train_loss: float, val_loss: float) -> dict:
        cfg, m = self.cfg, self.model.config
        processes = f", {self.ranks.world_size} processes" if self.ranks.distributed else ""
        return {
            "name": self.out.name, "corpus": self.corpus.name,
            "manifest_sha256": corpus_sha256(self.corpus),
            "cell": m.cell, "n_layer": m.n_layer, "hidden_size": m.hidden_size, "vocab_size": m.vocab_size,
            "n_params": self.model.n_params(), "steps": self.step,
            **({"trained_steps": self.trained_steps} if self.trained_steps else {}),
            "tokens_seen": self.step * cfg.batch_size * cfg.seq_len, "epochs": round(
                self.step * cfg.seq_len / self.x.size(1), 2),
            "train_loss": _rounded(train_loss), "val_loss": round(val_loss, 4),
            "train_bpc": _rounded(train_loss / LN2), "val_bpc": round(val_loss / LN2, 4),
            "train_seconds": round(self.elapsed, 1),
            "device": describe(self.device) + processes,
            "hardware": f"{describe(self.device)}{processes}, torch {torch.__version__}"
                        f"{', bf16 autocast' if cfg.bf16 and bf16_supported(self.device) else ''}",
            "command": self.commands[-1], "commands": self.commands,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "train_config": asdict(cfg),
        }

    def save(self, train_loss: float, val_loss: float) -> Path:
        """Write the checkpoint (rank 0), with every rank's carried state and RNG state for --resume."""
        hidden = _map_hidden(self.state, lambda t: self.ranks.gather(t, dim=1).cpu())  # (L, B, H)
        rng = torch.get_rng_state()
        if self.ranks.distributed:  # one row per process
            rng = self.ranks.gather(rng.to(self.device).unsqueeze(0)).cpu()  # (world, N)
        if self.ranks.is_main:
            model = self.model if self.device.type == "cpu" else copy.deepcopy(self.model).cpu()
            train_state = TrainState(_to_cpu(self.opt.state_dict()), rng, hidden, self.step, self.pos, self.epoch,
                                     self.elapsed, self.base_step, self.base_elapsed, asdict(self.cfg))
            samples = {"timeline": self.timeline, "curve": self.curve}
            with self._holding_lock():
                save_checkpoint(self.out, model, self.vocab, self.card(train_loss, val_loss), samples, train_state)
        self.last_saved_step = self.step
        return self.out


def resume_config(cfg: TrainConfig, more_minutes: float) -> TrainConfig:
    """cfg set to resume its checkpoint for `more_minutes` more minutes of training (time already spent, and
    time carried over from a fine-tuned parent, do not count against them)."""
    spent = load_train_state(Path(cfg.out)).spent_minutes  # what Trainer.progress counts
    return replace(cfg, resume=True, max_steps=None, max_minutes=spent + more_minutes)


def train(cfg: TrainConfig, on_event: Callable[[TrainEvent], None] | None = None,
          should_stop: Callable[[], bool] | None = None, command: str = "", ranks: Ranks | None = None) -> Path:
    """Train (or resume) a model as configured, as one process or as one of torchrun's; returns the
    checkpoint directory."""
    ranks = ranks or Ranks()
    try:
        trainer = Trainer(cfg, command, ranks)
        return trainer.run(on_event or (lambda event: None), should_stop or (lambda: False))
    finally:
        ranks.leave()


def cli_parser() -> argparse.ArgumentParser:
    """The command line of `python -m core.charlm.train`: every TrainConfig field, and --threads."""
    p = argparse.ArgumentParser(prog="python -m core.charlm.train", description=__doc__.splitlines()[0])
    add_config_args(p, TrainConfig, help=CLI_HELP)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    return p


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes}:{seconds:02d}"


class ProgressLine:
    """The CLI's progress bar: percent of the budget, steps/s, characters/s, the loss and the time left."""

    def __init__(self, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(total=100, bar_format="{percentage:3.0f}%|{bar}| {desc}", dynamic_ncols=True,
                        disable=not enabled)
        self.enabled = enabled  # (tqdm's own flag turns on when the bar closes)
        self.first = None  # (step, wall clock, progress) at the first step event

    def show(self, event: TrainEvent) -> None:
        """Update the bar for a step; print validations and the saved checkpoint."""
        if isinstance(event, StepEvent):
            now = time.perf_counter()
            self.first = self.first or (event.step, now, event.progress)
            step0, t0, p0 = self.first
            rate = (event.step - step0) / (now - t0) if now > t0 else 0.0
            left = _clock((now - t0) * (1 - event.progress) / (event.progress - p0)) if event.progress > p0 else "?"
            self.bar.n = 100 * event.progress
            self.bar.set_description_str(f"step {event.step:,} · {rate:.2f} steps/s · {event.tokens_per_s:,.0f} "
                                         f"chars/s · loss {event.train_loss:.3f} · ETA {left}", refresh=False)
            self.bar.refresh()
        elif isinstance(event, ValEvent):
            self.bar.write(f"step {event.step}: val {event.val_loss:.4f} nats = {event.val_bpc:.4f} bpc")
        elif isinstance(event, DoneEvent):
            self.close()
            if self.enabled:
                print(f"saved {event.path}: val nats={event.val_loss:.4f} bpc={event.val_bpc:.4f}")

    def close(self) -> None:
        self.bar.close()


def main(argv: list[str] | None = None) -> int:
    args = vars(cli_parser().parse_args(argv))
    threads = args.pop("threads")
    if threads:
        torch.set_num_threads(threads)
    if args["max_steps"] == 0:
        args["max_steps"] = None
    if args["max_minutes"] == 0:
        args["max_minutes"] = None
    ranks = Ranks.from_env()
    line = ProgressLine(enabled=ranks.is_main)
    launcher = "python"
    if ranks.distributed:
        per_node = int(os.environ.get("LOCAL_WORLD_SIZE", ranks.world_size))
        nodes = f"--nnodes={ranks.world_size // per_node} " if per_node < ranks.world_size else ""
        launcher = f"torchrun {nodes}--nproc_per_node={per_node}"
    command = f"{launcher} -m core.charlm.train " + " ".join(argv or sys.argv[1:])
    try:
        train(config_from_args(TrainConfig, args), line.show, command=command, ranks=ranks)
    except (ValueError, CorpusError, CheckpointError, TrainingError) as e:
        line.close()
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        line.close()
        print("interrupted; resume from the last checkpoint with --resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
