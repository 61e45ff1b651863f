"""Train a character-level RNN / GRU / LSTM language model (char-rnn) with truncated BPTT.

The training text is cut into `batch_size` contiguous streams; each step reads the next `seq_len` characters of
every stream and carries the hidden state across chunks (detached). The run is core.common.loop's: Adam,
gradient-norm clipping, cosine learning-rate decay, the state with the best interval validation loss kept (as
nanoGPT does). The checkpoint is written atomically every `checkpoint_every` steps and at the end, and a resume
continues it exactly (model, optimizer, step, data position, RNG); its card reports the loss on the whole
validation split, its timeline a sample (and the optional probe's scores) at each of TIMELINE_STEPS.

A run starts from a fresh model, from the checkpoint in `out` (`resume`) or from another one to fine-tune
(`init_from`): core.charlm.start. Under torchrun each process trains its share of the streams
(core.common.distributed); rank 0 validates, samples and writes. The command line is core.cli.train.
"""
import copy
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from core.charlm.card import TIMELINE_STEPS, make_card, rounded, timeline_entry
from core.charlm.checkpoint import TrainState, claim_output, save_checkpoint
from core.charlm.corpus import Corpus, load_corpus
from core.charlm.evaluate import evaluate_loss, streams
from core.charlm.model import CharRNN
from core.charlm.recurrent import detach, map_state
from core.charlm.sample import sample_batch
from core.charlm.settings import TrainConfig
from core.charlm.start import start
from core.charlm.vocab import Vocab
from core.common.device import autocast, resolve_device
from core.common.distributed import Ranks
from core.common.events import (
    CheckpointEvent,
    CurveEvent,
    DoneEvent,
    SampleEvent,
    StartEvent,
    TrainEvent,
    ValEvent,
)
from core.common.loop import Loop, LoopConfig, Task

SAMPLE_CHARS = 300
Probe = Callable[[CharRNN, Vocab, str], dict]  # (model, vocab, validation text) -> scores for a timeline entry


def _to_cpu(tree):
    """A nest of dicts / lists / tuples with every tensor moved to the CPU."""
    if isinstance(tree, torch.Tensor):
        return tree.cpu()
    if isinstance(tree, dict):
        return {k: _to_cpu(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to_cpu(v) for v in tree)
    return tree


class Trainer(Task):
    """One training run: the model, its optimizer and data streams, the loop and the run's history.

    Under torchrun each process holds a Trainer over its share of the streams (`ranks`); they agree on rank
    0's clock and decisions, and only rank 0 validates, samples and writes the checkpoint.
    """

    def __init__(self, cfg: TrainConfig, command: str = "", ranks: Ranks | None = None, probe: Probe | None = None):
        self.cfg, self.probe = cfg, probe
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

    # ---- the model, its data and its loop ------------------------------------------------------------

    def _prepare(self) -> None:
        self.corpus: Corpus = load_corpus(self.cfg.corpus)
        begin = start(self.cfg, self.corpus, self.device, self.ranks)  # a fresh, resumed or fine-tuned model
        self.cfg = cfg = begin.cfg
        self.vocab, self.model, self.opt = begin.vocab, begin.model, begin.opt
        self.pos, self.epoch = begin.pos, begin.epoch  # where the streams are read
        self.hidden = begin.hidden  # the hidden state carried across chunks (this rank's streams)
        self.timeline = begin.timeline  # samples.json "timeline": a sample at each of TIMELINE_STEPS
        self.curve = begin.curve  # samples.json "curve": the one loss curve of this model
        self.commands = begin.commands + self.commands
        self.settings_note = begin.settings_note
        self.last_saved_step: int | None = None
        self.emit: Callable[[TrainEvent], None] = lambda event: None
        if cfg.batch_size % self.ranks.world_size:
            raise ValueError(f"--batch-size {cfg.batch_size} does not split evenly over {self.ranks.world_size} "
                             f"processes")
        x, y = streams(torch.tensor(self.vocab.encode(self.corpus.train)), cfg.batch_size)
        rows = self.ranks.rows(cfg.batch_size)
        # the whole (small) id streams live on the device: no host-to-device copy per step
        self.x, self.y = x[rows].to(self.device), y[rows].to(self.device)  # (B / world, L)
        self.val_ids = torch.tensor(self.vocab.encode(self.corpus.val)).to(self.device)
        self.model.to(self.device)
        self.net = self.model
        if self.ranks.distributed:
            self.net = DistributedDataParallel(self.model, device_ids=[self.device.index]
                                               if self.device.type == "cuda" else None)
        self.loop = loop = Loop(LoopConfig(cfg.lr, cfg.max_steps, cfg.max_minutes, cfg.eval_every, cfg.grad_clip,
                                           cfg.warmup_steps, cfg.lr_min_ratio, eval_at=TIMELINE_STEPS),
                                self.model, self.opt, self.device, self.ranks)
        loop.step, loop.base_step, loop.elapsed, loop.base_elapsed = (begin.step, begin.base_step, begin.elapsed,
                                                                      begin.base_elapsed)
        loop.train_loss = begin.train_loss

    # ---- what the loop asks of the model -------------------------------------------------------------

    def loss(self) -> torch.Tensor:
        """The loss (nats) on the next seq_len characters of every stream; the carried state moves on."""
        cfg = self.cfg
        if self.pos + cfg.seq_len > self.x.size(1):  # next epoch: restart the streams
            self.pos, self.epoch, self.hidden = 0, self.epoch + 1, None
        x = self.x[:, self.pos:self.pos + cfg.seq_len]  # (B, T)
        y = self.y[:, self.pos:self.pos + cfg.seq_len]  # (B, T)
        with autocast(self.device, cfg.bf16):
            logits, hidden = self.net(x, self.hidden)  # (B, T, V)
        self.hidden = detach(hidden)
        self.pos += cfg.seq_len
        return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))

    def validate(self, full: bool = False) -> float:
        """Validation loss in nats: on the first eval_chars characters, or on all of them."""
        ids = self.val_ids if full else self.val_ids[:self.cfg.eval_chars]
        return evaluate_loss(self.model, ids, bf16=self.cfg.bf16)

    def kept(self) -> str:
        """The last checkpoint written, for the message of a diverged run."""
        if self.last_saved_step is None:
            return "no checkpoint was written yet"
        return f"the last good checkpoint (step {self.last_saved_step}) is kept in {self.out}"

    def after_step(self, val: float | None) -> None:
        """The curve, the timeline's samples and the periodic checkpoint."""
        cfg, step, main = self.cfg, self.loop.step, self.ranks.is_main
        if main and (step % 10 == 0 or val is not None):  # a curve point every 10 steps and at each validation
            self._add_to_curve(val, self.loop.tokens_per_s)
        if main and step in TIMELINE_STEPS:
            text = self.sample()
            self.timeline.append(timeline_entry(step, val, text, self._probe()))
            self.emit(SampleEvent(step, text))
        elif main and cfg.sample_every and step % cfg.sample_every == 0:
            self.emit(SampleEvent(step, self.sample()))
        if step % cfg.checkpoint_every == 0:  # so a killed run resumes from here
            self.save(val if val is not None or not main else self.validate())
            self.emit(CheckpointEvent(str(self.out)))

    def state(self) -> tuple:
        """The data position and carried state, for the best-state copy."""
        return self.pos, self.epoch, map_state(self.hidden, torch.clone)

    def load_state(self, state: tuple) -> None:
        """Back to a copied position and carried state, with the curve and timeline of that step."""
        self.pos, self.epoch, self.hidden = state
        self.curve = [p for p in self.curve if p["step"] <= self.loop.step]  # the history of the kept model
        self.timeline = [t for t in self.timeline if t["step"] <= self.loop.step]

    def train_step(self) -> float:
        """One optimizer step; returns its loss in nats."""
        return self.loop.update(self)

    def sample(self) -> str:
        """A seeded sample of SAMPLE_CHARS characters at temperature 0.8."""
        self.model.eval()
        text = sample_batch(self.model, self.vocab, "", SAMPLE_CHARS, [0.8], seed=self.cfg.seed)[0]
        self.model.train()
        return text

    def _probe(self) -> dict | None:
        """The probe's scores for the model as it is now (None without a probe); the run's RNG is untouched."""
        if self.probe is None:
            return None
        self.model.eval()
        with torch.random.fork_rng(devices=[]):
            scores = self.probe(self.model, self.vocab, self.corpus.val)
        self.model.train()
        return scores

    def _add_to_curve(self, val_loss: float | None, tokens_per_s: float | None) -> None:
        point = {"step": self.loop.step, "train_loss": rounded(self.loop.train_loss),
                 "val_loss": None if val_loss is None else round(val_loss, 4),
                 "tokens_per_s": None if tokens_per_s is None else round(tokens_per_s)}
        self.curve.append(point)
        self.emit(CurveEvent(dict(point)))

    # ---- the run -------------------------------------------------------------------------------------

    def run(self, on_event: Callable[[TrainEvent], None], should_stop: Callable[[], bool]) -> Path:
        """Train until the budget is spent or should_stop(); keep the best model, validate it on all of val,
        save, return the path. Only rank 0 sends events."""
        try:
            with self._holding_lock():
                main = self.ranks.is_main
                self.emit = on_event if main else self.emit
                self.model.train()
                self.emit(StartEvent(list(self.curve), self.settings_note))
                self.loop.run(self, self.emit, should_stop, self.cfg.batch_size * self.cfg.seq_len,
                              validate_first=self.cfg.resume)
                # the kept model: validated on the whole split, sampled, saved
                step, val_loss = self.loop.step, self.validate(full=True) if main else float("nan")
                if main and (not self.timeline or self.timeline[-1]["step"] != step):
                    self.timeline.append(timeline_entry(step, val_loss, self.sample(), self._probe()))
                if main:
                    self._add_to_curve(val_loss, None)
                self.emit(ValEvent(step, val_loss))
                path = self.save(val_loss)
                self.emit(DoneEvent(str(path), val_loss))
                return path
        finally:
            if self.lock is not None:
                self.lock.release()

    def _holding_lock(self):
        """The output directory's lock, held by rank 0 (the only writer); a no-op on the other ranks."""
        return self.lock.holding() if self.lock is not None else nullcontext()

    # ---- the checkpoint ------------------------------------------------------------------------------

    def save(self, val_loss: float) -> Path:
        """Write the checkpoint (rank 0), with every rank's carried state and RNG state for --resume."""
        loop = self.loop
        hidden = map_state(self.hidden, lambda t: self.ranks.gather(t, dim=1).cpu())  # (L, B, H)
        rng = torch.get_rng_state()
        if self.ranks.distributed:  # one row per process
            rng = self.ranks.gather(rng.to(self.device).unsqueeze(0)).cpu()  # (world, N)
        if self.ranks.is_main:
            model = self.model if self.device.type == "cpu" else copy.deepcopy(self.model).cpu()
            train_state = TrainState(_to_cpu(self.opt.state_dict()), rng, hidden, loop.step, self.pos, self.epoch,
                                     loop.elapsed, loop.base_step, loop.base_elapsed, asdict(self.cfg))
            card = make_card(loop, self.cfg, self.model, self.corpus, self.commands, self.out.name, self.x.size(1),
                             val_loss, self.settings_note)
            with self._holding_lock():
                save_checkpoint(self.out, model, self.vocab, card, {"timeline": self.timeline, "curve": self.curve},
                                train_state)
        self.last_saved_step = loop.step
        return self.out


def train(cfg: TrainConfig, on_event: Callable[[TrainEvent], None] | None = None,
          should_stop: Callable[[], bool] | None = None, command: str = "", ranks: Ranks | None = None,
          probe: Probe | None = None) -> Path:
    """Train (or resume) a model as configured, as one process or as one of torchrun's; probe(model, vocab,
    val text) scores each timeline entry when given. Returns the checkpoint directory."""
    ranks = ranks or Ranks()
    try:
        trainer = Trainer(cfg, command, ranks, probe)
        return trainer.run(on_event or (lambda event: None), should_stop or (lambda: False))
    finally:
        ranks.leave()
