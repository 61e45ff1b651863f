"""Files the library writes and reads: atomic directories, JSON with clear errors, user text as UTF-8."""
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield an empty staging directory; on success it replaces `path` whole, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    staging.chmod(0o755)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if path.exists():  # swap: old -> trash, staging -> path, so a crash leaves one whole directory
        trash = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-old-"))
        os.replace(path, trash / "ckpt")
        os.replace(staging, path)
        shutil.rmtree(trash)
    else:
        os.replace(staging, path)


def read_json(path: Path, what: str, error: type[Exception] = ValueError):
    """The JSON in path, or `error` naming the file and what it should hold when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path.name} ({what}) cannot be read: {e}") from None


def write_json(path: Path, obj, indent: int = 1) -> None:
    """Write obj as readable UTF-8 JSON."""
    path.write_text(json.dumps(obj, indent=indent, ensure_ascii=False), encoding="utf-8")


def decode_text(raw: bytes) -> str:
    """A user's bytes as text with Unix newlines, or ValueError saying where they are not UTF-8."""
    try:
        return raw.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as e:
        raise ValueError(f"The file is not UTF-8 text (byte {e.start} cannot be decoded)") from None
