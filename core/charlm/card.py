"""What a character model's checkpoint says about its run: card.json and the entries of its sample timeline."""
import math
from dataclasses import asdict

from core.charlm.corpus import Corpus
from core.charlm.model import CharRNN
from core.common.device import describe
from core.common.events import LN2
from core.common.loop import Loop, card_header

# a sample (and a probe) is kept in the timeline at each of these steps
TIMELINE_STEPS = (100, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000, 7000, 10000, 15000, 20000, 30000)


def rounded(loss: float) -> float | None:
    """A loss for JSON: 4 decimals, or None when there is none (strict JSON has no NaN)."""
    return round(loss, 4) if math.isfinite(loss) else None


def timeline_entry(step: int, val_loss: float, text: str, probe: dict | None) -> dict:
    """One timeline entry: the step, its validation loss, a sample and (when the run probes) the probe's scores."""
    entry = {"step": step, "val_loss": round(val_loss, 4), "val_bpc": round(val_loss / LN2, 4), "text": text}
    return entry if probe is None else {**entry, "probe": probe}


def corpus_sha256(corpus: Corpus) -> str:
    """The hash a card records for the text it was trained on: train.txt's of a built corpus, a file's own."""
    return corpus.manifest.get("files", {}).get("train.txt", {}).get("sha256") or corpus.manifest["source"]["sha256"]


def make_card(loop: Loop, cfg, model: CharRNN, corpus: Corpus, commands: list[str], name: str, stream_len: int,
              val_loss: float, settings_note: str = "") -> dict:
    """card.json of a run (its TrainConfig `cfg`) as the loop left it, whose model validates at val_loss nats;
    settings_note says how a fresh run chose the knobs it left unset."""
    m, ranks = model.config, loop.ranks
    header = card_header(name, loop.device, commands[-1], ranks.world_size, cfg.bf16)
    rewound = loop.trained_steps is not None and loop.trained_steps != loop.step
    return {
        "name": name, "corpus": corpus.name, "manifest_sha256": corpus_sha256(corpus),
        "cell": m.cell, "n_layer": m.n_layer, "hidden_size": m.hidden_size, "vocab_size": m.vocab_size,
        "n_params": model.n_params(), "steps": loop.step,
        **({"trained_steps": loop.trained_steps} if rewound else {}),
        "tokens_seen": loop.step * cfg.batch_size * cfg.seq_len,
        "epochs": round(loop.step * cfg.seq_len / stream_len, 2),
        "train_loss": rounded(loop.train_loss), "val_loss": round(val_loss, 4),
        "train_bpc": rounded(loop.train_loss / LN2), "val_bpc": round(val_loss / LN2, 4),
        "train_seconds": round(loop.elapsed, 1),
        "device": describe(loop.device) + (f", {ranks.world_size} processes" if ranks.distributed else ""),
        "hardware": header["hardware"], "command": header["command"], "commands": commands,
        "created": header["created"], "train_config": asdict(cfg),
        **({"settings_note": settings_note} if settings_note else {}),
    }
