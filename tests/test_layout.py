"""The design's boundaries, read from an import graph that `ast` builds over core/ (docs/ARCHITECTURE.md).

Layers: core.common <- core.charlm <- {core.lens, core.gradients}; core.common <- core.vision <- {core.caption,
core.vqa}; core.cli may import anything in core and nothing in core imports it. Nothing in core imports
streamlit, dashboard or pages; no import cycle (imports inside functions count too); no import of a core module
inside a function of library code (an import hidden in a function is how a cycle or a layer break goes unnoticed).
"""
import ast
from pathlib import Path

from tests.conftest import ROOT

# the core packages each core package may import besides itself
ALLOWED = {
    "core.common": set(),
    "core.charlm": {"core.common"},
    "core.lens": {"core.common", "core.charlm"},
    "core.gradients": {"core.common", "core.charlm"},
    "core.vision": {"core.common"},
    "core.caption": {"core.common", "core.vision"},
    "core.vqa": {"core.common", "core.vision"},
}
CLI = "core.cli"
FORBIDDEN = ("streamlit", "dashboard", "pages")


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module under root/core."""
    out = {}
    for path in sorted((root / "core").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int, str | None]]:
    """(imported module, line, enclosing function or None) for every import statement in one module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []

    def visit(node: ast.AST, scope: str, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = f"{scope}.{child.name}" if scope else child.name
                visit(child, inner, inner if function or not isinstance(child, ast.ClassDef) else None)
                continue
            if isinstance(child, ast.Import):
                out.extend((a.name, child.lineno, function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")[:len(package.split(".")) - child.level + 1]
                    base = ".".join(up + ([base] if base else []))
                # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod
                out.extend((f"{base}.{a.name}" if f"{base}.{a.name}" in known else base, child.lineno, function)
                           for a in child.names)
            visit(child, scope, function)

    visit(ast.parse(path.read_text(), str(path)), "", None)
    return out


def layer(module: str) -> str:
    return ".".join(module.split(".")[:2])


def violations(root: Path) -> list[str]:
    """Every broken rule under root/core, one line each."""
    known = modules(root)
    problems, graph = [], {m: set() for m in known}
    for name, path in known.items():
        where = path.relative_to(root)
        for target, line, function in imports(name, path, known):
            top = target.split(".")[0]
            if top in FORBIDDEN:
                problems.append(f"{where}:{line}: core imports {target}")
            if top != "core" or target == "core":
                continue
            if layer(name) == CLI:
                graph[name].add(target)
                continue
            if function is not None:
                problems.append(f"{where}:{line}: {function}() imports {target}: move it to the top, or the "
                                f"shared part down a layer if that makes a cycle")
            graph[name].add(target)
            if layer(target) == CLI:
                problems.append(f"{where}:{line}: {name} imports the command line {target}")
            elif layer(name) not in ALLOWED:
                problems.append(f"{where}:{line}: {layer(name)} is in no layer: add it to ALLOWED in this test")
            elif layer(target) != layer(name) and layer(target) not in ALLOWED[layer(name)]:
                problems.append(f"{where}:{line}: {name} imports {target}, but {layer(name)} may import only "
                                f"{sorted(ALLOWED[layer(name)]) or 'itself'}")
    problems += [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles as paths (a -> b -> a), from the back edges of a depth-first search: at least one per tangle."""
    found, done, seen = [], set(), set()

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                loop = path[path.index(nxt):] + [nxt]
                if frozenset(loop) not in seen:
                    seen.add(frozenset(loop))
                    found.append(loop)
            elif nxt not in done:
                walk(nxt, path + [nxt])
        done.add(node)

    for start in sorted(graph):
        if start not in done:
            walk(start, [start])
    return found


def test_core_keeps_its_layers():
    problems = violations(ROOT)
    assert not problems, "\n".join(problems)


def _plant(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_the_checker_finds_each_kind_of_planted_violation(tmp_path):
    _plant(tmp_path, {
        "core/__init__.py": "", "core/common/__init__.py": "", "core/charlm/__init__.py": "",
        "core/vision/__init__.py": "", "core/caption/__init__.py": "", "core/vqa/__init__.py": "",
        "core/common/io.py": "import os\n",
        "core/charlm/model.py": "from core.common import io\nfrom . import vocab\n",
        "core/charlm/vocab.py": "from .model import X\n",                          # cycle model <-> vocab
        "core/vision/photos.py": "from core.charlm.model import X\n",               # vision may not use charlm
        "core/vqa/data.py": "def f():\n    from core.caption import model\n",      # vqa uses caption, in a function
        "core/caption/model.py": "import streamlit as st\nfrom core.cli import train\n",
        "core/cli/__init__.py": "", "core/cli/train.py": "def main():\n    from core.charlm import model\n",
    })
    found = "\n".join(violations(tmp_path))
    assert "import cycle: core.charlm.model -> core.charlm.vocab -> core.charlm.model" in found
    assert "core.vision.photos imports core.charlm.model, but core.vision may import only ['core.common']" in found
    assert "core.vqa.data imports core.caption.model" in found
    assert "f() imports core.caption.model" in found
    assert "core imports streamlit" in found
    assert "imports the command line core.cli.train" in found
    assert len(found.splitlines()) == 6                             # core.cli's lazy import is allowed
