"""Where a character-model run starts: a fresh model, the checkpoint it resumes, or a checkpoint it fine-tunes.

A fresh run fills the knobs left unset (core.charlm.settings). `resume` takes the model, optimizer, step, data
position, carried state and RNG of the checkpoint in `out`, with this call's budget and device, and refuses a
different number of processes or a changed corpus. `init_from` (char-rnn's -init_from) takes another
checkpoint's architecture, vocabulary (characters it never saw read as unknown), weights, step count and history,
with a fresh optimizer and this call's dropout, learning rate and budget.
"""
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from core.charlm.card import corpus_sha256
from core.charlm.checkpoint import (
    MAX_PARAMS,
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    load_train_state,
    n_params,
)
from core.charlm.corpus import Corpus
from core.charlm.model import CharRNN, CharRNNConfig
from core.charlm.recurrent import map_state
from core.charlm.settings import (
    BASE_WIDTH,
    CPU_BATCH,
    CPU_SEQ_LEN,
    SMALL_TEXT,
    TrainConfig,
    reads_for_budget,
    with_auto_settings,
)
from core.charlm.speed import training_chars_per_second
from core.charlm.vocab import Vocab
from core.common.distributed import Ranks


@dataclass
class Start:
    """What a run starts from; step and elapsed are where its loop starts, base_* where its budget starts."""
    cfg: TrainConfig  # with every knob set
    vocab: Vocab
    model: CharRNN
    opt: torch.optim.Optimizer
    step: int = 0
    base_step: int = 0
    elapsed: float = 0.0
    base_elapsed: float = 0.0
    train_loss: float = math.nan  # the checkpoint's last, reported by a run with no step left to take
    pos: int = 0  # data position in the streams, and how many times they were read
    epoch: int = 0
    hidden: object = None  # this rank's carried state (L, B / world, H), or (h, c)
    timeline: list[dict] = field(default_factory=list)
    curve: list[dict] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # earlier invocations that trained this model
    settings_note: str = ""  # the auto choice of a fresh run and the estimate behind it (AutoChoice.why)


def start(cfg: TrainConfig, corpus: Corpus, device: torch.device, ranks: Ranks) -> Start:
    """The start of the run cfg asks for, on device, for this process (seeds torch's RNG as the run needs)."""
    if cfg.resume:
        return _resume(cfg, corpus, device, ranks)
    if cfg.init_from:
        return _init_from(cfg, corpus, device, ranks)
    return _fresh(cfg, corpus, device, ranks)


def _fresh(cfg: TrainConfig, corpus: Corpus, device: torch.device, ranks: Ranks) -> Start:
    vocab = Vocab.from_text(corpus.train)
    speed, reads_at = None, None
    if cfg.hidden_size is None:  # only a run that leaves its width to the auto choice is planned for its budget
        speed = _base_speed(cfg, len(corpus.train), len(vocab), device, ranks)
        reads_at = reads_for_budget(len(corpus.train), cfg.max_steps, cfg.max_minutes,
                                    (cfg.batch_size or CPU_BATCH) * (cfg.seq_len or CPU_SEQ_LEN), speed)
    cfg, choice = with_auto_settings(cfg, len(corpus.train), device.type, reads_at)
    choice = replace(choice, chars_per_second=speed)
    torch.manual_seed(cfg.seed)
    config = CharRNNConfig(len(vocab), cfg.cell, cfg.n_layer, cfg.hidden_size, cfg.dropout, cfg.forget_bias)
    if n_params(config) > MAX_PARAMS:  # its checkpoint could not be loaded
        raise ValueError(f"{cfg.n_layer} x {cfg.hidden_size} {cfg.cell} over {len(vocab)} symbols has "
                         f"{n_params(config):,} parameters; checkpoints hold at most {MAX_PARAMS:,}")
    model = CharRNN(config)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    torch.manual_seed(cfg.seed + ranks.rank)  # each rank its own dropout masks; rank 0 as one process
    return Start(cfg, vocab, model, opt, settings_note=choice.why(cfg))


def _base_speed(cfg: TrainConfig, train_chars: int, vocab_size: int, device: torch.device,
                ranks: Ranks) -> float | None:
    """The base width's measured training speed, where a CPU run's time budget chooses its model (one process, a
    text over SMALL_TEXT characters); None elsewhere."""
    if device.type != "cpu" or ranks.distributed or not cfg.max_minutes or train_chars < SMALL_TEXT:
        return None
    base = CharRNNConfig(vocab_size, cfg.cell, 2, BASE_WIDTH, 0.0, cfg.forget_bias)
    return training_chars_per_second(base, cfg.batch_size or CPU_BATCH, cfg.seq_len or CPU_SEQ_LEN, device, cfg.bf16)


def _resume(cfg: TrainConfig, corpus: Corpus, device: torch.device, ranks: Ranks) -> Start:
    out = Path(cfg.out)
    if not (out / "config.json").exists():
        raise CheckpointError(f"--resume: {out} holds no checkpoint to resume")
    ckpt = load_checkpoint(out)
    ts = load_train_state(out)
    saved_world = ts.rng.size(0) if ts.rng.dim() == 2 else 1  # one RNG state per process
    if saved_world != ranks.world_size:
        how = f"torchrun --nproc_per_node={saved_world} -m core.cli.train ..." if saved_world > 1 \
            else "python -m core.cli.train ... (without torchrun)"
        raise CheckpointError(f"--resume: {out} was trained by {saved_world} process(es), this run has "
                              f"{ranks.world_size}; an exact resume needs the same number: {how}")
    try:
        saved = TrainConfig(**{**ts.config, "resume": True})
    except TypeError as e:
        raise CheckpointError(f"train_state.json holds a training config this version cannot read: {e}") from None
    saved_hash, now_hash = ckpt.card.get("manifest_sha256"), corpus_sha256(corpus)
    if saved_hash and saved_hash != now_hash:
        raise CheckpointError(
            f"--resume: the corpus {cfg.corpus} has changed since {out} was saved (sha256 {saved_hash[:12]}... "
            f"then, {now_hash[:12]}... now); resuming would go on over a different text. Restore the text, or "
            f"fine-tune on the new one with --init-from {out} --out NEW_DIR.")
    # the model and data knobs come from the checkpoint; the budget and device from this call
    cfg = replace(saved, max_steps=cfg.max_steps, max_minutes=cfg.max_minutes, device=cfg.device)
    model = ckpt.model.train().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    opt.load_state_dict(ts.optimizer)
    torch.set_rng_state((ts.rng[ranks.rank] if saved_world > 1 else ts.rng).clone())
    rows = ranks.rows(cfg.batch_size)
    hidden = map_state(ts.hidden, lambda t: t[:, rows].contiguous().to(device))  # (L, B / world, H)
    return Start(cfg, ckpt.vocab, model, opt, ts.step, ts.base_step, ts.elapsed, ts.base_elapsed,
                 pos=ts.pos, epoch=ts.epoch, hidden=hidden, settings_note=ckpt.card.get("settings_note", ""),
                 **_history(ckpt))


def _init_from(cfg: TrainConfig, corpus: Corpus, device: torch.device, ranks: Ranks) -> Start:
    parent = load_checkpoint(cfg.init_from)
    m = parent.config
    cfg, _ = with_auto_settings(replace(cfg, cell=m.cell, n_layer=m.n_layer, hidden_size=m.hidden_size,
                                        forget_bias=m.forget_bias), len(corpus.train), device.type)
    torch.manual_seed(cfg.seed)
    model = CharRNN(replace(m, dropout=cfg.dropout))
    model.load_state_dict(parent.model.state_dict())
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    torch.manual_seed(cfg.seed + ranks.rank)
    step, seconds = int(parent.card.get("steps", 0)), float(parent.card.get("train_seconds", 0.0))
    return Start(cfg, parent.vocab, model, opt, step, step, seconds, seconds, **_history(parent))


def _history(ckpt: Checkpoint) -> dict:
    """What a run carries over from a checkpoint: its timeline, curve, commands and last train loss."""
    return {"timeline": ckpt.samples.get("timeline", []), "curve": ckpt.samples.get("curve", []),
            "commands": list(ckpt.card.get("commands") or [ckpt.card.get("command", "")]),
            "train_loss": ckpt.card.get("train_loss") or math.nan}
