"""Train a character-level RNN / GRU / LSTM language model (char-rnn) with truncated BPTT.

The training text is cut into `batch_size` contiguous streams; each step reads the next `seq_len` characters of
every stream and carries the hidden state across chunks (detached). The run is core.common.loop's: Adam,
gradient-norm clipping, cosine learning-rate decay, the state with the best interval validation loss kept (as
nanoGPT does). The checkpoint is written atomically every `checkpoint_every` steps and at the end, and a resume
continues it exactly (model, optimizer, step, data position, RNG); its card reports the loss on the whole
validation split, its timeline a sample (and the optional probe's scores) at each of TIMELINE_STEPS.

A run starts from one of three places: a fresh model (knobs left unset are chosen by core.charlm.settings), the
checkpoint in `out` (`resume`), or another checkpoint to fine-tune (`init_from`, char-rnn's -init_from: its
architecture, vocabulary, weights, step count and timeline carry over, with a fresh optimizer and this run's
dropout, learning rate and budget). Under torchrun each process trains its share of the streams
(core.common.distributed); rank 0 validates, samples and writes. The command line is core.cli.train.
"""
import copy
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from core.charlm.card import (
    TIMELINE_STEPS,
    corpus_sha256,
    make_card,
    rounded,
    timeline_entry,
)
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
from core.charlm.corpus import Corpus, load_corpus
from core.charlm.evaluate import evaluate_loss, streams
from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.recurrent import detach
from core.charlm.sample import sample_batch
from core.charlm.settings import TrainConfig, with_auto_settings
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


def _map_hidden(hidden, fn):
    """fn applied to the carried h, or to both of (h, c); None stays None."""
    if hidden is None:
        return None
    return tuple(fn(t) for t in hidden) if isinstance(hidden, tuple) else fn(hidden)


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
        self.pos, self.epoch = 0, 0  # where the streams are read
        self.hidden = None  # the hidden state carried across chunks (this rank's streams)
        self.timeline: list[dict] = []  # samples.json "timeline": a sample at each of TIMELINE_STEPS
        self.curve: list[dict] = []  # samples.json "curve": the one loss curve of this model
        self.last_saved_step: int | None = None
        self.emit: Callable[[TrainEvent], None] = lambda event: None
        # the model, vocabulary and optimizer come from one of three places, with where the loop starts
        if self.cfg.resume:
            start = self._resume()
        elif self.cfg.init_from:
            start = self._init_from(self.cfg.init_from)
        else:
            start = self._fresh()
        cfg = self.cfg
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
        self.loop = Loop(LoopConfig(cfg.lr, cfg.max_steps, cfg.max_minutes, cfg.eval_every, cfg.grad_clip,
                                    cfg.warmup_steps, cfg.lr_min_ratio, eval_at=TIMELINE_STEPS),
                         self.model, self.opt, self.device, self.ranks)
        self.loop.step, self.loop.base_step, self.loop.elapsed, self.loop.base_elapsed, self.loop.train_loss = start

    def _fresh(self) -> tuple:
        self.cfg = cfg = with_auto_settings(self.cfg, len(self.corpus.train), self.device.type)
        torch.manual_seed(cfg.seed)
        self.vocab = Vocab.from_text(self.corpus.train)
        config = CharRNNConfig(len(self.vocab), cfg.cell, cfg.n_layer, cfg.hidden_size, cfg.dropout, cfg.forget_bias)
        if n_params(config) > MAX_PARAMS:  # its checkpoint could not be loaded
            raise ValueError(f"{cfg.n_layer} x {cfg.hidden_size} {cfg.cell} over {len(self.vocab)} symbols has "
                             f"{n_params(config):,} parameters; checkpoints hold at most {MAX_PARAMS:,}")
        self.model = CharRNN(config)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        torch.manual_seed(cfg.seed + self.ranks.rank)  # each rank its own dropout masks; rank 0 as one process
        return 0, 0, 0.0, 0.0, float("nan")

    def _resume(self) -> tuple:
        if not (self.out / "config.json").exists():
            raise CheckpointError(f"--resume: {self.out} holds no checkpoint to resume")
        ckpt = load_checkpoint(self.out)
        ts = load_train_state(self.out)
        saved_world = ts.rng.size(0) if ts.rng.dim() == 2 else 1  # one RNG state per process
        if saved_world != self.ranks.world_size:
            how = f"torchrun --nproc_per_node={saved_world} -m core.cli.train ..." if saved_world > 1 \
                else "python -m core.cli.train ... (without torchrun)"
            raise CheckpointError(f"--resume: {self.out} was trained by {saved_world} process(es), this run has "
                                  f"{self.ranks.world_size}; an exact resume needs the same number: {how}")
        try:
            saved = TrainConfig(**{**ts.config, "resume": True})
        except TypeError as e:
            raise CheckpointError(f"train_state.json holds a training config this version cannot read: {e}") from None
        # the model and data knobs come from the checkpoint; the budget and device from this call
        self.cfg = replace(saved, max_steps=self.cfg.max_steps, max_minutes=self.cfg.max_minutes,
                           device=self.cfg.device)
        self.vocab, self.model = ckpt.vocab, ckpt.model.train().to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)
        self.opt.load_state_dict(ts.optimizer)
        self.pos, self.epoch = ts.pos, ts.epoch
        torch.set_rng_state((ts.rng[self.ranks.rank] if saved_world > 1 else ts.rng).clone())
        rows = self.ranks.rows(self.cfg.batch_size)
        self.hidden = _map_hidden(ts.hidden, lambda t: t[:, rows].contiguous().to(self.device))  # (L, B / world, H)
        saved_hash, now_hash = ckpt.card.get("manifest_sha256"), corpus_sha256(self.corpus)
        if saved_hash and saved_hash != now_hash:
            raise CheckpointError(
                f"--resume: the corpus {self.cfg.corpus} has changed since {self.out} was saved (sha256 "
                f"{saved_hash[:12]}... then, {now_hash[:12]}... now); resuming would go on over a different "
                f"text. Restore the text, or fine-tune on the new one with --init-from {self.out} --out NEW_DIR.")
        return ts.step, ts.base_step, ts.elapsed, ts.base_elapsed, self._continue_history(ckpt)

    def _init_from(self, path: str) -> tuple:
        parent = load_checkpoint(path)
        m = parent.config
        self.cfg = with_auto_settings(replace(self.cfg, cell=m.cell, n_layer=m.n_layer, hidden_size=m.hidden_size,
                                              forget_bias=m.forget_bias), len(self.corpus.train), self.device.type)
        torch.manual_seed(self.cfg.seed)
        self.vocab = parent.vocab
        self.model = CharRNN(replace(m, dropout=self.cfg.dropout))
        self.model.load_state_dict(parent.model.state_dict())
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)
        torch.manual_seed(self.cfg.seed + self.ranks.rank)
        step, seconds = int(parent.card.get("steps", 0)), float(parent.card.get("train_seconds", 0.0))
        return step, step, seconds, seconds, self._continue_history(parent)

    def _continue_history(self, ckpt: Checkpoint) -> float:
        """Carry a checkpoint's timeline, curve and commands into this run; returns its last train loss."""
        self.timeline, self.curve = ckpt.samples.get("timeline", []), ckpt.samples.get("curve", [])
        self.commands = list(ckpt.card.get("commands") or [ckpt.card.get("command", "")]) + self.commands
        return ckpt.card.get("train_loss") or float("nan")

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
        return self.pos, self.epoch, _map_hidden(self.hidden, torch.clone)

    def load_state(self, state: tuple) -> None:
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
                 "val_loss": None if val_loss is None else round(val_loss, 4), "tokens_per_s": None if tokens_per_s is None else round(tokens_per_s)}
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
                self.emit(StartEvent(list(self.curve)))
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
        hidden = _map_hidden(self.hidden, lambda t: self.ranks.gather(t, dim=1).cpu())  # (L, B, H)
        rng = torch.get_rng_state()
        if self.ranks.distributed:  # one row per process
            rng = self.ranks.gather(rng.to(self.device).unsqueeze(0)).cpu()  # (world, N)
        if self.ranks.is_main:
            model = self.model if self.device.type == "cpu" else copy.deepcopy(self.model).cpu()
            train_state = TrainState(_to_cpu(self.opt.state_dict()), rng, hidden, loop.step, self.pos, self.epoch,
                                     loop.elapsed, loop.base_step, loop.base_elapsed, asdict(self.cfg))
            card = make_card(loop, self.cfg, self.model, self.corpus, self.commands, self.out.name, self.x.size(1),
                             val_loss)
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
