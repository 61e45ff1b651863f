"""Train a character-level RNN / GRU / LSTM language model (char-rnn) with truncated BPTT.

`python -m core.train --corpus shakespeare --cell lstm --n-layer 2 --hidden-size 512 --out runs/shakespeare`

The training text is cut into `batch_size` contiguous streams; each step reads the next `seq_len`
characters of every stream and carries the hidden state across chunks (detached). Adam, gradient-norm
clipping, cosine learning-rate decay; validation loss in nats and bits per character; atomic checkpoints
that `--resume` continues exactly (model, optimizer, step, data position, RNG); a timeline of samples.

`--init-from DIR` fine-tunes an existing checkpoint (char-rnn's -init_from): its architecture, vocabulary
(characters it never saw read as unknown), weights, step count and timeline carry over, with a fresh
optimizer and this call's dropout, learning rate and budget, e.g. to add dropout to an over-fitting model
or to adapt a model to a user's own text.
"""
import argparse
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from core.checkpoint import (Checkpoint, CheckpointError, TrainState, load_checkpoint, load_train_state,
                             save_checkpoint)
from core.cli import add_config_args, config_from_args
from core.corpus import Corpus, CorpusError, load_corpus
from core.emergence import probe_record, probe_scores
from core.evaluate import evaluate_loss, streams
from core.model import CharRNN, CharRNNConfig
from core.recurrent import detach
from core.sample import sample_batch
from core.train_events import (LN2, CheckpointEvent, CurveEvent, DoneEvent, SampleEvent, StartEvent, StepEvent,
                               TrainEvent, ValEvent)
from core.vocab import Vocab

PROBE_CHARS = 2_000  # probe text for the cells-emerging scores at each timeline step (2 x 384: 5 s on a busy
#                     2-core machine; outside the timed training budget, at most 15 entries a run)
TIMELINE_STEPS = (100, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000, 7000, 10000, 15000, 20000, 30000)
SAMPLE_CHARS = 300
CLI_HELP = {"corpus": "shakespeare | austen | linux | latex, or a UTF-8 text file",
            "out": "checkpoint directory to write", "bf16": "train in float32",
            "resume": "continue the checkpoint in --out", "max_steps": "0 or none: no step limit",
            "max_minutes": "0 or none: no time limit"}


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss diverged); the message says what was kept and what to try."""


@dataclass
class TrainConfig:
    corpus: str
    out: str
    cell: str = "lstm"
    n_layer: int = 2
    hidden_size: int = 256
    dropout: float = 0.0
    # LSTM forget-gate bias at init; None keeps torch's init. Measured on 5-minute shakespeare runs (seed 1337,
    # 2 x 128 and 2 x 256): 1.0 did not help (2 x 128, val at step 250: 2.091 vs 2.080 nats), so None stays.
    forget_bias: float | None = None
    batch_size: int = 64
    seq_len: int = 128
    lr: float = 4e-3
    lr_min_ratio: float = 0.1  # cosine decay ends at lr * lr_min_ratio
    grad_clip: float = 1.0
    max_steps: int | None = None
    max_minutes: float | None = 5.0
    seed: int = 1337
    eval_every: int = 250
    eval_chars: int = 60_000  # validation characters per interval check (the final check uses all)
    checkpoint_every: int = 500
    sample_every: int = 0  # also report a fresh sample every N steps (0: only at the timeline steps)
    bf16: bool = True  # bfloat16 autocast: fast on CPUs with AMX / AVX-512-BF16
    init_from: str = ""  # checkpoint directory to fine-tune (architecture and vocabulary come from it)
    resume: bool = False

    def __post_init__(self):
        if self.max_steps is None and self.max_minutes is None:
            raise ValueError("give --max-steps or --max-minutes (or both)")
        for name in ("batch_size", "seq_len", "eval_every", "checkpoint_every", "eval_chars"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if not (self.lr > 0 and self.grad_clip > 0):
            raise ValueError("lr and grad_clip must be positive")
        CharRNNConfig(2, self.cell, self.n_layer, self.hidden_size, self.dropout)  # validates the model knobs


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


class Trainer:
    """One training run: holds the model, optimizer, data streams and the run's history."""

    def __init__(self, cfg: TrainConfig, command: str = ""):
        self.cfg = cfg
        self.commands = [command]  # every invocation that trained this model, oldest first
        self.out = Path(cfg.out)
        self.corpus: Corpus = load_corpus(cfg.corpus)
        self.step, self.pos, self.epoch, self.elapsed = 0, 0, 0, 0.0
        self.state = None  # the hidden state carried across chunks
        self.timeline: list[dict] = []  # samples.json "timeline": a sample at each of TIMELINE_STEPS
        self.curve: list[dict] = []  # samples.json "curve": the one loss curve of this model
        self.base_step, self.base_elapsed = 0, 0.0  # where this run's budget starts (fine-tuning)
        self.last_train_loss = float("nan")
        self.last_saved_step: int | None = None
        # the model, vocabulary and optimizer come from one of three places
        if cfg.resume:
            self._resume()
        elif cfg.init_from:
            self._init_from(cfg.init_from)
        else:
            self._fresh()
        self.x, self.y = streams(torch.tensor(self.vocab.encode(self.corpus.train)), self.cfg.batch_size)
        self.val_ids = torch.tensor(self.vocab.encode(self.corpus.val))

    def _fresh(self) -> None:
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        self.vocab = Vocab.from_text(self.corpus.train)
        self.model = CharRNN(CharRNNConfig(len(self.vocab), cfg.cell, cfg.n_layer, cfg.hidden_size, cfg.dropout,
                                           cfg.forget_bias))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)

    def _resume(self) -> None:
        if not (self.out / "config.json").exists():
            raise CheckpointError(f"--resume: {self.out} holds no checkpoint to resume")
        ckpt = load_checkpoint(self.out)
        ts = load_train_state(self.out)
        saved = TrainConfig(**{**ts.config, "resume": True})
        # the model and data knobs come from the checkpoint; the budget from this call
        self.cfg = TrainConfig(**{**asdict(saved), "max_steps": self.cfg.max_steps,
                                  "max_minutes": self.cfg.max_minutes})
        self.vocab, self.model = ckpt.vocab, ckpt.model.train()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)
        self.opt.load_state_dict(ts.optimizer)
        self.step, self.pos, self.epoch, self.elapsed = ts.step, ts.pos, ts.epoch, ts.elapsed
        torch.set_rng_state(ts.rng)
        self.state = ts.hidden
        self.base_step, self.base_elapsed = ts.base_step, ts.base_elapsed
        self._continue_history(ckpt)

    def _init_from(self, path: str) -> None:
        parent = load_checkpoint(path)
        m = parent.config
        self.cfg = replace(self.cfg, cell=m.cell, n_layer=m.n_layer, hidden_size=m.hidden_size,
                           forget_bias=m.forget_bias)
        torch.manual_seed(self.cfg.seed)
        self.vocab = parent.vocab
        self.model = CharRNN(replace(m, dropout=self.cfg.dropout))
        self.model.load_state_dict(parent.model.state_dict())
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)
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
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            logits, state = self.model(x, self.state)  # (B, T, V)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))
        if not torch.isfinite(loss):
            kept = f"the last good checkpoint (step {self.last_saved_step}) is kept in {self.out}" \
                if self.last_saved_step is not None else "no checkpoint was written yet"
            raise TrainingError(f"the loss became {loss.item()} at step {self.step + 1}; {kept}. "
                                f"Try a lower --lr or --grad-clip.")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.opt.step()
        self.state = detach(state)
        self.pos += cfg.seq_len
        self.step += 1
        return loss.item()

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

    def probe(self) -> dict:
        """Cells emerging: the best cell's score per core.emergence signal on the first PROBE_CHARS of val."""
        self.model.eval()
        with torch.random.fork_rng(devices=[]):  # the run's random stream stays as if there were no probe
            scores = probe_scores(self.model, self.vocab, self.corpus.val[:PROBE_CHARS])
        self.model.train()
        return probe_record(scores)

    def run(self, on_event: Callable[[TrainEvent], None], should_stop: Callable[[], bool]) -> Path:
        """Train until the budget is spent or should_stop(); validate on all of val, save, return the path."""
        cfg = self.cfg
        self.model.train()
        speed = Throughput()
        on_event(StartEvent(list(self.curve)))
        train_loss = self.last_train_loss  # a run with no step left to take reports the checkpoint's
        while self.progress() < 1.0 and not should_stop():
            # step: one optimizer step, timed (only training time counts against the budget)
            t0 = time.perf_counter()
            train_loss = self.train_step()
            self.elapsed += time.perf_counter() - t0
            tokens_per_s = speed.add(cfg.batch_size * cfg.seq_len)
            on_event(StepEvent(self.step, train_loss, tokens_per_s, self.opt.param_groups[0]["lr"],
                               min(self.progress(), 1.0)))
            # validate: a slice of val every eval_every steps and at the timeline's steps
            val_loss = None
            if self.step % cfg.eval_every == 0 or self.step in TIMELINE_STEPS:
                val_loss = self.validate()
                on_event(ValEvent(self.step, val_loss))
            # curve: a point every 10 steps and at each validation
            if self.step % 10 == 0 or val_loss is not None:
                self._add_to_curve(train_loss, val_loss, tokens_per_s, on_event)
            # samples: kept in the timeline at its steps; only shown every sample_every steps
            if self.step in TIMELINE_STEPS:
                text = self.sample()
                self.timeline.append(_timeline_entry(self.step, val_loss, text, self.probe()))
                on_event(SampleEvent(self.step, text))
            elif cfg.sample_every and self.step % cfg.sample_every == 0:
                on_event(SampleEvent(self.step, self.sample()))
            # checkpoint: every checkpoint_every steps, so a killed run resumes from there
            if self.step % cfg.checkpoint_every == 0:
                self.save(train_loss, val_loss if val_loss is not None else self.validate())
                on_event(CheckpointEvent(str(self.out)))
        # finish: the whole validation split, the last timeline entry and curve point, the final checkpoint
        val_loss = self.validate(full=True)
        if not self.timeline or self.timeline[-1]["step"] != self.step:
            self.timeline.append(_timeline_entry(self.step, val_loss, self.sample(), self.probe()))
        self._add_to_curve(train_loss, val_loss, None, on_event)
        on_event(ValEvent(self.step, val_loss))
        path = self.save(train_loss, val_loss)
        on_event(DoneEvent(str(path), val_loss))
        return path

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
        return {
            "name": self.out.name, "corpus": self.corpus.name,
            "manifest_sha256": self.corpus.manifest.get("files", {}).get("train.txt", {}).get("sha256")
            or self.corpus.manifest["source"]["sha256"],
            "cell": m.cell, "n_layer": m.n_layer, "hidden_size": m.hidden_size, "vocab_size": m.vocab_size,
            "n_params": self.model.n_params(), "steps": self.step,
            "tokens_seen": self.step * cfg.batch_size * cfg.seq_len, "epochs": round(
                self.step * cfg.seq_len / self.x.size(1), 2),
            "train_loss": _rounded(train_loss), "val_loss": round(val_loss, 4),
            "train_bpc": _rounded(train_loss / LN2), "val_bpc": round(val_loss / LN2, 4),
            "train_seconds": round(self.elapsed, 1),
            "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
                        f"torch {torch.__version__}{', bf16 autocast' if cfg.bf16 else ''}",
            "command": self.commands[-1], "commands": self.commands,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "train_config": asdict(cfg),
        }

    def save(self, train_loss: float, val_loss: float) -> Path:
        train_state = TrainState(self.opt.state_dict(), torch.get_rng_state(), self.state, self.step, self.pos,
                                 self.epoch, self.elapsed, self.base_step, self.base_elapsed, asdict(self.cfg))
        samples = {"timeline": self.timeline, "curve": self.curve}
        save_checkpoint(self.out, self.model, self.vocab, self.card(train_loss, val_loss), samples, train_state)
        self.last_saved_step = self.step
        return self.out


def resume_config(cfg: TrainConfig, more_minutes: float) -> TrainConfig:
    """cfg set to resume its checkpoint for `more_minutes` more minutes of training (time already spent, and
    time carried over from a fine-tuned parent, do not count against them)."""
    spent = load_train_state(Path(cfg.out)).spent_minutes  # what Trainer.progress counts
    return replace(cfg, resume=True, max_steps=None, max_minutes=spent + more_minutes)


def train(cfg: TrainConfig, on_event: Callable[[TrainEvent], None] | None = None,
          should_stop: Callable[[], bool] | None = None, command: str = "") -> Path:
    """Train (or resume) a model as configured; returns the checkpoint directory."""
    trainer = Trainer(cfg, command)
    return trainer.run(on_event or (lambda event: None), should_stop or (lambda: False))


def cli_parser() -> argparse.ArgumentParser:
    """The command line of `python -m core.train`: every TrainConfig field, and --threads."""
    p = argparse.ArgumentParser(prog="python -m core.train", description=__doc__.splitlines()[0])
    add_config_args(p, TrainConfig, help=CLI_HELP)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    return p


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    args = vars(cli_parser().parse_args(argv))
    threads = args.pop("threads")
    if threads:
        torch.set_num_threads(threads)
    if args["max_steps"] == 0:
        args["max_steps"] = None
    if args["max_minutes"] == 0:
        args["max_minutes"] = None
    bar = tqdm(total=1000, unit="‰", dynamic_ncols=True)

    def show(event: TrainEvent) -> None:
        if isinstance(event, StepEvent):
            bar.n = int(1000 * event.progress)
            bar.set_postfix(step=event.step, loss=f"{event.train_loss:.3f}", tok_s=f"{event.tokens_per_s:.0f}",
                            refresh=False)
            bar.refresh()
        elif isinstance(event, ValEvent):
            bar.write(f"step {event.step}: val {event.val_loss:.4f} nats = {event.val_bpc:.4f} bpc")
        elif isinstance(event, DoneEvent):
            bar.close()
            print(f"saved {event.path}: val nats={event.val_loss:.4f} bpc={event.val_bpc:.4f}")

    try:
        train(config_from_args(TrainConfig, args), show, command="python -m core.train " + " ".join(argv or sys.argv[1:]))
    except (ValueError, CorpusError, CheckpointError, TrainingError) as e:
        bar.close()
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        bar.close()
        print("interrupted; resume from the last checkpoint with --resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
