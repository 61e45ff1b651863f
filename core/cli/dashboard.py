"""rnnlens dashboard: serve the Streamlit dashboard warm (`streamlit run dashboard/serve.py` in a subprocess)."""
import argparse
import subprocess
import sys
from pathlib import Path

SERVE = Path(__file__).resolve().parents[2] / "dashboard" / "serve.py"


def parser() -> argparse.ArgumentParser:
    """The dashboard command's arguments: none of its own; every other option goes to `streamlit run`."""
    return argparse.ArgumentParser(prog="rnnlens dashboard", usage="rnnlens dashboard [STREAMLIT OPTIONS]",
                                   description=__doc__.splitlines()[0],
                                   epilog="e.g. rnnlens dashboard --server.port 8502 --server.headless true")


def main(argv: list[str] | None = None) -> int:
    """Run streamlit on dashboard/serve.py from the repository root until it stops; its exit status."""
    _, streamlit_args = parser().parse_known_args(argv)
    if not SERVE.is_file():
        print(f"error: {SERVE} is missing: the dashboard runs from a checkout of the repository "
              "(pip install -e .)", file=sys.stderr)
        return 2
    try:
        return subprocess.call([sys.executable, "-m", "streamlit", "run", str(SERVE), *streamlit_args],
                               cwd=SERVE.parents[1])
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
