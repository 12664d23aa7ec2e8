"""The store contract (guide A's four methods) and the optional capabilities built-in stores add.

A *record* is what ``Session.to_dict()`` returns: a header (``session_id``, ``system``,
``head``, ``heads``, ``rev``, ...) plus ``messages``, one dict per message with ``id``,
``parent_id``, ``session_id`` (the session that wrote it), ``role``, ``content``, ``meta``...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from ..errors import StoreError

HEADER_KEYS = (
    "version", "kind", "session_id", "system", "head", "heads", "current", "settings",
    "summaries", "forked_from", "lineage", "rev", "created_at", "updated_at",
)  # fmt: skip


class SessionStore:
    """Base class of every store, and all a custom store needs to implement.

    Subclasses override the four methods below (guide A's "Custom Store"); a store with
    only these works everywhere a built-in one does, saving the whole session each turn.
    """

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        """Store ``data`` (a ``Session.to_dict()``) under ``session_id``, replacing what was there."""
        raise NotImplementedError

    def load(self, session_id: str) -> dict[str, Any] | None:
        """The data last saved under ``session_id``, or None if there is none (or it expired)."""
        raise NotImplementedError

    def delete(self, session_id: str) -> bool:
        """Remove the session; True if it existed."""
        raise NotImplementedError

    def list_sessions(self) -> list[str]:
        """Ids of every stored, unexpired session, sorted."""
        raise NotImplementedError


class HeadConflict(Exception):
    """Another writer changed the session since we read it (compare-and-swap failed)."""

    def __init__(self, session_id: str, expected: int | None, found: int | None) -> None:
        super().__init__(f"session {session_id!r} changed: expected revision {expected}, found {found}")
        self.session_id = session_id
        self.expected = expected
        self.found = found


@runtime_checkable
class TurnStore(Protocol):
    """Incremental writes: a turn costs O(1) in history length, guarded by the header revision.

    ``expected_rev`` is the revision the writer last saw (None: the session must not exist).
    On mismatch the store raises HeadConflict and writes nothing.
    """

    def append(
        self, session_id: str, messages: list[dict[str, Any]], header: dict[str, Any], expected_rev: int | None
    ) -> None: ...

    def read_header(self, session_id: str) -> dict[str, Any] | None: ...

    def read_messages(self, ids: Iterable[str]) -> list[dict[str, Any]]: ...


@runtime_checkable
class ExpiringStore(Protocol):
    """Sessions that expire: ``ttl`` seconds after their last write (store-wide or per session)."""

    def purge_expired(self) -> int: ...


def split_record(session_id: str, data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Header and messages of a ``to_dict()`` record, checked enough to store safely."""
    if not isinstance(data, dict) or not isinstance(data.get("messages", []), list):
        raise StoreError(f"session {session_id!r}: save() needs the dict from Session.to_dict()")
    header = {k: data[k] for k in HEADER_KEYS if k in data}
    header["session_id"] = session_id
    messages = data.get("messages") or []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("id"), str):
            raise StoreError(f"session {session_id!r}: a message without an id cannot be stored")
    return header, messages


def join_record(
    header: dict[str, Any],
    messages: list[dict[str, Any]],
    fetch: Callable[[list[str]], list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The ``to_dict()`` form: the header plus the messages on the session's branches.

    ``messages`` are the rows of the session and its lineage (the fast path); ids still
    missing — rows handed to another fork when an origin was deleted — are looked up
    by id with ``fetch``. A message that cannot be found is an error, never skipped.
    """
    by_id = {m["id"]: m for m in messages}
    heads = [*(header.get("heads") or []), header.get("head")]
    seen: set[str] = set()
    ordered: list[dict[str, Any]] = []
    for head in heads:
        chain = []
        current = head
        while current is not None and current not in seen:
            message = by_id.get(current)
            if message is None and fetch is not None:
                by_id.update((m["id"], m) for m in fetch([current]))
                message = by_id.get(current)
            if message is None:
                raise StoreError(
                    f"session {header.get('session_id')!r}: message {current!r} is missing from the store "
                    "(its origin session may have been deleted outside vel_jupyter)"
                )
            seen.add(current)
            chain.append(message)
            current = message.get("parent_id")
        ordered.extend(reversed(chain))
    return {**header, "messages": ordered}


def rehomed_lineage(lineage: list[str], gone: str, heir: str, dependent: str) -> list[str]:
    """A dependent's lineage after ``gone``'s messages moved to ``heir``: no repeats, never itself."""
    out: list[str] = []
    for origin in lineage:
        replacement = heir if origin == gone else origin
        if replacement != dependent and replacement not in out:
            out.append(replacement)
    return out


def expiry(now: datetime, header: dict[str, Any], default_ttl: float | None) -> datetime | None:
    """When a session written at ``now`` expires: its own ``ttl`` setting, else the store's."""
    ttl = (header.get("settings") or {}).get("ttl", default_ttl)
    return None if ttl is None else now + timedelta(seconds=float(ttl))
