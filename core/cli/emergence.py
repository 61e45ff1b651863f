"""rnnlens emergence: the best cell per probe signal for each checkpoint of a run, or along a retrain from scratch."""
import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

from core.charlm.checkpoint import CheckpointError, load_checkpoint
from core.charlm.corpus import CorpusError
from core.charlm.settings import TrainConfig
from core.cli.args import add_threads_arg, fail, val_text
from core.common.config_args import bounded
from core.lens.emergence import attach_retrained, probe_scores, retrain_timeline
from core.lens.signals import SignalError

MAX_STEPS = 1_000_000


def parser() -> argparse.ArgumentParser:
    """The emergence command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens emergence", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", action="append", required=True, help="checkpoint directory (repeatable: "
                   "the checkpoints of one run in training order)")
    p.add_argument("--chars", type=bounded(int, 100, 200_000), default=20_000,
                   help="probe: the first N characters of the val split")
    p.add_argument("--retrain", type=bounded(int, 0, MAX_STEPS), default=0, metavar="STEPS",
                   help="instead: retrain the (one) checkpoint's configuration from scratch for STEPS steps, "
                   "probing every --every steps")
    p.add_argument("--every", type=bounded(int, 1, MAX_STEPS), default=50)
    p.add_argument("--out", default="runs/emergence", help="with --retrain: where the run is written")
    p.add_argument("--json", help="with --retrain: write the timeline here")
    p.add_argument("--attach", action="store_true", help="with --retrain: store the timeline in the checkpoint's "
                   "samples.json, where the pages draw it when the model's own training recorded no probes")
    add_threads_arg(p)
    return p


def retrain(args: argparse.Namespace, command: str) -> None:
    """Retrain args.checkpoint[0]'s configuration from scratch, printing (and with --json writing) each probe."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    base = {k: v for k, v in load_checkpoint(args.checkpoint[0]).card.get("train_config", {}).items() if k in known}
    cfg = TrainConfig(**{**base, "out": args.out, "max_steps": args.retrain, "max_minutes": None,
                         "checkpoint_every": args.every, "eval_every": args.every, "eval_chars": 10_000,
                         "resume": False, "init_from": ""})

    def report(timeline: list[dict]) -> None:
        e = timeline[-1]
        print(f"step {e['step']} val_loss {e['val_loss']}: " + "  ".join(
            f"{n} {s['score'] if s else '-'}" for n, s in e["probe"].items()), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps({"config": base, "timeline": timeline}, indent=1))

    timeline = retrain_timeline(cfg, args.chars, report)
    if args.attach:
        attach_retrained(args.checkpoint[0], timeline, command)


def main(argv: list[str] | None = None) -> int:
    """Print each checkpoint's best cells, or retrain and probe along the way."""
    args = parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        if args.retrain:
            retrain(args, "rnnlens emergence " + " ".join(sys.argv[1:] if argv is None else argv))
            return 0
        for path in args.checkpoint:
            ckpt = load_checkpoint(path)
            probe = val_text(ckpt, 0, args.chars)
            scores = probe_scores(ckpt.model, ckpt.vocab, probe)
            cells = "  ".join(f"{n} -" if s is None else f"{n} {s.metric} {s.score:.3f} ({s.layer}:{s.kind}:{s.unit})"
                              for n, s in scores.items())
            print(f"{ckpt.path.name} step {ckpt.card.get('steps', '?')}: {cells}")
    except (CheckpointError, CorpusError, SignalError, ValueError, RuntimeError) as e:  # RuntimeError: training
        return fail(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
