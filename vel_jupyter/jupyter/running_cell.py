"""The cell being run: its words, its id, whether a frontend shows it, and showing a bundle in it."""

from __future__ import annotations

import hashlib
import shlex
from typing import Any

from IPython.core.error import UsageError


def words_of(line: str) -> list[str]:
    """A magic's line split with POSIX quoting, so -s 'Be brief.' means Be brief. (IPython's
    own parser keeps the quotes); one UsageError line when it cannot be split."""
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot parse {line!r}: {exc}") from None


def has_frontend(shell: Any) -> bool:
    """Whether a frontend shows this kernel's outputs (else they are printed as text)."""
    return getattr(shell, "kernel", None) is not None


def cell_id(shell: Any, line: str, cell: str) -> str:
    """The frontend's cell id (JupyterLab sends it); else a stable id from the cell's text."""
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:
        try:
            parent = kernel.get_parent()
        except TypeError:  # older ipykernel: get_parent(channel)
            parent = kernel.get_parent("shell")
        found = ((parent or {}).get("metadata") or {}).get("cellId")
        if found:
            return str(found)
    return "text-" + hashlib.sha1(f"{line}\n{cell}".encode()).hexdigest()[:16]


def show(bundle: dict[str, Any], *, display_id: bool = False) -> Any:
    """Display a MIME bundle as the cell's output; with ``display_id``, its handle for updates."""
    from IPython.display import display

    if display_id:
        return display(bundle, raw=True, display_id=True)  # type: ignore[no-untyped-call]
    return display(bundle, raw=True)  # type: ignore[no-untyped-call]
