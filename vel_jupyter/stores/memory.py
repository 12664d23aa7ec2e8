"""MemoryStore: the reference implementation of every store capability, in one process."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ..core.tree import utcnow, validate_session_id
from .base import HeadConflict, SessionStore, expiry, join_record, rehomed_lineage, split_record


class MemoryStore(SessionStore):
    """Sessions in a dict: shared by the agents of one process, gone when it exits.

    ``ttl`` (seconds) makes sessions expire after their last write; ``clock`` is
    injectable for tests.
    """

    def __init__(self, *, ttl: float | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.RLock()
        self._headers: dict[str, dict[str, Any]] = {}
        self._expires: dict[str, datetime | None] = {}
        self._messages: dict[str, dict[str, Any]] = {}
        self._owned: dict[str, list[str]] = {}

    def __repr__(self) -> str:
        return f"MemoryStore(sessions={len(self._headers)})"

    # -- the four-method contract --------------------------------------------------------

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        validate_session_id(session_id)
        header, messages = split_record(session_id, data)
        with self._lock:
            self._rehome_for_forks(session_id)  # replacing never takes messages a fork reads
            self._drop_messages(session_id)
            self._write(session_id, copy.deepcopy(messages), copy.deepcopy(header))

    def load(self, session_id: str) -> dict[str, Any] | None:
        validate_session_id(session_id)
        with self._lock:
            header = self._live_header(session_id)
            if header is None:
                return None
            families = [session_id, *(header.get("lineage") or [])]
            messages = [self._messages[i] for sid in families for i in self._owned.get(sid, ())]
            return copy.deepcopy(join_record(header, messages, self.read_messages))

    def delete(self, session_id: str) -> bool:
        validate_session_id(session_id)
        with self._lock:
            if session_id not in self._headers:
                return False
            self._rehome_for_forks(session_id)
            self._drop_messages(session_id)
            del self._headers[session_id]
            self._expires.pop(session_id, None)
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
            found = None if current is None else current.get("rev", 0)
            if found != expected_rev:
                raise HeadConflict(session_id, expected_rev, found)
            if current is None and session_id in self._headers:  # an expired leftover: the id is free again
                self.delete(session_id)
            self._write(session_id, copy.deepcopy(messages), copy.deepcopy(header))

    def read_header(self, session_id: str) -> dict[str, Any] | None:
        with self._lock:
            header = self._live_header(session_id)
            return copy.deepcopy(header) if header is not None else None

    def read_messages(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(self._messages[i]) for i in ids if i in self._messages]

    # -- expiry (ExpiringStore) --------------------------------------------------------------

    def purge_expired(self) -> int:
        with self._lock:
            expired = [sid for sid in self._headers if self._expired(sid)]
            for sid in expired:
                self.delete(sid)
            return len(expired)

    # -- internals ----------------------------------------------------------------------------

    def _write(self, session_id: str, messages: list[dict[str, Any]], header: dict[str, Any]) -> None:
        now = self.clock()
        owned = self._owned.setdefault(session_id, [])
        for message in messages:
            if message["id"] not in self._messages:  # ids are global: a known id is the same message
                self._messages[message["id"]] = {**message, "session_id": message.get("session_id") or session_id}
                owned.append(message["id"])
        self._headers[session_id] = header
        self._expires[session_id] = expiry(now, header, self.ttl)
        # A live fork keeps its origins alive (even one that expired but was not purged
        # yet: the fork still reads its messages).
        for origin in header.get("lineage") or []:
            if origin in self._expires and self._expires[origin] is not None:
                later = self._expires[session_id]
                self._expires[origin] = None if later is None else max(self._expires[origin], later)  # type: ignore[type-var]

    def _expired(self, session_id: str) -> bool:
        when = self._expires.get(session_id)
        return when is not None and when <= self.clock()

    def _live_header(self, session_id: str) -> dict[str, Any] | None:
        if session_id not in self._headers or self._expired(session_id):
            return None
        return self._headers[session_id]

    def _drop_messages(self, session_id: str) -> None:
        for message_id in self._owned.pop(session_id, []):
            self._messages.pop(message_id, None)

    def _rehome_for_forks(self, session_id: str) -> None:
        """Before deleting a session, hand its messages to the first fork that needs them."""
        dependents = sorted(sid for sid, h in self._headers.items() if session_id in (h.get("lineage") or []))
        if not dependents:
            return
        heir = dependents[0]
        moved = self._owned.pop(session_id, [])
        self._owned.setdefault(heir, []).extend(moved)
        for sid in dependents:
            header = self._headers[sid]
            header["lineage"] = rehomed_lineage(header["lineage"], session_id, heir, sid)
