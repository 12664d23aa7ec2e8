"""Rebuilding sessions from a saved notebook's payloads: one ``Session.to_dict()`` record per
session id, messages pooled by id and turns replayed in the order they were made (notebook.py's
docstring gives the rules)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from ..core.serialize import header_from_dict, new_header, node_from_dict, tree_from_messages
from ..errors import SessionDataError
from ..formats import check_links
from ..formats.records import place_in_trees
from .notebook_read import SavedExport, SavedTurn, collect, read_notebook, timestamp


def read_sessions(source: str | os.PathLike[str] | Any) -> dict[str, dict[str, Any]]:
    """Every session a saved notebook holds, as ``Session.to_dict()`` records by session id.

    ``source`` is a path to an ``.ipynb`` or an nbformat notebook. Full exports (outputs and
    metadata) and per-turn outputs are merged as notebook.py's docstring describes; the
    records are validated, so ``Session.from_dict`` accepts each. Ids are listed in order
    of first appearance. Raises SessionDataError naming the cell of any damaged payload.
    """
    notebook = read_notebook(Path(source)) if isinstance(source, (str, os.PathLike)) else source
    exports, turns = collect(notebook)
    pool = _pool(exports, turns)
    for turn in turns:  # every turn must connect to something the notebook holds
        parent = turn.messages[0].get("parent_id")
        if parent is not None and parent not in pool:
            raise SessionDataError(
                f"{turn.where}: session {turn.session_id!r}: this turn continues message {parent!r}, which no "
                "output or export of the notebook holds (it was made in code, e.g. session.regenerate(), or its "
                f"output was cleared), so the turn cannot be placed; run `%chat export {turn.session_id}` in the "
                "kernel that has the session and save the notebook again"
            )
    # Turns from different cells can still chain into a loop (a crafted notebook): refused
    # here, so every walk up the parents below ends.
    check_links({mid: entry.get("parent_id") for mid, (entry, _) in pool.items()}, "notebook")
    found: list[tuple[int, str]] = [(e.order, e.header["session_id"]) for e in exports]
    found += [(t.order, t.session_id) for t in turns]
    ids = list(dict.fromkeys(sid for _, sid in sorted(found)))
    records = {
        sid: _assemble(
            sid,
            [e for e in exports if e.header["session_id"] == sid],
            [t for t in turns if t.session_id == sid],
            pool,
        )
        for sid in ids
    }
    _place_in_trees(records, {e.header["session_id"] for e in exports})
    return records


def _place_in_trees(records: dict[str, dict[str, Any]], exported: set[str]) -> None:
    """Give every record its conversation tree and its current path's stats.

    An exported header names its tree; a session known only from its turns joins the tree of
    the family whose messages it continues (its origin's), or else starts one named after it.
    """
    messages: dict[str, tuple[str | None, str, Any]] = {}
    for sid, record in records.items():
        if sid not in exported:
            record["tree"] = None  # header_from_dict guessed one; the family decides
        for message in record["messages"]:
            writer = message.get("session_id") or sid
            messages.setdefault(message["id"], (message.get("parent_id"), writer, message.get("meta")))
    place_in_trees(records.items(), messages)


def _essence(entry: dict[str, Any]) -> tuple[Any, ...]:
    """What must agree between two copies of one message (metadata may be rounded by a store)."""
    node = node_from_dict(entry, "")
    return node.parent_id, dataclasses.replace(node.message, meta=None)


def _pool(exports: list[SavedExport], turns: list[SavedTurn]) -> dict[str, tuple[dict[str, Any], str]]:
    """Every message by id, with where it was found; the newest export's copy is kept."""
    pool: dict[str, tuple[dict[str, Any], str]] = {}
    sources = [(e.messages, e.where) for e in sorted(exports, key=lambda e: (e.updated, e.order), reverse=True)]
    sources += [(t.messages, t.where) for t in turns]
    for messages, where in sources:
        for message in messages:
            known = pool.get(message["id"])
            if known is None:
                pool[message["id"]] = (message, where)
            elif _essence(known[0]) != _essence(message):
                raise SessionDataError(
                    f"{where}: message {message['id']!r} differs from the message with the same id in {known[1]}; "
                    "one of them was edited or damaged"
                )
    return pool


def _assemble(
    sid: str, exports: list[SavedExport], turns: list[SavedTurn], pool: dict[str, tuple[dict[str, Any], str]]
) -> dict[str, Any]:
    base = max(exports, key=lambda e: (e.updated, e.order), default=None)
    if base is not None:
        header = dict(base.header)
        held = {m["id"] for m in base.messages}
        pending = [t for t in turns if t.head not in held]
    else:
        header = {**new_header(sid), "heads": [], "current": None}
        pending = list(turns)
    pending.sort(key=lambda t: (t.time, t.order))
    heads: list[str | None] = list(header["heads"])
    head, current = header["head"], header["current"]
    for turn in pending:  # replay the session's moves (Session.moved_heads) from the payloads
        heads.extend([None] * (turn.branches - len(heads)))
        if turn.branch is not None:
            heads[turn.branch] = turn.head
        head, current = turn.head, turn.branch

    ordered: list[dict[str, Any]] = []
    seen: set[str] = set()

    def walk(start: str | None) -> None:
        chain = []
        node_id = start
        while node_id is not None and node_id not in seen:
            message = pool[node_id][0]
            seen.add(node_id)
            chain.append(message)
            node_id = message.get("parent_id")
        ordered.extend(reversed(chain))

    for start in [*heads, head]:  # Session.to_dict's order
        walk(start)
    for source in [*(e.messages for e in exports), *(t.messages for t in turns)]:
        for message in source:  # off every branch, yet never dropped
            walk(message["id"])

    if base is None:
        header.update(_origin(sid, [head, *heads], pool))
        header["created_at"] = min(timestamp(m["created_at"], sid) for t in turns for m in t.messages).isoformat()
        header["rev"] = len(pending) + 1  # created, then one write per turn
    else:
        header["rev"] = header["rev"] + len(pending)
    if pending:  # a synthesised header's own timestamps are the time of reading: never later than a turn
        last = pending[-1].time
        header["updated_at"] = (last if base is None else max(base.updated, last)).isoformat()
    record = {**header, "head": head, "heads": heads or [head], "current": current, "messages": ordered}
    try:
        header_from_dict(record, tree_from_messages(ordered, sid))
    except (SessionDataError, KeyError, TypeError, ValueError) as exc:  # pragma: no cover - a bug of ours
        raise SessionDataError(f"session {sid!r}: the rebuilt record is inconsistent ({exc})") from None
    return record


def _origin(sid: str, heads: list[str | None], pool: dict[str, tuple[dict[str, Any], str]]) -> dict[str, Any]:
    """``forked_from`` and ``lineage`` of a session known from its turns: who wrote what it continues."""
    lineage: list[str] = []
    forked_from = None
    for index, start in enumerate(heads):
        node_id = start
        while node_id is not None:
            message = pool[node_id][0]
            owner = message.get("session_id") or sid
            if owner != sid:
                if forked_from is None and index == 0:
                    forked_from = {"session_id": owner, "message_id": node_id}
                if owner not in lineage:
                    lineage.append(owner)
            node_id = message.get("parent_id")
    return {"forked_from": forked_from, "lineage": lineage}
