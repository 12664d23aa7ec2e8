"""The store contract (guide A's four methods) and the optional capabilities built-in stores add.

A *record* is what ``Session.to_dict()`` returns: a header (``session_id``, ``tree``, ``system``,
``head``, ``heads``, ``rev``, ...) plus ``messages``, one dict per message with ``id``,
``parent_id``, ``session_id`` (the session that wrote it), ``role``, ``content``, ``meta``...

Built-in stores keep messages by *conversation tree* (the header's ``tree``), not by session:
a session and its forks share one tree, a session's row is only its header, and a tree's
messages go when its last session goes. Deleting, re-saving, copying or expiring one session
therefore never removes a message another session can reach.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from ..errors import StoreError

HEADER_KEYS = (
    "version", "kind", "session_id", "tree", "system", "head", "heads", "current", "settings",
    "summaries", "forked_from", "lineage", "stats", "rev", "created_at", "updated_at",
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
    """Incremental writes into conversation trees: a turn costs O(1) in history length.

    ``append`` inserts ``messages`` into the tree ``header["tree"]`` (ids the tree already has
    are kept as they are) and writes ``header`` as the session's, in one transaction, only if
    the stored revision is ``expected_rev`` and the stored header points into the same tree
    (``expected_rev`` None: the session must not exist, or be expired); otherwise it raises
    HeadConflict and writes nothing — so a writer still holding a session that was deleted and
    started again (a new tree) can never write into it. A header naming a head, or messages
    naming a parent, that the tree does not hold is refused with StoreError (the tree was freed
    meanwhile): no session can ever point at a missing message.
    """

    def append(
        self, session_id: str, messages: list[dict[str, Any]], header: dict[str, Any], expected_rev: int | None
    ) -> None: ...

    def read_header(self, session_id: str) -> dict[str, Any] | None: ...

    def read_messages(self, tree: str, ids: Iterable[str]) -> list[dict[str, Any]]: ...

    def list_summaries(self) -> list[dict[str, Any]]:
        """A line per live session, sorted by id, from headers alone (see ``summary_of``)."""
        ...


@runtime_checkable
class ExpiringStore(Protocol):
    """Sessions that expire: ``ttl`` seconds after their last write (store-wide or per session)."""

    def purge_expired(self) -> int: ...


def legacy_tree(header: dict[str, Any]) -> str:
    """The tree of a header written before trees existed (format 1): its family's root.

    A format-1 fork listed its origins nearest first in ``lineage``, so the last one is the
    family's first session; a session that was nobody's fork is its own root.
    """
    lineage = header.get("lineage") or []
    return str(lineage[-1]) if lineage else str(header["session_id"])


def legacy_trees(
    rows: Iterable[tuple[str, dict[str, Any]]], owners: dict[str, tuple[str | None, str]] | None = None
) -> dict[str, str]:
    """The tree of every format-1 session: one per family (union-find).

    Format 1 kept a fork's origins in ``lineage`` and ``forked_from``, and handed rows to a fork
    when their owner was deleted or re-saved (rewriting lineages as it went), so a session's
    messages may be owned by any member of its family. Sessions are therefore joined by lineage,
    by fork origin, and — the one link that cannot be stale — by who owns the messages they
    reach: ``owners`` maps each message id to its (parent id, owning session).
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(a: str, b: str) -> None:
        a, b = find(a), find(b)
        if a != b:
            parent[max(a, b)] = min(a, b)

    headers = dict(rows)
    for sid, header in headers.items():
        find(sid)
        for origin in header.get("lineage") or []:
            join(sid, str(origin))
        origin = (header.get("forked_from") or {}).get("session_id")
        if origin in headers:
            join(sid, str(origin))
        seen: set[str] = set()
        for head in header_heads(header) if owners is not None else []:
            current: str | None = head
            while current is not None and current in owners and current not in seen:  # type: ignore[operator]
                seen.add(current)
                parent_id, owner = owners[current]  # type: ignore[index]
                if owner in headers:
                    join(sid, owner)
                current = parent_id
    roots: dict[str, str] = {}
    for sid in sorted(headers):  # a family keeps a tree one of its members already names
        if headers[sid].get("tree"):
            roots.setdefault(find(sid), str(headers[sid]["tree"]))
    for sid in sorted(headers):  # else it is named after its first member, so ids stay readable
        roots.setdefault(find(sid), find(sid))
    return {sid: roots[find(sid)] for sid in headers}


def legacy_stats(header: dict[str, Any], rows: dict[str, tuple[str | None, Any]]) -> dict[str, int]:
    """``stats`` of a format-1 header: its current path walked through ``rows`` (id -> parent, meta)."""
    count = tokens = 0
    current = header.get("head")
    seen: set[str] = set()
    while current is not None and current in rows and current not in seen:
        seen.add(current)
        parent, meta = rows[current]
        meta = meta if isinstance(meta, dict) else {}
        count += 1
        tokens += int(meta.get("prompt_tokens") or 0) + int(meta.get("completion_tokens") or 0)
        current = parent
    return {"messages": count, "tokens": tokens}


def place_in_trees(
    headers: Iterable[tuple[str, dict[str, Any]]], messages: dict[str, tuple[str | None, str, Any]]
) -> None:
    """Give format-1 headers (in place) their tree and their current path's ``stats``.

    ``messages`` maps every message id to its (parent id, owning session, meta): the families
    come from ``legacy_trees``, the counts from ``legacy_stats``. A header that already names a
    tree keeps it and lends it to its family.
    """
    headers = list(headers)
    trees = legacy_trees(headers, {mid: (parent, owner) for mid, (parent, owner, _) in messages.items()})
    rows = {mid: (parent, meta) for mid, (parent, _, meta) in messages.items()}
    for sid, header in headers:
        header["tree"] = trees[sid]
        header["stats"] = legacy_stats(header, rows)


def tree_of(header: dict[str, Any]) -> str:
    """The conversation tree a header points into (format 1 headers: see ``legacy_tree``)."""
    tree = header.get("tree")
    if tree is None:
        return legacy_tree(header)
    if not isinstance(tree, str) or not tree:
        raise StoreError(f"session {header.get('session_id')!r}: its header names no valid tree ({tree!r})")
    return tree


def header_heads(header: dict[str, Any]) -> list[str]:
    """The message ids a header points at (its branches and head), without repeats."""
    out: list[str] = []
    for head in [*(header.get("heads") or []), header.get("head")]:
        if head is not None and head not in out:
            out.append(head)
    return out


def outside_parents(messages: Iterable[dict[str, Any]]) -> list[str]:
    """Parents of ``messages`` that are not among them: the tree must hold these already."""
    messages = list(messages)
    ids = {m["id"] for m in messages}
    return sorted({m["parent_id"] for m in messages if m.get("parent_id") is not None and m["parent_id"] not in ids})


def summary_of(header: dict[str, Any]) -> dict[str, Any]:
    """What a listing shows of a session: ``session_id``, ``model`` (None: the agent's),
    ``messages`` and ``tokens`` on its current path, ``branches``, ``updated_at`` (ISO text)."""
    stats = header.get("stats") or {}
    return {
        "session_id": header["session_id"],
        "model": (header.get("settings") or {}).get("model"),
        "messages": int(stats.get("messages") or 0),
        "tokens": int(stats.get("tokens") or 0),
        "branches": len(header.get("heads") or []),
        "updated_at": header.get("updated_at"),
    }


def split_record(session_id: str, data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Header and messages of a ``to_dict()`` record, checked enough to store safely."""
    if not isinstance(data, dict) or not isinstance(data.get("messages", []), list):
        raise StoreError(f"session {session_id!r}: save() needs the dict from Session.to_dict()")
    header = {k: data[k] for k in HEADER_KEYS if k in data}
    header["session_id"] = session_id
    header["tree"] = tree_of(header)
    header.setdefault("kind", "vel_jupyter.session")
    header.setdefault("version", 1)
    messages = data.get("messages") or []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("id"), str):
            raise StoreError(f"session {session_id!r}: a message without an id cannot be stored")
    known = {m["id"] for m in messages}
    missing = [h for h in header_heads(header) if h not in known]
    if missing:
        raise StoreError(f"session {session_id!r}: save() got heads {missing} that are not among its messages")
    return header, messages


def join_record(header: dict[str, Any], messages: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The ``to_dict()`` form: the header plus the messages on the session's branches.

    ``messages`` are (at least) the rows of the session's tree. A message that cannot be
    found is an error, never skipped: the stores' invariant is that it cannot happen.
    """
    by_id = {m["id"]: m for m in messages}
    seen: set[str] = set()
    ordered: list[dict[str, Any]] = []
    for head in header_heads(header):
        chain = []
        current: str | None = head
        while current is not None and current not in seen:
            message = by_id.get(current)
            if message is None:
                raise StoreError(
                    f"session {header.get('session_id')!r}: message {current!r} is missing from its tree "
                    f"{header.get('tree')!r} (the store was changed outside vel_jupyter)"
                )
            seen.add(current)
            chain.append(message)
            current = message.get("parent_id")
        ordered.extend(reversed(chain))
    return {**header, "messages": ordered}


def expiry(now: datetime, header: dict[str, Any], default_ttl: float | None) -> datetime | None:
    """When a session written at ``now`` expires: its own ``ttl`` setting, else the store's."""
    ttl = (header.get("settings") or {}).get("ttl", default_ttl)
    return None if ttl is None else now + timedelta(seconds=float(ttl))
