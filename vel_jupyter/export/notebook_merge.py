"""Rebuilding sessions from a saved notebook's payloads: one ``Session.to_dict()`` record per
session id, messages pooled by id and turns replayed in the order they were made (notebook.py's
docstring gives the rules). A turn that continues a message the notebook does not hold is
skipped, with a line naming its cell; everything else is rebuilt."""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.serialize import header_from_dict, new_header, node_from_dict, tree_from_messages
from ..errors import SessionDataError
from ..formats.records import place_in_trees
from .notebook_read import SavedAlternative, SavedExport, SavedTurn, collect, read_notebook, timestamp

Pool = dict[str, tuple[dict[str, Any], str]]  # message id -> (the message, where it was found)


@dataclass(frozen=True)
class Skipped:
    """A turn (or an earlier answer of a cell) that could not be placed: what it continues is in
    no output or export of the notebook."""

    where: str
    session_id: str
    parent: str
    alternative: bool = False

    def __str__(self) -> str:
        what = "an earlier answer of this cell" if self.alternative else "this turn"
        return (
            f"{self.where}: session {self.session_id!r}: skipped {what}: it continues message {self.parent!r}, "
            "which no output or export of the notebook holds (it was made in code or its output was cleared); "
            "re-run the cell to ask it again"
        )


@dataclass(frozen=True)
class Merged:
    """What a notebook holds: a record per session, and what could not be placed."""

    records: dict[str, dict[str, Any]]
    skipped: list[Skipped]


def read_sessions(source: str | os.PathLike[str] | Any) -> dict[str, dict[str, Any]]:
    """Every session a saved notebook holds, as ``Session.to_dict()`` records by session id.

    ``source`` is a path to an ``.ipynb`` or an nbformat notebook. Full exports (outputs and
    metadata), per-turn outputs and the earlier answers they carry are merged as notebook.py's
    docstring describes; the records are validated, so ``Session.from_dict`` accepts each. Ids
    are listed in order of first appearance. A turn that cannot be placed is left out with a
    ``UserWarning`` naming its cell; damaged payloads raise SessionDataError naming the cell.
    """
    merged = merge_notebook(source)
    for skipped in merged.skipped:
        warnings.warn(str(skipped), stacklevel=2)
    return merged.records


def merge_notebook(source: str | os.PathLike[str] | Any) -> Merged:
    """``read_sessions``, with the turns it skipped returned instead of warned about."""
    notebook = read_notebook(Path(source)) if isinstance(source, (str, os.PathLike)) else source
    exports, turns = collect(notebook)
    pool = _pool(exports, turns)
    rooted = _rooted(pool)
    skipped: list[Skipped] = []
    placed: list[SavedTurn] = []
    for turn in turns:
        if not _placeable(turn.messages[0], rooted):
            skipped.append(Skipped(turn.where, turn.session_id, _missing_ancestor(turn.messages[0], pool)))
            continue
        placed.append(turn)
        for alternative in turn.alternatives:
            first = alternative.messages[0]
            if not _placeable(first, rooted):
                skipped.append(Skipped(turn.where, alternative.session_id, _missing_ancestor(first, pool), True))
    alternatives = [a for t in placed for a in t.alternatives if _placeable(a.messages[0], rooted)]
    found: list[tuple[int, str]] = [(e.order, e.header["session_id"]) for e in exports]
    found += [(t.order, t.session_id) for t in placed]
    ids = list(dict.fromkeys(sid for _, sid in sorted(found)))
    records = {
        sid: _assemble(
            sid,
            [e for e in exports if e.header["session_id"] == sid],
            [t for t in placed if t.session_id == sid],
            [a for a in alternatives if a.session_id == sid],
            pool,
        )
        for sid in ids
    }
    _place_in_trees(records, {e.header["session_id"] for e in exports})
    return Merged(records, skipped)


def count_turns(records: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """(turns, alternatives) of records: each question asked once is a turn; the answers a cell
    had besides its first (its re-runs: questions beside it from the same cell) are alternatives."""
    users: dict[str, tuple[Any, Any]] = {}
    for record in records:
        for message in record["messages"]:
            if message.get("role") == "user":
                users[message["id"]] = (message.get("parent_id"), message.get("cell_id"))
    turns = len(set(users.values()))
    return turns, len(users) - turns


def _rooted(pool: Pool) -> set[str]:
    """The messages whose parents all are in the pool, up to a root. Missing parents are allowed
    (those turns are skipped); a loop is refused, so every walk up the parents ends."""
    rooted: set[str] = set()
    unrooted: set[str] = set()
    for start in pool:
        chain: list[str] = []
        on_chain: set[str] = set()
        node: str | None = start
        while node is not None and node not in rooted and node not in unrooted and node in pool:
            if node in on_chain:
                raise SessionDataError(f"notebook: message {node!r} is its own ancestor: its parent links loop")
            chain.append(node)
            on_chain.add(node)
            node = pool[node][0].get("parent_id")
        (rooted if node is None or node in rooted else unrooted).update(chain)
    return rooted


def _placeable(first: dict[str, Any], rooted: set[str]) -> bool:
    """Whether a turn starting with ``first`` continues what the notebook holds (or starts one)."""
    parent = first.get("parent_id")
    return parent is None or parent in rooted


def _missing_ancestor(first: dict[str, Any], pool: Pool) -> str:
    """The first message above an unplaceable turn that the notebook does not hold."""
    node: str = first["parent_id"]
    while node in pool:
        node = pool[node][0]["parent_id"]  # unrooted: the walk ends at a missing id, never at None
    return node


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


def _pool(exports: list[SavedExport], turns: list[SavedTurn]) -> Pool:
    """Every message by id, with where it was found; the newest export's copy is kept."""
    pool: Pool = {}
    sources = [(e.messages, e.where) for e in sorted(exports, key=lambda e: (e.updated, e.order), reverse=True)]
    sources += [(t.messages, t.where) for t in turns]
    sources += [(a.messages, a.where) for t in turns for a in t.alternatives]
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
    sid: str, exports: list[SavedExport], turns: list[SavedTurn], alternatives: list[SavedAlternative], pool: Pool
) -> dict[str, Any]:
    base = max(exports, key=lambda e: (e.updated, e.order), default=None)
    if base is not None:
        header = dict(base.header)
        held = {m["id"] for m in base.messages}
        pending = [t for t in turns if t.head not in held]
        alternatives = [a for a in alternatives if a.head not in held]
    else:
        header = {**new_header(sid), "heads": [], "current": None}
        pending = list(turns)
    pending.sort(key=lambda t: (t.time, t.order))
    heads: list[str | None] = list(header["heads"])
    keep = len(heads)
    head, current = header["head"], header["current"]
    for turn in pending:  # replay the session's moves (Session.moved_heads) from the payloads
        heads.extend([None] * (turn.branches - len(heads)))
        if turn.branch is not None:
            heads[turn.branch] = turn.head
        head, current = turn.head, turn.branch
    heads = _branches_only_alternatives_hold(heads, head, [*pending, *alternatives], pool, keep=keep)
    if pending:
        head = _head_after_checkout(pending, head, heads, pool)
    if current is None or current >= len(heads) or heads[current] != head:
        current = heads.index(head) if head in heads else None

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
    for source in [*(e.messages for e in exports), *(t.messages for t in turns), *(a.messages for a in alternatives)]:
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


def _head_after_checkout(turns: list[SavedTurn], head: str | None, heads: list[str | None], pool: Pool) -> str | None:
    """Where the session stood when the notebook was saved, if a checkout moved it after its last turn.

    A ``%chat checkout`` leaves no payload, but it redraws the session's outputs: each says
    whether the current path goes through its turn (``current``), or through an earlier answer
    of its cell (``showing``). When the last turn's output says the path left it, the head is
    the deepest point those outputs put on the path — if they agree on one path (outputs of an
    earlier kernel may not) and it ends a branch (a checkout goes to a branch's end; a path
    that left through code or a cleared cell ends nowhere the notebook shows). Otherwise the
    last turn's head stands.
    """
    if turns[-1].on_path is not False:
        return head
    marks = {t.head for t in turns if t.on_path is True}
    marks |= {t.showing for t in turns if t.on_path is False and t.showing is not None}
    marks &= pool.keys()
    if not marks:
        return head
    depth = _depths(marks, pool)
    deepest = max(marks, key=lambda mark: (depth[mark], mark))
    return deepest if deepest in heads and marks <= _closure([deepest], pool) else head


def _depths(starts: Iterable[str], pool: Pool) -> dict[str, int]:
    """How many messages lead to each of ``starts`` (itself included); each message is walked once."""
    depth: dict[str, int] = {}
    for start in starts:
        chain = []
        node: str | None = start
        while node is not None and node not in depth:
            chain.append(node)
            node = pool[node][0].get("parent_id")
        below = 0 if node is None else depth[node]
        for node_id in reversed(chain):
            below += 1
            depth[node_id] = below
    return depth


def _closure(starts: Iterable[str | None], pool: Pool) -> set[str]:
    """``starts`` and every message above them; each message is walked once."""
    out: set[str] = set()
    for start in starts:
        node = start
        while node is not None and node not in out:
            out.add(node)
            node = pool[node][0].get("parent_id")
    return out


def _branches_only_alternatives_hold(
    heads: list[str | None],
    head: str | None,
    found: Sequence[SavedTurn | SavedAlternative],
    pool: Pool,
    *,
    keep: int,
) -> list[str | None]:
    """Branches whose ends only a cell's earlier answers hold (the cell was re-run since), given
    back their slots.

    The turns replayed leave a slot empty (``None``) when the turn that made it is in no output,
    and stale (an answer above the branch's real end) when the turn that continued it is not.
    Every answer the session wrote that no branch reaches ends such a branch: the oldest one
    below a stale slot takes it, the next oldest fill the empty slots in order, and the rest
    become new branches. Empty slots nothing fills are dropped, but for the first ``keep``
    (an export's own, which it may have emptied with ``clear()``).
    """
    mine = _closure((m["id"] for item in found for m in item.messages), pool)
    parents = {pool[m][0].get("parent_id") for m in mine}
    covered = _closure([*heads, head], pool)
    ends = sorted(
        (m for m in mine if m not in parents and m not in covered),
        key=lambda m: (timestamp(pool[m][0]["created_at"], m), m),
    )
    slots = list(heads)
    stale = [index for index, slot in enumerate(slots) if slot is not None and slot in parents]
    if stale and ends:
        above = {end: _closure([end], pool) for end in ends}
        for index in stale:
            below = next((end for end in ends if slots[index] in above[end]), None)
            if below is not None:
                slots[index] = below
                ends.remove(below)
    for index, slot in enumerate(slots):
        if slot is None and ends:
            slots[index] = ends.pop(0)
    return [slot for index, slot in enumerate(slots) if slot is not None or index < keep] + ends


def _origin(sid: str, heads: list[str | None], pool: Pool) -> dict[str, Any]:
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
