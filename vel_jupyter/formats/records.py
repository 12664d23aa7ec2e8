"""Records, headers and listing lines: the saved session shapes read and written as data.

A *record* is what ``Session.to_dict()`` returns: a header (``session_id``, ``tree``, ``system``,
``head``, ``heads``, ``rev``, ...) plus ``messages``, one dict per message with ``id``,
``parent_id``, ``session_id`` (the session that wrote it), ``role``, ``content``, ``meta``...
A *listing line* (``summary_of``) is what ``%chat list`` shows of a session, from its header.

Everything here is a pure function of that data, so the engine (``core``) and every store use
one definition: how a header is checked when read back (``stored_header``), how a record splits
into header and messages and joins again (``split_record``/``join_record``), and how a header
written before conversation trees existed (format 1) is placed in its tree (``legacy_*``).
What these read is data from outside: a damaged row is one ``SessionDataError`` line naming the
session and the field (``damaged``), never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..errors import SessionDataError, StoreError
from .kinds import SESSION_KIND
from .limits import LIMITS, SESSION_ID
from .text import clean_text
from .validate import check_header, check_record, check_summary_header, load_json

HEADER_KEYS = (
    "version", "kind", "session_id", "tree", "system", "head", "heads", "current", "settings",
    "summaries", "forked_from", "lineage", "stats", "rev", "created_at", "updated_at",
)  # fmt: skip


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


def summary_of(header: Any, *, session_id: str | None = None, check: bool = False) -> dict[str, Any]:
    """What a listing shows of a session: ``session_id``, ``model`` (None: the agent's),
    ``messages`` and ``tokens`` on its current path, ``branches``, ``updated_at`` (ISO text),
    and — with ``check``, for a header read from a store — ``damaged``: why the session cannot
    be loaded (``formats.check_summary_header``), or None.

    A damaged header is still summarised, from the fields that can be read, so that a listing
    shows it beside the others.
    """
    h = header if isinstance(header, dict) else {}
    sid = session_id if session_id is not None else h.get("session_id")
    problem = None
    if check:
        if not isinstance(sid, str) or not SESSION_ID.fullmatch(sid):
            problem = f"{clean_text(str(sid))[: LIMITS.id_chars]!r} is not a valid session id (it cannot be loaded)"
        elif not isinstance(header, dict):
            problem = f"session {sid!r}: its header is a {type(header).__name__}, not an object"
        else:
            problem = check_summary_header({**h, "session_id": sid})
    stats = h.get("stats")
    stats = stats if isinstance(stats, dict) else {}
    settings = h.get("settings")
    model = settings.get("model") if isinstance(settings, dict) else None
    heads = h.get("heads")
    line: dict[str, Any] = {
        "session_id": sid if isinstance(sid, str) else str(sid),
        "model": model if isinstance(model, str) else None,
        "messages": _count(stats.get("messages")),
        "tokens": _count(stats.get("tokens")),
        "branches": len(heads) if isinstance(heads, list) else 0,
        "updated_at": _iso(h.get("updated_at")),
    }
    if problem is not None:
        line["damaged"] = problem
    return line


def summary_line(session_id: str, raw: Any) -> dict[str, Any] | None:
    """A listing line a store kept (``summary_of``'s dict, read back as data), checked: None when
    it is missing or unreadable, and the caller lists the session from its header instead.

    The row's id is the session's (a line copied with its row may name another).
    """
    if not isinstance(raw, dict):
        return None
    model, problem = raw.get("model"), raw.get("damaged")
    counts = [raw.get(key) for key in ("messages", "tokens", "branches")]
    updated = raw.get("updated_at")
    if (
        not (model is None or (isinstance(model, str) and len(model) <= LIMITS.id_chars))
        or not all(_count(value, None) is not None for value in counts)
        or not (updated is None or _iso(updated) is not None)
        or not (problem is None or isinstance(problem, str))
    ):
        return None
    line = {
        "session_id": session_id,
        "model": model,
        "messages": counts[0],
        "tokens": counts[1],
        "branches": counts[2],
        "updated_at": updated,
    }
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        line["session_id"] = clean_text(str(session_id))[: LIMITS.id_chars]
        problem = f"{line['session_id']!r} is not a valid session id (it cannot be loaded)"
    if problem is not None:
        line["damaged"] = clean_text(problem)[:1000]
    return line


def summary_pairs(joined: Any, count: int) -> dict[str, dict[str, Any] | None] | None:
    """Listing lines a database joined into one JSON text ``[[id, line], ...]`` (one value to
    decode for 10,000 sessions), as id -> checked line (None: unreadable, see ``summary_line``).

    None if the text as a whole cannot be trusted — not JSON, or not ``count`` pairs (a line
    that is not JSON broke out of its pair): the caller reads the lines one by one.
    """
    if not joined:
        return {} if not count else None
    try:
        pairs = load_json(joined, "summaries")
    except SessionDataError:
        return None
    if not isinstance(pairs, list) or len(pairs) != count:
        return None
    lines: dict[str, dict[str, Any] | None] = {}
    for pair in pairs:
        if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str) or pair[0] in lines:
            return None
        lines[pair[0]] = summary_line(pair[0], pair[1])
    return lines


def _count(value: Any, default: int | None = 0) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= LIMITS.count:
        return value
    return default


def _iso(value: Any) -> str | None:
    """``value`` if it is an ISO 8601 time (what a listing may show), else None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return None
    return value


_DAMAGED = "the stored session is damaged"


def damaged(exc: SessionDataError, session_id: str | None) -> SessionDataError:
    """``exc`` (a stored row that fails the validator) naming the session and saying what to do
    about it (once); ``session_id`` None: the caller names the session (``exc`` as it is)."""
    if session_id is None or _DAMAGED in str(exc):
        return exc
    text = str(exc) if repr(session_id) in str(exc) else f"session {session_id!r}: {exc}"
    return SessionDataError(
        f"{text}; {_DAMAGED} (written outside vel_jupyter?) and nothing was changed: "
        f"repair it, or delete it with agent.delete_session({session_id!r})"
    )


def stored_header(session_id: str, header: dict[str, Any]) -> dict[str, Any]:
    """A header read from a store, checked by ``formats.check_header``; the row's id is its session id.

    NUL, which PostgreSQL refuses, becomes U+FFFD in the system prompt as in every message
    (``formats.text``; the validator refuses a lone surrogate). Raises SessionDataError (see
    ``damaged``).
    """
    if header.get("session_id") != session_id:
        header = {**header, "session_id": session_id}  # a row copied under another id is that session
    try:
        check_header(header, f"session {session_id!r}")
    except SessionDataError as exc:
        raise damaged(exc, session_id) from None
    system = header.get("system")
    if system is not None and clean_text(system) is not system:
        header = {**header, "system": clean_text(system)}
    return header


def split_record(session_id: str, data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Header and messages of a ``to_dict()`` record, checked by ``formats.check_record``: what
    ``save`` stores is what a load accepts, so one bad record cannot break a shared store."""
    if not isinstance(data, dict) or not isinstance(data.get("messages", []), list):
        raise StoreError(f"session {session_id!r}: save() needs the dict from Session.to_dict()")
    try:
        check_record({**data, "session_id": session_id}, f"session {session_id!r}")
    except SessionDataError as exc:
        raise SessionDataError(f"{exc} (save() stored nothing)") from None
    header = {k: data[k] for k in HEADER_KEYS if k in data}
    header["session_id"] = session_id
    header["tree"] = tree_of(header)
    header.setdefault("kind", SESSION_KIND)
    header.setdefault("version", 1)
    messages = data.get("messages") or []
    known = {m["id"] for m in messages}
    missing = [h for h in header_heads(header) if h not in known]
    if missing:
        raise StoreError(f"session {session_id!r}: save() got heads {missing} that are not among its messages")
    return header, messages


def join_record(header: dict[str, Any], messages: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The ``to_dict()`` form: the header plus the messages on the session's branches.

    ``messages`` are (at least) the rows of the session's tree. A message that cannot be
    found is an error, never skipped: the stores' invariant is that it cannot happen. Rows
    are data from outside: one without a text id or parent is a SessionDataError here, and the
    rest of each message is checked where the record is read (``formats.check_record``).
    """
    sid = str(header.get("session_id"))
    by_id: dict[str, dict[str, Any]] = {}
    for message in messages:
        mid = message.get("id") if isinstance(message, dict) else None
        if not isinstance(mid, str) or not isinstance(message.get("parent_id"), (str, type(None))):
            raise damaged(
                SessionDataError(
                    f"session {sid!r}: a message row of tree {header.get('tree')!r} has no valid "
                    f"{'parent_id' if isinstance(mid, str) else 'id'} ({clean_text(repr(message))[:100]})"
                ),
                sid,
            )
        by_id[mid] = message
    seen: set[str] = set()
    ordered: list[dict[str, Any]] = []
    for head in header_heads(header):
        chain = []
        current: str | None = head
        while current is not None and current not in seen:
            found = by_id.get(current)
            if found is None:
                raise StoreError(
                    f"session {sid!r}: message {current!r} is missing from its tree "
                    f"{header.get('tree')!r} (the store was changed outside vel_jupyter)"
                )
            seen.add(current)
            chain.append(found)
            current = found.get("parent_id")
        ordered.extend(reversed(chain))
    return {**header, "messages": ordered}
