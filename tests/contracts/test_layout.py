"""The codebase stays one a newcomer can hold in their head: the README's tour names every
module, no module reaches into another's private names, and modules stay small."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
while not (ROOT / "pyproject.toml").exists():  # (this file may sit one folder deeper)
    ROOT = ROOT.parent
PACKAGE = ROOT / "vel_jupyter"
EXTENSION = ROOT / "labextension" / "src"

MAX_LINES = 430
"""~400 lines a module. Over 400 today: stores/_sql.py (every query of both SQL dialects in one
class, so that a query is never written twice) and stores/redis.py (the store; its scripts and
format upgrade are apart already)."""


def python_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "labextension" not in p.parts)


def extension_modules() -> list[Path]:
    return sorted(p for p in EXTENSION.glob("*.ts"))


def layout_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Layout\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end > 0 else None]


def test_the_readme_tour_names_every_module() -> None:
    named = set(re.findall(r"`([\w./-]+)`", layout_section()))
    named |= {n.rsplit("/", 1)[-1] for n in named}
    missing = [
        str(path.relative_to(ROOT))
        for path in [*python_modules(), *extension_modules()]
        if path.name not in named and not (path.name == "__init__.py" and path.parent != PACKAGE / "providers")
    ]
    assert missing == [], "add these to README.md's Layout section"


def test_no_module_reads_another_modules_private_names() -> None:
    """``x._name`` is for an object's own insides (``self._x``, a mixin's included) and for names
    the same module defines: the engine's state has one writer, and exports and views read
    sessions through their public API."""
    allowed = {"_repr_mimebundle_", "_repr_html_", "_render_traceback_", "_ipython_display_", "_asdict", "_replace"}
    offenders = []
    for path in python_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defined.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                defined.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                defined.add(node.target.id)
        for node in ast.walk(tree):
            name = node.attr if isinstance(node, ast.Attribute) else None
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls")
            ):
                continue
            if name and name.startswith("_") and not name.startswith("__") and name not in defined | allowed:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == []


def test_modules_stay_small() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in [*python_modules(), *extension_modules()]
    }
    assert {path: lines for path, lines in sizes.items() if lines > MAX_LINES} == {}
