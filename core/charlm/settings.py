"""What a character-model run trains: TrainConfig, and the knobs left unset chosen from the corpus and device."""
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.charlm.checkpoint import load_train_state
from core.charlm.model import CharRNNConfig
from core.common.config_args import check_ranges, within
from core.common.device import DEVICES


@dataclass
class TrainConfig:
    corpus: str
    out: str
    cell: str = "lstm"
    n_layer: int | None = field(default=None, metadata=within(1, 16))  # None here and below: chosen by auto_settings
    hidden_size: int | None = field(default=None, metadata=within(1, 8192))
    dropout: float | None = field(default=None, metadata=within(0, 0.95))
    forget_bias: float | None = field(default=None, metadata=within(-100, 100))  # LSTM forget-gate bias at init; None keeps torch's init
    batch_size: int | None = field(default=None, metadata=within(1, 65_536))  # streams in one step, over all processes
    seq_len: int | None = field(default=None, metadata=within(1, 65_536))
    lr: float | None = field(default=None, metadata=within(1e-08, 10))
    lr_min_ratio: float = field(default=0.1, metadata=within(0, 1))  # cosine decay ends at lr * lr_min_ratio
    warmup_steps: int = field(default=0, metadata=within(0, 10_000_000))
    grad_clip: float = field(default=1.0, metadata=within(1e-06, 1000000.0))
    max_steps: int | None = field(default=None, metadata=within(0, 100_000_000))
    max_minutes: float | None = field(default=5.0, metadata=within(0, 100_000))
    seed: int = field(default=1337, metadata=within(0, 2**63 - 1))
    eval_every: int = field(default=250, metadata=within(1, 10_000_000))
    eval_chars: int = field(default=60_000, metadata=within(1, 10_000_000))  # validation characters per interval check (the final check uses all)
    checkpoint_every: int = field(default=500, metadata=within(1, 10_000_000))
    sample_every: int = field(default=0, metadata=within(0, 10_000_000))  # also report a fresh sample every N steps (0: only at the timeline steps)
    bf16: bool = True  # bfloat16 autocast where the device runs it natively (core.common.device.bf16_supported)
    init_from: str = ""  # checkpoint directory to fine-tune (architecture and vocabulary come from it)
    resume: bool = False
    overwrite: bool = False
    device: str = "auto"

    def __post_init__(self):
        check_ranges(self)
        if self.max_steps is None and self.max_minutes is None:
            raise ValueError("give --max-steps or --max-minutes (or both)")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        CharRNNConfig(2, self.cell, self.n_layer or 2, self.hidden_size or 256, self.dropout or 0.0)  # validates


SMALL_TEXT = 300_000  # characters; a text under this is read many times by any budget
CPU_WIDTHS = (256, 384)  # the 2-layer LSTM widths a CPU run's auto choice picks from (wider was not measured)
MIN_READS = 5.0  # a wider model only where the budget still reads the training text this many times at its speed
BASE_WIDTH = CPU_WIDTHS[0]
CPU_BATCH, CPU_SEQ_LEN = 16, 64  # a CPU run's streams and their chunk length


@dataclass(frozen=True)
class AutoChoice:
    """The knobs a run left unset, as auto_settings filled them, and why (for the card and the CLI)."""
    settings: dict  # TrainConfig field -> value
    reads: float | None = None  # how many times the budget is expected to read the training text (None: unknown)
    chars_per_second: float | None = None  # the measured training speed of the base width the estimate used

    def why(self, cfg: TrainConfig) -> str:
        """One line: the model cfg trains (auto knobs filled in) and the estimate behind the choice."""
        chose = f"{cfg.n_layer} x {cfg.hidden_size} {cfg.cell}, dropout {cfg.dropout:g}, batch {cfg.batch_size} x " \
                f"{cfg.seq_len}, lr {cfg.lr:g}"
        if self.reads is None:
            return f"settings: {chose}"
        speed = f" (2 x {BASE_WIDTH} trains {self.chars_per_second:,.0f} chars/s here)" if self.chars_per_second else ""
        return f"settings: {chose}; its budget reads the training text about {self.reads:.1f} times{speed}"


def reads_for_budget(train_chars: int, max_steps: int | None, max_minutes: float | None, chars_per_step: int,
                     base_chars_per_second: float | None) -> Callable[[int], float] | None:
    """How many times a run of each 2-layer width reads its training text under its budget (the steps it may take,
    and the minutes at the base width's measured speed, scaled by width squared); None when neither is known."""
    limits = []
    if max_steps:
        limits.append(lambda width: max_steps * chars_per_step / train_chars)
    if max_minutes and base_chars_per_second:
        limits.append(lambda width: 60 * max_minutes * base_chars_per_second * (BASE_WIDTH / width) ** 2 / train_chars)
    return (lambda width: min(limit(width) for limit in limits)) if limits else None


def cpu_dropout(reads: float) -> float:
    """Dropout for a CPU run that reads its text `reads` times: none while it reads it few times, then more."""
    return 0.0 if reads < 3.5 else 0.1 if reads < 5 else 0.2 if reads < 8 else 0.3


def auto_settings(train_chars: int, device_type: str, reads_at: Callable[[int], float] | None = None) -> AutoChoice:
    """Model size, dropout, batch size, sequence length and learning rate for a corpus of train_chars characters on
    a device; reads_at(width) (reads_for_budget) lets a CPU run pick its width and dropout for its budget (the
    README's "Train on a CPU, a GPU or several GPUs" says how they were chosen)."""
    small = train_chars < SMALL_TEXT
    if device_type == "cuda":
        return AutoChoice({"n_layer": 2 if small else 3, "hidden_size": 512 if small else 1024,
                           "dropout": 0.25 if train_chars < 2_000_000 else 0.1 if train_chars < 10_000_000 else 0.0,
                           "batch_size": 128, "seq_len": 128, "lr": 1e-3})
    base = {"n_layer": 2, "batch_size": CPU_BATCH, "seq_len": CPU_SEQ_LEN, "lr": 4e-3}
    if small:
        chosen, dropout = 128, 0.25
    elif reads_at is None:
        chosen, dropout = BASE_WIDTH, 0.0
    else:
        chosen = max((w for w in CPU_WIDTHS if reads_at(w) >= MIN_READS), default=BASE_WIDTH)
        dropout = cpu_dropout(reads_at(chosen))
    return AutoChoice({**base, "hidden_size": chosen, "dropout": dropout}, reads_at(chosen) if reads_at else None)


def with_auto_settings(cfg: TrainConfig, train_chars: int, device_type: str,
                       reads_at: Callable[[int], float] | None = None) -> tuple[TrainConfig, AutoChoice]:
    """cfg with every knob left as None filled in by auto_settings, and the choice."""
    choice = auto_settings(train_chars, device_type, reads_at)
    return replace(cfg, **{k: v for k, v in choice.settings.items() if getattr(cfg, k) is None}), choice


def resume_config(cfg: TrainConfig, more_minutes: float) -> TrainConfig:
    """cfg set to resume its checkpoint for `more_minutes` more minutes of training (time already spent, and
    time carried over from a fine-tuned parent, do not count against them)."""
    spent = load_train_state(Path(cfg.out)).spent_minutes  # what the loop's progress counts
    return replace(cfg, resume=True, max_steps=None, max_minutes=spent + more_minutes)
