"""Restoring a saved notebook's sessions into an agent or a registry, and the trust check that
decides whether the servers they name are the user's own."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.secrets import KEYRING
from ..core.serialize import session_from_dict
from ..core.session import Session
from ..errors import ConfigurationError
from .notebook_merge import read_sessions
from .notebook_read import read_notebook

if TYPE_CHECKING:
    from ..core.agent import Agent
    from ..jupyter.registry import Registry


def restore_notebook(
    source: str | os.PathLike[str] | Any, target: Agent | Registry, *, replace: bool = False
) -> list[str]:
    """Rebuild every session of a saved notebook into an agent or a registry; returns their ids.

    Sessions of an agent with a store are saved to the store as well. If any of the ids
    already exists (live or stored), nothing is restored and a ConfigurationError says
    which, unless ``replace=True``: then they are overwritten with the notebook's version.
    Everything is validated before anything is changed.
    """
    from ..core.agent import Agent

    agent = target if isinstance(target, Agent) else target.agent
    notebook = read_notebook(Path(source)) if isinstance(source, (str, os.PathLike)) else source
    records = read_sessions(notebook)
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
    return list(records)


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
