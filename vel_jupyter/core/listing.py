"""Listings: a line per session (``%chat list``, ``agent.session_summaries()``), from headers only.

A session whose stored data is damaged is listed with its problem (``damaged``), never left
out, and never stops the listing of the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import SessionDataError, StoreError
from ..formats import check_record
from ..formats.records import summary_line, summary_of
from .store_reads import stats_of_record, store_call

if TYPE_CHECKING:
    from .ports import SessionStore, TurnStore
    from .session import Session


class SessionSummary(NamedTuple):
    """What ``%chat list`` shows of a session, read from its header alone (a tuple: listings are long).

    ``damaged`` is why a stored session cannot be loaded (one line naming the field, as loading
    it would raise), or None: a listing shows a damaged session beside the others.
    """

    session_id: str
    model: str
    messages: int
    branches: int
    tokens: int
    updated: str  # ISO 8601, as stored; ``updated_at`` parses it
    damaged: str | None = None

    @property
    def updated_at(self) -> datetime:
        """When it was last written (``datetime.min``, in UTC, when a damaged header does not say)."""
        try:
            return datetime.fromisoformat(self.updated)
        except ValueError:
            return datetime.min.replace(tzinfo=timezone.utc)


def list_summaries(
    store: SessionStore | None, turns: TurnStore | None, loaded: Iterable[Session], default_model: str
) -> list[SessionSummary]:
    """A line per session of ``store`` (``turns``: the same store, when it keeps listing lines)
    and of ``loaded`` (what this process holds, which is at least as fresh)."""
    lines: dict[str, dict[str, Any]] = {}
    if turns is not None:
        for raw in store_call("*", turns.list_summaries):
            sid = raw.get("session_id") if isinstance(raw, dict) else None
            if isinstance(sid, str):  # (built-in stores check their lines; a store of the user's may not)
                lines[sid] = summary_line(sid, raw) or {
                    **summary_of({}, session_id=sid),
                    "damaged": f"session {sid!r}: the store gave an unreadable listing line",
                }
    elif store is not None:  # a four-method store: only whole records can be read
        for sid in store_call("*", store.list_sessions):
            lines[sid] = summary_of_record(store, sid)
    for session in loaded:  # what this process holds is at least as fresh
        if session.persistent:
            lines[session.session_id] = summary_of(session.header())
    return [
        SessionSummary(
            line["session_id"],
            line["model"] or default_model,
            line["messages"],
            line["branches"],
            line["tokens"],
            line["updated_at"] or "",
            line.get("damaged"),
        )
        for line in (lines[sid] for sid in sorted(lines))
        if line
    ]


def summary_of_record(store: SessionStore, sid: str) -> dict[str, Any]:
    """The listing line of a four-method store's session: its whole record, checked."""
    data: Any = None
    try:
        data = store_call(sid, lambda: store.load(sid))
        if data is None:
            return {}  # deleted meanwhile
        check_record({**data, "session_id": sid} if isinstance(data, dict) else data, f"session {sid!r}")
    except (SessionDataError, StoreError) as exc:
        return {**summary_of(data if isinstance(data, dict) else {}, session_id=sid), "damaged": str(exc)}
    return summary_of({"stats": stats_of_record(data), **data, "session_id": sid}, session_id=sid, check=True)
