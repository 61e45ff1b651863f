"""What a character-model run trains: TrainConfig, and the knobs left unset chosen from the corpus and device."""
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


def auto_settings(train_chars: int, device_type: str) -> dict:
    """Model size, dropout, batch size, sequence length and learning rate for a corpus of train_chars
    characters on a device (the README's "Train on a CPU, a GPU or several GPUs" says how they were chosen)."""
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


def resume_config(cfg: TrainConfig, more_minutes: float) -> TrainConfig:
    """cfg set to resume its checkpoint for `more_minutes` more minutes of training (time already spent, and
    time carried over from a fine-tuned parent, do not count against them)."""
    spent = load_train_state(Path(cfg.out)).spent_minutes  # what the loop's progress counts
    return replace(cfg, resume=True, max_steps=None, max_minutes=spent + more_minutes)
