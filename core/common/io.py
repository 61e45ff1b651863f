"""Files the library writes and reads: atomic directories, one writer per directory, bounded reads of regular
files, JSON with clear errors, user text as UTF-8."""
import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

MAX_JSON_BYTES = 16 * 2**20  # no JSON file the library reads is anywhere near this
OVERWRITE_HELP = "replace the checkpoint already in --out (never a directory holding other files)"
_RENAME_EXCHANGE = 2  # renameat2 flag: swap two paths in one step
_AT_FDCWD = -100


class OutputError(ValueError):
    """A directory may not be written (it holds other files, another process writes it, ...); says why."""


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically (Linux renameat2); False where the system cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _staging_pattern(path: Path) -> re.Pattern:
    """Names of the staging (`.NAME-xxxxxxxx`) and old-copy (`.NAME-old-xxxxxxxx`) folders atomic_directory makes."""
    return re.compile(rf"\.{re.escape(path.name)}-(old-)?[a-z0-9_]{{8}}")


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield an empty staging directory; on success it replaces `path` whole, on error it is removed.

    The swap is one atomic exchange where the system has it, so `path` holds the old or the new directory at
    every instant; elsewhere a crash between two renames is undone by recover_staging on the next start."""
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    except OSError as e:
        raise (_disk_full(path, e) or e) from None
    staging.chmod(0o755)
    try:
        yield staging
    except BaseException as e:
        shutil.rmtree(staging, ignore_errors=True)
        full = _disk_full(path, e)
        if full:
            raise full from None
        raise
    if not path.exists():
        os.replace(staging, path)
    elif _exchange(staging, path):  # path: the new directory; staging: the old one
        shutil.rmtree(staging)
    else:  # old -> .NAME-old-*/ckpt, staging -> path; recover_staging puts the old one back if killed between
        trash = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-old-"))
        os.replace(path, trash / "ckpt")
        os.replace(staging, path)
        shutil.rmtree(trash)


def _disk_full(path: Path, error: BaseException) -> OutputError | None:
    """The one-line message for a save that ran out of disk space (an OSError or safetensors' own error)."""
    text = str(error)
    if not (isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)
            or "No space left" in text or "StorageFull" in text):
        return None
    return OutputError(f"{path}: the disk is full (no space left on device); the save was abandoned and the "
                       f"previous checkpoint there, if any, is intact. Free some space or choose another folder.")


def recover_staging(path: str | Path, files: Collection[str]) -> list[str]:
    """Undo what a killed atomic_directory(path) left: restore the old directory if `path` is gone, remove
    staging folders (only those holding nothing but the given file names). Call it only while holding path's
    DirectoryLock. Returns what it did."""
    path = Path(os.path.realpath(path))
    if not path.parent.is_dir():
        return []
    pattern, done = _staging_pattern(path), []

    def only_ours(folder: Path) -> bool:
        return all(p.is_file() and not p.is_symlink() and p.name in files if p.name != "ckpt" else
                   p.is_dir() and not p.is_symlink() and only_ours(p) for p in folder.iterdir())

    leftovers = sorted(p for p in path.parent.iterdir() if pattern.fullmatch(p.name) and p.is_dir()
                       and not p.is_symlink() and only_ours(p))
    for folder in leftovers:
        kept = folder / "ckpt"
        if "-old-" in folder.name and kept.is_dir() and not path.exists():
            os.replace(kept, path)
            done.append(f"restored {path.name} from {folder.name}")
        shutil.rmtree(folder)
        done.append(f"removed {folder.name}")
    return done


class DirectoryLock:
    """An exclusive flock on `.NAME.lock` beside a directory: one writer at a time. The system releases it
    when the process ends, however it ends."""

    def __init__(self, path: str | Path):
        self.path = Path(os.path.realpath(path))
        self.file = self.path.parent / f".{self.path.name}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "DirectoryLock":
        """Take the lock now, or OutputError naming the process that holds it."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise OutputError(f"{self.path} is being written by {holder}; wait until it finishes or choose "
                              f"another directory") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()}".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Let other writers in (the lock file stays: removing it would let two writers lock two files)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @contextmanager
    def holding(self) -> Iterator["DirectoryLock"]:
        """Hold the lock for a block: taken here when not held already, and then released after it."""
        taken = not self.held
        self.acquire()
        try:
            yield self
        finally:
            if taken:
                self.release()

    def __enter__(self) -> "DirectoryLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def claim_directory(path: str | Path, files: Collection[str], resume: bool = False, overwrite: bool = False,
                    flag: str = "--out", resumable: bool = False, kind: str | None = None) -> DirectoryLock:
    """Lock `path` for writing a checkpoint made of `files`, after checking it may be written: a new or empty
    directory, a checkpoint (of this `kind`, when given) to resume (resume) or to replace (overwrite), never a
    file, a directory holding other files or another kind of model, or the current directory or one above it.
    Leftovers of a killed save are recovered first.
    `resumable`: the refusal suggests --resume too. The caller releases the returned lock (the system does
    when the process ends)."""
    target = Path(os.path.realpath(path))
    if Path.cwd().resolve().is_relative_to(target):
        raise OutputError(f"{flag} {path} is the current directory or one above it; a checkpoint needs a "
                          f"directory of its own. Nothing was written.")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{flag} {path} is a file, not a directory; choose a directory. Nothing was written.")
    hint = "--resume to continue it or " if resumable else ""

    def refusal() -> str | None:
        return _output_refusal(target, set(files), resume or overwrite, f"{flag} {path}", hint, kind)

    why = refusal()  # before the lock file is made
    if not why:
        try:
            lock = DirectoryLock(target).acquire()
        except OSError as e:
            raise OutputError(f"{flag} {path} cannot be written: {e.strerror or e}. Nothing was written.") from None
        try:
            recover_staging(target, files)
            why = refusal()  # a recovered checkpoint counts
        except BaseException:
            lock.release()
            raise
        if not why:
            return lock
        lock.release()
    raise OutputError(why + " Nothing was written.")


def _output_refusal(target: Path, files: set[str], replace: bool, given: str, hint: str,
                    kind: str | None) -> str | None:
    entries = sorted(target.iterdir()) if target.is_dir() else []
    if not entries:
        return None
    names = {e.name for e in entries}
    if not (target / "config.json").is_file() or not names <= files or any(e.is_dir() for e in entries):
        shown = ", ".join(e.name + ("/" if e.is_dir() else "") for e in entries[:5])
        return (f"{given} holds files that are not a checkpoint ({shown}{', ...' if len(entries) > 5 else ''})"
                f"; choose a new or empty directory.")
    if kind is not None:
        try:
            raw = read_json(target / "config.json", "model config")
        except ValueError as e:
            return f"{given} holds a checkpoint whose {e}; choose another directory."
        found = config_kind(raw) if isinstance(raw, dict) else None
        if found != kind:
            return f"{given} holds a {found or 'unknown'} checkpoint, not a {kind} one; choose another directory."
    if replace:
        return None
    return f"{given} already holds a checkpoint; pass {hint}--overwrite to replace it."


def open_regular(path: str | Path, limit: int, dir_fd: int | None = None, follow_symlinks: bool = False) -> int:
    """A read-only descriptor of a regular file of at most `limit` bytes; the caller closes it. A FIFO or device
    (and, unless follow_symlinks, a symlink) is refused at once (ValueError), never waited on; so is a larger
    file, from its size alone. A missing file raises FileNotFoundError."""
    if follow_symlinks:
        info = os.stat(path, dir_fd=dir_fd)  # before opening: opening some devices does something
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"it is {_file_type(info.st_mode)}, not a regular file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow_symlinks else os.O_NOFOLLOW), dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ELOOP and not follow_symlinks:
            raise ValueError("it is a symbolic link, not a regular file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"it is {_file_type(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise ValueError(f"it has {info.st_size:,} bytes, more than the {limit:,} allowed")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _file_type(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a device"),
             (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "a special file")


def read_bounded(path: str | Path, limit: int, dir_fd: int | None = None, follow_symlinks: bool = False) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (see open_regular for what is refused)."""
    fd = open_regular(path, limit, dir_fd, follow_symlinks)
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"it grew past the {limit:,} bytes allowed")
    return data


def parse_json(data: bytes, name: str, what: str, error: type[Exception] = ValueError):
    """JSON from bytes, or `error` naming the file and what it should hold."""
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise error(f"{name} ({what}) cannot be read: {e}") from None


def config_kind(raw: dict) -> str | None:
    """The model kind a config.json holds: its "kind", or "char-rnn" for older char configs naming a cell."""
    return raw.get("kind") or ("char-rnn" if "cell" in raw else None)


def read_json(path: Path, what: str, error: type[Exception] = ValueError, limit: int = MAX_JSON_BYTES):
    """The JSON in path (a regular file of bounded size), or `error` naming the file and what it should hold."""
    try:
        data = read_bounded(path, limit)
    except (OSError, ValueError) as e:
        raise error(f"{Path(path).name} ({what}) cannot be read: {e}") from None
    return parse_json(data, Path(path).name, what, error)


def write_json(path: Path, obj, indent: int | None = 1) -> None:
    """Write obj as readable UTF-8 JSON."""
    path.write_text(json.dumps(obj, indent=indent, ensure_ascii=False), encoding="utf-8")


def replace_json(path: Path, obj) -> None:
    """Write obj as JSON over the file at path atomically: readers see the old file or the new one, whole."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_json(staging, obj)
    os.replace(staging, path)


def decode_text(raw: bytes) -> str:
    """A user's bytes as text with Unix newlines, or ValueError saying where they are not UTF-8."""
    try:
        return raw.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as e:
        raise ValueError(f"The file is not UTF-8 text (byte {e.start} cannot be decoded)") from None
