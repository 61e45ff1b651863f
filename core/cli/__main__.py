"""rnnlens COMMAND [ARGS]: the project's command lines in one place (git-style subcommands).

Each command is a module of core.cli with `parser()` and `main(argv)`; only the one called is imported, so
`rnnlens --help` is quick. `python -m core.cli COMMAND` is the same as `rnnlens COMMAND`.
"""
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {  # name -> (module, one-line help), in the README's order
    "corpus": ("core.cli.corpus", "build the built-in corpora into data/"),
    "train": ("core.cli.train", "train a character model (RNN, GRU, LSTM); resume or fine-tune"),
    "sample": ("core.cli.sample", "stream text from a character model (temperature, top-k, beam, clamps)"),
    "evaluate": ("core.cli.evaluate", "a character model's loss on a text, in nats and bits per character"),
    "ngram": ("core.cli.ngram", "the smoothed character n-gram baseline on a corpus's val split"),
    "checkpoint": ("core.cli.checkpoint", "export a shipping copy of a checkpoint (fp16, no optimizer state)"),
    "rank-cells": ("core.cli.rank_cells", "rank every cell against hypothesis signals (AUC, Pearson r)"),
    "cell-checks": ("core.cli.cell_checks", "is a top cell real: a shuffled null and a held-out text"),
    "intervene": ("core.cli.intervene", "clamp or ablate cells: side-by-side samples, causal z-score"),
    "attribution": ("core.cli.attribution", "each earlier character's share of one prediction"),
    "emergence": ("core.cli.emergence", "the best cell per probe signal along training"),
    "matching": ("core.cli.matching", "match two models' cells one to one by correlation"),
    "error-analysis": ("core.cli.error_analysis", "which of an n-gram's errors the model removes"),
    "gradflow": ("core.cli.gradflow", "gradient norms back through time: RNN, GRU, LSTM"),
    "memory-task": ("core.cli.memory_task", "the copy problem with clipping and truncated BPTT"),
    "photos": ("core.cli.photos", "fetch the photo world's Debian packages into data/photos"),
    "caption-train": ("core.cli.caption_train", "train the Show, Attend and Tell captioner"),
    "caption-evaluate": ("core.cli.caption_evaluate", "a captioner's BLEU, ROUGE-L, CIDEr and grounding"),
    "describe": ("core.cli.describe", "caption image files"),
    "open-vocabulary": ("core.cli.open_vocabulary", "rebuild the ImageNet-class -> noun table from WordNet"),
    "caption-realcheck": ("core.cli.caption_realcheck", "caption the real-photo check sets; fetch GCompris"),
    "vqa-train": ("core.cli.vqa_train", "train a stacked-attention VQA model and its question-only baseline"),
    "vqa-evaluate": ("core.cli.vqa_evaluate", "a VQA model's accuracy per question type and grounding"),
    "ask": ("core.cli.ask", "ask a VQA model a question about an image file"),
    "vqa-realcheck": ("core.cli.vqa_realcheck", "ask the photo VQA model about the real check photos"),
    "dashboard": ("core.cli.dashboard", "serve the dashboard (streamlit run dashboard/serve.py)"),
}


def usage() -> str:
    """The command list `rnnlens --help` prints."""
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {about}" for name, (_, about) in COMMANDS.items())
    return (f"usage: rnnlens COMMAND [ARGS]   (rnnlens COMMAND --help for its options)\n\n"
            f"See inside recurrent neural networks: train, sample and read character models, caption, answer.\n\n"
            f"commands:\n{rows}\n")


def main(argv: list[str] | None = None) -> int:
    """Run `rnnlens COMMAND ARGS`: the command's main(ARGS), imported only now."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        sys.stderr.write(f"rnnlens: unknown command {name!r}\n\n" + usage())
        return 2
    return importlib.import_module(COMMANDS[name][0]).main(rest)


if __name__ == "__main__":
    sys.exit(main())
