"""MemoryStore: the reference implementation of every store capability, in one process."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ..core.tree import utcnow, validate_session_id
from ..errors import StoreError
from .base import (
    HeadConflict,
    SessionStore,
    expiry,
    header_heads,
    join_record,
    outside_parents,
    split_record,
    stored_header,
    summary_of,
    tree_of,
)


class MemoryStore(SessionStore):
    """Sessions in a dict: shared by the agents of one process, gone when it exits.

    Messages are kept per conversation tree; a tree goes with its last session, as in the
    SQL stores. ``ttl`` (seconds) makes sessions expire after their last write; ``clock``
    is injectable for tests.
    """

    def __init__(self, *, ttl: float | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.RLock()
        self._headers: dict[str, dict[str, Any]] = {}
        self._expires: dict[str, datetime | None] = {}
        self._trees: dict[str, dict[str, dict[str, Any]]] = {}  # tree -> message id -> message
        self._members: dict[str, set[str]] = {}  # tree -> the sessions pointing into it
        self._lines: dict[str, dict[str, Any]] = {}  # session -> its listing line, made as it is written

    def __repr__(self) -> str:
        return f"MemoryStore(sessions={len(self._headers)})"

    # -- the four-method contract --------------------------------------------------------

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        validate_session_id(session_id)
        header, messages = split_record(session_id, data)
        with self._lock:
            self._write(session_id, copy.deepcopy(messages), copy.deepcopy(header))

    def load(self, session_id: str) -> dict[str, Any] | None:
        validate_session_id(session_id)
        with self._lock:
            header = self._live_header(session_id)
            if header is None:
                return None
            header = stored_header(session_id, header)
            tree = self._trees.get(tree_of(header), {})
            return copy.deepcopy(join_record(header, tree.values()))

    def delete(self, session_id: str) -> bool:
        validate_session_id(session_id)
        with self._lock:
            header = self._headers.pop(session_id, None)
            if header is None:
                return False
            self._expires.pop(session_id, None)
            self._lines.pop(session_id, None)
            self._leave(header.get("tree"), session_id)
            return True

    def list_sessions(self) -> list[str]:
        with self._lock:
            return sorted(sid for sid in self._headers if not self._expired(sid))

    # -- incremental writes (TurnStore) ----------------------------------------------------

    def append(
        self, session_id: str, messages: list[dict[str, Any]], header: dict[str, Any], expected_rev: int | None
    ) -> None:
        validate_session_id(session_id)
        with self._lock:
            current = self._live_header(session_id)
            header = {**copy.deepcopy(header), "tree": tree_of(header)}
            found = None if current is None else current.get("rev", 0)
            if found != expected_rev or (current is not None and current["tree"] != header["tree"]):
                raise HeadConflict(session_id, expected_rev, found)
            tree = self._trees.get(header["tree"], {})
            missing = [p for p in outside_parents(messages) if p not in tree]
            if missing:
                raise StoreError(
                    f"session {session_id!r}: the turn continues messages {missing} that tree {header['tree']!r} "
                    "no longer holds (the session it continues was deleted from the store by another process; nothing was written: reload the session and retry)"
                )
            self._write(session_id, copy.deepcopy(messages), header)

    def read_header(self, session_id: str) -> dict[str, Any] | None:
        with self._lock:
            header = self._live_header(session_id)
            return copy.deepcopy(stored_header(session_id, header)) if header is not None else None

    def read_messages(self, tree: str, ids: Iterable[str]) -> list[dict[str, Any]]:
        with self._lock:
            messages = self._trees.get(tree, {})
            return [copy.deepcopy(messages[i]) for i in ids if i in messages]

    def list_summaries(self) -> list[dict[str, Any]]:
        with self._lock:
            # As in the other stores: a line made when the session was written, else (a header put
            # there some other way) one from its header, checked, naming its problem if it has one.
            return [
                dict(self._lines.get(sid) or summary_of(self._headers[sid], session_id=sid, check=True))
                for sid in self.list_sessions()
            ]

    # -- expiry (ExpiringStore) --------------------------------------------------------------

    def purge_expired(self) -> int:
        with self._lock:
            expired = [sid for sid in self._headers if self._expired(sid)]
            for sid in expired:
                self.delete(sid)
            return len(expired)

    # -- internals ----------------------------------------------------------------------------

    def _write(self, session_id: str, messages: list[dict[str, Any]], header: dict[str, Any]) -> None:
        tree_id = header["tree"]
        tree = self._trees.setdefault(tree_id, {})
        for message in messages:
            # Ids are unique within a tree: a known id is the same message, kept as it is.
            tree.setdefault(message["id"], {**message, "session_id": message.get("session_id") or session_id})
        missing = [h for h in header_heads(header) if h not in tree]
        if missing:
            if not tree:
                del self._trees[tree_id]
            raise StoreError(
                f"session {session_id!r}: its heads {missing} are not in tree {tree_id!r} "
                "(the session it continues was deleted from the store by another process; nothing was written: reload the session and retry)"
            )
        old = self._headers.get(session_id)
        self._headers[session_id] = header
        self._lines[session_id] = summary_of(header)
        self._expires[session_id] = expiry(self.clock(), header, self.ttl)
        self._members.setdefault(tree_id, set()).add(session_id)
        if old is not None and old["tree"] != tree_id:  # re-saved into another tree
            self._leave(old["tree"], session_id)

    def _leave(self, tree_id: Any, session_id: str) -> None:
        """``session_id`` no longer points into ``tree_id``; the last one out frees the tree."""
        members = self._members.get(tree_id, set())
        members.discard(session_id)
        if not members:
            self._members.pop(tree_id, None)
            self._trees.pop(tree_id, None)

    def _expired(self, session_id: str) -> bool:
        when = self._expires.get(session_id)
        return when is not None and when <= self.clock()

    def _live_header(self, session_id: str) -> dict[str, Any] | None:
        if session_id not in self._headers or self._expired(session_id):
            return None
        return self._headers[session_id]
