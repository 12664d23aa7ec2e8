"""Outputs that follow their sessions: a turn's "not asked on this branch" appears, and
goes, as the session moves; a ``%chat tree`` redraws when its family changes.

Each ``%%chat`` output is a display with an id. When a session changes (a turn in any cell,
a re-run upstream, ``%chat checkout``, the tree's "continue from here"), the agent tells its
listeners; for every output of that session whose turn the current path stopped (or started
again) going through, the output is redrawn in place with ``update_display`` — in whatever
cell it is, which Jupyter frontends support for any display id. The redrawn output keeps the
turn payload it was first shown with (``export.notebook`` reads those), plus ``"current"``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ..core.response import Response
    from ..core.session import Session

KEPT_PER_SESSION = 500  # outputs followed per session (a long notebook's oldest are let go)
KEPT_TREES = 20  # %chat tree outputs followed (one per cell)


@dataclass
class _Shown:
    display_id: str
    response: Response
    fmt: str
    prompt: str | None
    payload: dict[str, Any]
    current: bool = True
    showing: str | None = None  # the head of another answer of this cell the session continues from


class ShownTurns:
    """The turn outputs of this kernel, by session; ``changed`` is an agent listener."""

    def __init__(self) -> None:
        self._by_session: dict[str, list[_Shown]] = {}
        self._lock = threading.Lock()

    def add(self, session: Session, display_id: str, response: Response, bundle: dict[str, Any], *, fmt: str,
            prompt: str | None) -> None:  # fmt: skip
        from ..formats.kinds import SESSION_MIME

        shown = _Shown(display_id, response, fmt, prompt, bundle[SESSION_MIME])
        with self._lock:
            entries = self._by_session.setdefault(session.session_id, [])
            entries[:] = [e for e in entries if e.display_id != display_id][-(KEPT_PER_SESSION - 1) :]
            entries.append(shown)

    def changed(self, session: Session) -> None:
        with self._lock:
            entries = list(self._by_session.get(session.session_id, ()))
        if not entries:
            return
        on_path = {node.id for node in session.nodes}
        for entry in entries:
            current = bool(entry.response.message_ids) and entry.response.message_ids[-1] in on_path
            others = [a for a in entry.payload.get("alternatives") or () if not a.get("current")]
            showing = None if current else next((a["head"] for a in others if a.get("head") in on_path), None)
            if (current, showing) != (entry.current, entry.showing):
                entry.current, entry.showing = current, showing
                self._redraw(session, entry)

    def _redraw(self, session: Session, entry: _Shown) -> None:
        from IPython.display import update_display

        from ..formats.kinds import SESSION_MIME
        from .display import final_bundle

        try:
            bundle = final_bundle(session, entry.response, fmt=entry.fmt, prompt=entry.prompt,
                                  payload=entry.payload, current=entry.current)  # fmt: skip
        except ConfigurationError:  # the turn's messages are gone (a cleared session): stop following it
            with self._lock:
                entries = self._by_session.get(session.session_id, [])
                entries[:] = [e for e in entries if e is not entry]
            return
        if entry.showing is not None:  # our renderer opens the output on that answer
            bundle[SESSION_MIME]["showing"] = entry.showing
        update_display(bundle, display_id=entry.display_id, raw=True)  # type: ignore[no-untyped-call]


@dataclass
class _ShownTree:
    display_id: str
    focus: str  # the session the tree was drawn for
    tree_id: str
    signature: tuple[Any, ...]


class ShownTrees:
    """The ``%chat tree`` outputs of this kernel, redrawn in place when a session of their
    family moves (a turn, a fork, a checkout, a clear); ``changed`` is an agent listener."""

    def __init__(self) -> None:
        self._shown: dict[str, _ShownTree] = {}  # by the cell that showed it (a re-run replaces it)
        self._lock = threading.Lock()

    def displays(self) -> dict[str, str]:
        """The tree outputs followed, oldest first: cell -> display id."""
        with self._lock:
            return {cell: entry.display_id for cell, entry in self._shown.items()}

    def add(self, focus: Session, display_id: str, members: list[Session], *, cell: str) -> None:
        with self._lock:
            self._shown.pop(cell, None)
            self._shown[cell] = _ShownTree(display_id, focus.session_id, focus.tree_id, _signature(members))
            while len(self._shown) > KEPT_TREES:  # each costs a redraw per change: the newest are kept
                self._shown.pop(next(iter(self._shown)))

    def changed(self, session: Session) -> None:
        with self._lock:
            entries = [e for e in self._shown.values() if e.tree_id == session.tree_id]
        for entry in entries:
            self._redraw(session, entry)

    def _redraw(self, session: Session, entry: _ShownTree) -> None:
        from IPython.display import update_display

        from .tree_data import family
        from .tree_view import tree_bundle

        agent = session.agent
        focus = session if session.session_id == entry.focus else agent.get_session(entry.focus, default=None)
        if focus is None:  # the focused session was deleted: the output keeps its last picture
            with self._lock:
                for cell in [c for c, e in self._shown.items() if e is entry]:
                    del self._shown[cell]
            return
        members = family(focus, agent.loaded_sessions())
        signature = _signature(members)
        if signature == entry.signature:
            return  # a write that moved nothing the tree shows (settings, a system prompt, a refresh)
        entry.signature = signature
        update_display(tree_bundle(focus, members), display_id=entry.display_id, raw=True)  # type: ignore[no-untyped-call]


def _signature(members: list[Session]) -> tuple[Any, ...]:
    """What the drawn tree depends on: every member's heads (they fix the reachable messages)."""
    return tuple((m.session_id, m.head, tuple(m.heads), m.current_branch) for m in members)
