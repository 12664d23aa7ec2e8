"""Restoring a saved notebook's sessions into an agent or a registry (what was restored and
what was skipped), and the trust check that decides whether the servers they name are the
user's own."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.secrets import KEYRING
from ..core.serialize import session_from_dict
from ..core.session import Session
from ..errors import ConfigurationError
from .notebook_merge import count_turns, merge_notebook
from .notebook_read import read_notebook

if TYPE_CHECKING:
    from ..core.agent import Agent
    from ..jupyter.registry import Registry


@dataclass(frozen=True)
class Restored:
    """What a restore brought back: the sessions' ids, their turns and the earlier answers
    their cells had (``count_turns``), and one line per turn it had to skip."""

    ids: list[str]
    turns: int
    alternatives: int
    skipped: list[str]


def restore_notebook(
    source: str | os.PathLike[str] | Any, target: Agent | Registry, *, replace: bool = False
) -> list[str]:
    """Rebuild every session of a saved notebook into an agent or a registry; returns their ids.

    Sessions of an agent with a store are saved to the store as well. If any of the ids
    already exists (live or stored), nothing is restored and a ConfigurationError says
    which, unless ``replace=True``: then they are overwritten with the notebook's version.
    Everything is validated before anything is changed. A turn that cannot be placed (it
    continues a message the notebook does not hold) is left out with a ``UserWarning``
    naming its cell; everything else is restored.
    """
    restored = restore_sessions(source, target, replace=replace)
    for line in restored.skipped:
        warnings.warn(line, stacklevel=2)
    return restored.ids


def restore_sessions(
    source: str | os.PathLike[str] | Any, target: Agent | Registry, *, replace: bool = False
) -> Restored:
    """``restore_notebook``, returning what was restored and skipped (``%chat restore`` says it)."""
    from ..core.agent import Agent

    agent = target if isinstance(target, Agent) else target.agent
    notebook = read_notebook(Path(source)) if isinstance(source, (str, os.PathLike)) else source
    merged = merge_notebook(notebook)
    records = merged.records
    existing = set(agent.list_sessions()) & set(records)
    if existing and not replace:
        raise ConfigurationError(
            f"sessions {', '.join(sorted(existing))} already exist in this kernel; restore with replace=True "
            "(%chat restore --notebook PATH --replace) to overwrite them with the notebook's version"
        )
    for record in records.values():
        session_from_dict(record, agent)  # validate all first (not registered)
    # Origins before their forks, so a store sees each message first under its writer.
    position = {sid: index for index, sid in enumerate(records)}
    for sid in sorted(records, key=lambda s: (len(records[s].get("lineage") or []), position[s])):
        Session.from_dict(records[sid], agent)  # with a store, this writes the session there too
    if is_trusted(notebook):  # Jupyter's own trust: the user signed it, so its servers are theirs
        for record in records.values():
            url = (record.get("settings") or {}).get("base_url")
            if url:
                KEYRING.accept(url)
    turns, alternatives = count_turns(records.values())
    return Restored(list(records), turns, alternatives, [str(s) for s in merged.skipped])


def is_trusted(notebook: Any) -> bool:
    """Whether Jupyter trusts ``notebook``: its signature is in this user's database
    (``jupyter trust``, or saved by this user's Jupyter). A mailed notebook is not."""
    import nbformat
    from nbformat.sign import NotebookNotary

    try:
        node = notebook if isinstance(notebook, nbformat.NotebookNode) else nbformat.from_dict(notebook)  # type: ignore[no-untyped-call]
        return bool(NotebookNotary().check_signature(node))  # type: ignore[no-untyped-call]
    except Exception:  # no signature database, an unreadable one: not trusted
        return False
