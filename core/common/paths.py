"""Where the git-ignored data lives: built corpora, downloads, the photo world and the real-photo check sets."""
import os
from pathlib import Path


def data_root() -> Path:
    """The git-ignored folder that holds built corpora and downloads (env RNNLENS_DATA, default ./data)."""
    return Path(os.environ.get("RNNLENS_DATA", Path(__file__).resolve().parents[2] / "data"))
