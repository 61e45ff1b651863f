"""rnnlens open-vocabulary: rebuild core/vision/imagenet_nouns.json from WordNet (core.vision.wordnet).

    apt-get install -y wordnet-base && rnnlens open-vocabulary
"""
import argparse
import json
import sys

from core.cli.args import fail
from core.vision.wordnet import OUT, WORDNET_DIR, build


def parser() -> argparse.ArgumentParser:
    """The open-vocabulary command's arguments (none)."""
    return argparse.ArgumentParser(prog="rnnlens open-vocabulary", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def main(argv: list[str] | None = None) -> int:
    """Write the class -> noun table and say how many nouns it has."""
    parser().parse_args(argv)
    if not (WORDNET_DIR / "data.noun").is_file():
        return fail(f"no WordNet under {WORDNET_DIR}: apt-get install -y wordnet-base")
    table = build()
    OUT.write_text(json.dumps(table, indent=0) + "\n")
    print(f"{OUT}: {len(table['plurals'])} distinct nouns over {len(table['classes'])} classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
