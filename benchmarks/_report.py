"""What every benchmark table shares: the environment line, the command, tables and marks.

The benchmarks run as scripts (``python benchmarks/bench_engine.py``), so this module is
imported by its plain name from the scripts' own directory.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from importlib.metadata import version

import vel_jupyter


def environment(*distributions: tuple[str, str]) -> str:
    """Python, vel_jupyter and each ``(label, distribution name)``'s version, CPUs, OS."""
    versions = "".join(f"{label} {version(name)}, " for label, name in distributions)
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"vel_jupyter {vel_jupyter.__version__}, {versions}"
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}"
    )


def command() -> str:
    return shlex.join([os.path.relpath(sys.executable), *sys.argv])


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: the first column left-aligned, the numbers right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|:---|" + "|".join("---:" for _ in header[1:]) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def mark(ok: bool) -> str:
    return "✅ pass" if ok else "❌ FAIL"
