"""``%chat state``: where sessions stand, as one line of JSON for the JupyterLab extension.

The extension asks it for every turn output it draws (and again when the page reconnects), so
what an output derives (on the current path or not, which answer of its cell the session
continues from) comes from the kernel when shown, never from the moment the cell ran. It is
cheap: headers and ids only, no message bodies; with ``--on`` it answers only for the message
ids asked about, so the reply stays small however long a session grows.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .commands import Caller
from .registry import registry


def state(args: argparse.Namespace, caller: Caller) -> None:
    """Print ``{"sessions": {ID: {...}}}``: for each session this kernel has, its head, its
    branches (heads and the current one's 0-based index) and either the ids on its current path
    or, with ``--on``, those of the asked ids that are on it. Unknown ids: ``{"known": false}``."""
    asked = [word for words in args.on or () for word in words.split(",") if word] if args.on is not None else None
    agent = registry().agent
    out: dict[str, dict[str, Any]] = {}
    for sid in args.session_ids:
        try:
            session = agent.get_session(sid, default=None)
        except Exception:  # an id no store accepts is a session this kernel does not have
            session = None
        if session is None:
            out[sid] = {"known": False}
            continue
        path = [node.id for node in session.nodes]
        entry: dict[str, Any] = {
            "known": True,
            "head": session.head,
            "heads": list(session.heads),
            "branch": session.current_branch,
        }
        if asked is None:
            entry["path"] = path
        else:
            on_path = set(path)
            entry["on"] = [m for m in dict.fromkeys(asked) if m in on_path]
        out[sid] = entry
    print(json.dumps({"sessions": out}, separators=(",", ":")))
