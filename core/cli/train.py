"""`python -m core.cli.train`: train a character-level RNN / GRU / LSTM language model (core.charlm.train).

    python -m core.cli.train --corpus shakespeare --cell lstm --n-layer 2 --hidden-size 512 --out runs/shakespeare
    torchrun --nproc_per_node=N -m core.cli.train ...   # data-parallel: the --batch-size streams split over N

Every TrainConfig field is a flag (core.common.config_args); knobs left at `none` are chosen from the corpus size
and the device. `--resume` continues the checkpoint in --out exactly; `--init-from DIR` fine-tunes another one.
Each timeline entry records the cells-emerging probe (core.lens.emergence).
"""
import argparse
import os
import sys
import time

import torch
from tqdm import tqdm

from core.charlm.checkpoint import CheckpointError
from core.charlm.corpus import CorpusError
from core.charlm.settings import TrainConfig
from core.charlm.train import train
from core.common.config_args import add_config_args, bounded, config_from_args
from core.common.device import DEVICE_HELP
from core.common.distributed import Ranks
from core.common.events import DoneEvent, StartEvent, StepEvent, TrainEvent, ValEvent
from core.common.io import OVERWRITE_HELP
from core.common.loop import TrainingError
from core.lens.emergence import timeline_probe

CLI_HELP = {"corpus": "shakespeare | austen | linux | latex, or a UTF-8 text file",
            "out": "checkpoint directory to write",
            "bf16": "train in float32 (default: bf16 autocast where the device has bf16 instructions)",
            "resume": "continue the checkpoint in --out",
            "overwrite": OVERWRITE_HELP, "max_steps": "0 or none: no step limit",
            "max_minutes": "0 or none: no time limit", "device": DEVICE_HELP,
            "warmup_steps": "grow the learning rate linearly over these first steps (0: none)",
            **{k: "none: chosen from the corpus size and the device" for k in
               ("n_layer", "hidden_size", "dropout", "batch_size", "seq_len", "lr")}}


def parser() -> argparse.ArgumentParser:
    """The command line: every TrainConfig field, and --threads."""
    p = argparse.ArgumentParser(prog="rnnlens train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(p, TrainConfig, help=CLI_HELP)
    p.add_argument("--threads", type=bounded(int, 0, 256), default=0, help="torch CPU threads (0: torch's default)")
    return p


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes}:{seconds:02d}"


class ProgressLine:
    """The progress bar: percent of the budget, steps/s, characters/s, the loss and the time left."""

    def __init__(self, enabled: bool):
        self.bar = tqdm(total=100, bar_format="{percentage:3.0f}%|{bar}| {desc}", dynamic_ncols=True,
                        disable=not enabled)
        self.enabled = enabled  # (tqdm's own flag turns on when the bar closes)
        self.first = None  # (step, wall clock, progress) at the first step event

    def show(self, event: TrainEvent) -> None:
        """Update the bar for a step; print validations and the saved checkpoint."""
        if isinstance(event, StartEvent) and event.settings_note:
            self.bar.write(event.settings_note)
        elif isinstance(event, StepEvent):
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


def _command(ranks: Ranks, argv: list[str]) -> str:
    """How this run was started, for the card: python or torchrun with its process layout, and the flags."""
    launcher = "python"
    if ranks.distributed:
        per_node = int(os.environ.get("LOCAL_WORLD_SIZE", ranks.world_size))
        nodes = f"--nnodes={ranks.world_size // per_node} " if per_node < ranks.world_size else ""
        launcher = f"torchrun {nodes}--nproc_per_node={per_node}"
    return f"{launcher} -m core.cli.train " + " ".join(argv)


def main(argv: list[str] | None = None) -> int:
    """Train as the flags say; 0 when saved, 2 with a one-line message on bad input, 130 when interrupted (a
    torchrun worker ends its process with that code)."""
    argv = sys.argv[1:] if argv is None else argv
    args = vars(parser().parse_args(argv))
    threads = args.pop("threads")
    if threads:
        torch.set_num_threads(threads)
    for budget in ("max_steps", "max_minutes"):
        if args[budget] == 0:
            args[budget] = None
    ranks = Ranks.from_env()
    code = _train(args, ranks, _command(ranks, argv))
    if ranks.distributed:
        ranks.exit(code)
    return code


def _train(args: dict, ranks: Ranks, command: str) -> int:
    """Train with the parsed flags and a progress line on rank 0; the exit code main returns."""
    line = ProgressLine(enabled=ranks.is_main)
    try:
        train(config_from_args(TrainConfig, args), line.show, command=command, ranks=ranks, probe=timeline_probe)
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
