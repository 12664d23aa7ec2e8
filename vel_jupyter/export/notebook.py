"""Sessions embedded in a saved notebook: export them, read them back, restore them.

A notebook needs no store to keep its sessions: everything is JSON under one mimetype,
``application/vnd.vel.session+json`` (``EXPORT_MIME``), in one of two kinds:

* **turn payloads** (``"kind": "vel_jupyter.turn"``): every finished ``%%chat`` cell
  output carries one (``jupyter.display.turn_payload``): that turn's messages with ids,
  parent ids and usage, plus ``session_id``, ``branch`` (index of the current branch after
  the turn), ``branches`` (how many there were) and ``head``. A frame of a turn still
  streaming (``"live": true``, left in a notebook saved mid-stream or by a dead kernel)
  is no turn: it has no ids and is skipped.
* **full exports** (``"kind": "vel_jupyter.session"``): exactly ``Session.to_dict()``,
  unwrapped: the header and every message on any branch. ``%chat export ID`` shows one
  as an output (``export_bundle``), ``%chat export ID --file PATH`` writes one as a JSON
  file, ``write_session`` embeds one in the notebook's metadata under
  ``metadata["vel_jupyter"]["sessions"][session_id]``. Being the plain ``to_dict()``,
  each of them can also be given to ``Session.from_dict`` or a store's ``save`` as is.

``read_sessions`` rebuilds one ``to_dict()``-shaped record per session id from all of
them. Messages are pooled by id (a message seen twice must say the same thing) and
listed parents first, in the order ``to_dict()`` uses. The header is the newest full
export's (by ``updated_at``) when the session has one; turns that export does not hold
(cells run after it) are then applied on top. Without an export the header is built
from the turns alone. Applying a turn replays what the session did: slot ``branch`` of
``heads`` becomes the turn's head, ``heads`` grows to ``branches`` slots, and head and
current branch follow the turn. Turns are applied in the order they were made (their
messages' ``created_at``; notebook order breaks ties), not in notebook order: a cell
re-run higher up the notebook is the session's latest state, as it was in the kernel.

What a notebook of turn payloads alone cannot hold, and how it is rebuilt:

* the system prompt and the session's settings (model, provider, ...): only a full
  export has them; otherwise the session starts with none (the registry's defaults);
* a branch whose latest turn is not in any output (its cell was re-run or cleared, or
  the turn was made in code, e.g. ``session.regenerate()``): its slot in ``heads``
  keeps the newest head the notebook shows for it, or ``None`` if it shows none;
* a turn continuing a message no output holds (made in code, or cleared) cannot be
  placed at all: that is an error naming the cell. A ``%chat export ID`` cell run after
  such code keeps everything;
* a fork's ``forked_from`` and ``lineage`` are read from who wrote its older messages
  (the session that wrote the message it continues is its origin); ``rev`` is one
  more than its turns (created, then one write per turn); ``created_at``/``updated_at``
  are its first and last turn's times.

Foreign or damaged JSON (another ``kind``, missing fields, a newer ``version``, values
that are not objects, messages without ids, broken parent links) raises
``SessionDataError`` naming where it is: ``cell N`` is ``notebook.cells[N]`` (counted
from 0), followed by the cell's id when it has one. No message is ever dropped.

nbformat is imported inside the functions: importing this module stays cheap, and no
kernel is needed for any of it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.secrets import KEYRING
from ..core.serialize import (
    header_from_dict,
    new_header,
    node_from_dict,
    session_from_dict,
    tree_from_messages,
)
from ..core.session import Session
from ..core.tree import validate_session_id
from ..errors import ConfigurationError, InvalidSessionIdError, SessionDataError
from ..formats import check_links, check_record, check_turn_payload, load_json
from ..formats.kinds import FORMAT_VERSION, PAYLOAD_VERSION, SESSION_KIND, SESSION_MIME, TURN_KIND

if TYPE_CHECKING:
    from ..core.agent import Agent
    from ..jupyter.registry import Registry

__all__ = [
    "EXPORT_MIME",
    "METADATA_KEY",
    "SESSION_KIND",
    "TURN_KIND",
    "export_bundle",
    "is_trusted",
    "read_sessions",
    "restore_notebook",
    "write_session",
]

EXPORT_MIME = SESSION_MIME  # the same mimetype as every %%chat turn output
METADATA_KEY = "vel_jupyter"  # notebook.metadata["vel_jupyter"]["sessions"][session_id]

_TURN_FIELDS = ("session_id", "head", "branch", "branches", "messages")
_EXPORT_FIELDS = ("session_id", "head", "heads", "messages")


# -- writing ---------------------------------------------------------------------------------


def export_bundle(session: Session) -> dict[str, Any]:
    """The output of ``%chat export ID``: the full session (every branch) under ``EXPORT_MIME``,
    plus a short summary as sanitized HTML and plain text. API keys are never part of it."""
    record = session.to_dict()
    branches = session.branches
    sid = session.session_id
    current = next((b.number for b in branches if b.current), None)
    count = len(record["messages"])
    html_out = _export_html(session, count)
    plain = (
        f"vel_jupyter session {sid!r}: {count} messages, {len(branches)} branches "
        f"(current: {'detached' if current is None else current}); saved in this output"
    )
    return {EXPORT_MIME: record, "text/html": html_out, "text/plain": plain}


def _export_html(session: Session, count: int) -> str:
    """The summary of an export as sanitized HTML: fixed templates around escaped values."""
    from html import escape

    from ..render import assemble, inline_code

    branches = session.branches
    items = []
    for branch in branches:
        preview = " ".join(branch.preview.split())
        mark = " (current)" if branch.current else ""
        items.append(
            assemble(
                "<li>branch {index}{mark}: {length} messages, last: {preview}</li>",
                index=str(branch.number),
                mark=mark,
                length=str(branch.length),
                preview=escape(preview) if preview else "<em>(empty)</em>",
            )
        )
    noun = "branch" if len(branches) == 1 else "branches"
    return assemble(
        '<div class="vel-export"><p><strong>Session {sid} exported</strong> — {count} messages, {n} {noun}, '
        "model {model}, {tokens} tokens on the current branch. Saved with the notebook: "
        "<code>%chat restore --notebook PATH</code> rebuilds it.</p><ul>{items}</ul></div>",
        sid=inline_code(session.session_id),
        count=str(count),
        n=str(len(branches)),
        noun=noun,
        model=escape(session.model or ""),
        tokens=str(session.usage.total_tokens),
        items="".join(items),
    )


def write_session(
    notebook_or_path: str | os.PathLike[str] | Any,
    session_or_record: Session | dict[str, Any],
    *,
    path_out: str | os.PathLike[str] | None = None,
) -> Any:
    """Embed a full session record in a notebook's metadata, without a kernel.

    The record (``session.to_dict()``, or such a dict) goes to
    ``metadata["vel_jupyter"]["sessions"][session_id]``, replacing an earlier one of the
    same id; ``read_sessions`` finds it there. ``notebook_or_path`` is an nbformat
    notebook (changed in place) or a path; the notebook is validated, then written back
    to its path, or to ``path_out`` when given. Returns the notebook.
    """
    import nbformat

    if isinstance(session_or_record, Session):
        record = session_or_record.to_dict()
    else:
        record = _json_value(copy.deepcopy(session_or_record), "the record to write")
    export = _parse_export(record, "the record to write", 0)
    sid = export.header["session_id"]
    path: Path | None = None
    if isinstance(notebook_or_path, (str, os.PathLike)):
        path = Path(notebook_or_path)
        notebook = _read_notebook(path)
    else:
        notebook = notebook_or_path
    metadata = notebook.setdefault("metadata", {})
    section = metadata.setdefault(METADATA_KEY, {})
    if not isinstance(section, dict):
        raise SessionDataError(f"notebook metadata {METADATA_KEY!r} is a {type(section).__name__}, not an object")
    sessions = section.setdefault("sessions", {})
    if not isinstance(sessions, dict):
        raise SessionDataError(
            f"notebook metadata {METADATA_KEY}.sessions is a {type(sessions).__name__}, not an object"
        )
    sessions[sid] = record
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as exc:
        raise SessionDataError(f"the notebook is not valid nbformat: {str(exc).splitlines()[0]}") from None
    target = path_out if path_out is not None else path
    if target is not None:
        nbformat.write(notebook, os.fspath(target))  # type: ignore[no-untyped-call]
    return notebook


# -- reading ---------------------------------------------------------------------------------


def read_sessions(source: str | os.PathLike[str] | Any) -> dict[str, dict[str, Any]]:
    """Every session a saved notebook holds, as ``Session.to_dict()`` records by session id.

    ``source`` is a path to an ``.ipynb`` or an nbformat notebook. Full exports (outputs and
    metadata) and per-turn outputs are merged as the module docstring describes; the
    records are validated, so ``Session.from_dict`` accepts each. Ids are listed in order
    of first appearance. Raises SessionDataError naming the cell of any damaged payload.
    """
    notebook = _read_notebook(Path(source)) if isinstance(source, (str, os.PathLike)) else source
    exports, turns = _collect(notebook)
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
    from ..stores.base import place_in_trees

    messages: dict[str, tuple[str | None, str, Any]] = {}
    for sid, record in records.items():
        if sid not in exported:
            record["tree"] = None  # header_from_dict guessed one; the family decides
        for message in record["messages"]:
            writer = message.get("session_id") or sid
            messages.setdefault(message["id"], (message.get("parent_id"), writer, message.get("meta")))
    place_in_trees(records.items(), messages)


def restore_notebook(
    source: str | os.PathLike[str] | Any, target: Agent | Registry, *, replace: bool = False
) -> list[str]:
    """Rebuild every session of a saved notebook into an agent or a registry; returns their ids.

    Sessions of an agent with a store are saved to the store as well. If any of the ids
    already exists (live or stored), nothing is restored and a ConfigurationError says
    which, unless ``replace=True``: then they are overwritten with the notebook's version.
    Everything is validated before anything is changed.
    """
    from ..core.agent import Agent

    agent = target if isinstance(target, Agent) else target.agent
    notebook = _read_notebook(Path(source)) if isinstance(source, (str, os.PathLike)) else source
    records = read_sessions(notebook)
    existing = set(agent.list_sessions()) & set(records)
    if existing and not replace:
        raise ConfigurationError(
            f"sessions {', '.join(sorted(existing))} already exist in this kernel; restore with replace=True "
            "(%chat restore --notebook PATH --replace) to overwrite them with the notebook's version"
        )
    for record in records.values():
        session_from_dict(record, agent)  # validate all first (not registered)
    # Origins before their forks, so a store sees each message first under its writer.
    position = {sid: index for index, sid in enumerate(records)}
    for sid in sorted(records, key=lambda s: (len(records[s].get("lineage") or []), position[s])):
        Session.from_dict(records[sid], agent)  # with a store, this writes the session there too
    if is_trusted(notebook):  # Jupyter's own trust: the user signed it, so its servers are theirs
        for record in records.values():
            url = (record.get("settings") or {}).get("base_url")
            if url:
                KEYRING.accept(url)
    return list(records)


def is_trusted(notebook: Any) -> bool:
    """Whether Jupyter trusts ``notebook``: its signature is in this user's database
    (``jupyter trust``, or saved by this user's Jupyter). A mailed notebook is not."""
    import nbformat
    from nbformat.sign import NotebookNotary

    try:
        node = notebook if isinstance(notebook, nbformat.NotebookNode) else nbformat.from_dict(notebook)  # type: ignore[no-untyped-call]
        return bool(NotebookNotary().check_signature(node))  # type: ignore[no-untyped-call]
    except Exception:  # no signature database, an unreadable one: not trusted
        return False


# -- collecting payloads ----------------------------------------------------------------------


@dataclass
class _Export:
    where: str
    order: int
    header: dict[str, Any]
    messages: list[dict[str, Any]]
    updated: datetime


@dataclass
class _Turn:
    where: str
    order: int
    session_id: str
    branch: int | None
    branches: int
    head: str
    messages: list[dict[str, Any]]
    time: datetime


def _read_notebook(path: Path) -> Any:
    import nbformat

    try:
        return nbformat.read(os.fspath(path), as_version=4)  # type: ignore[no-untyped-call]
    except (ValueError, nbformat.ValidationError) as exc:  # NotJSONError is a ValueError
        raise SessionDataError(f"{path}: not a readable notebook ({str(exc).splitlines()[0][:200]})") from None


def _cell_where(index: int, cell: Any, output: int) -> str:
    cell_id = cell.get("id") if isinstance(cell, dict) else None
    named = f" (id {cell_id!r})" if cell_id else ""
    return f"cell {index}{named}, output {output}"


def _collect(notebook: Any) -> tuple[list[_Export], list[_Turn]]:
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells", []), list):
        raise SessionDataError(f"not a notebook: expected an nbformat notebook, got {type(notebook).__name__}")
    exports: list[_Export] = []
    turns: list[_Turn] = []
    order = 0
    for index, cell in enumerate(notebook.get("cells") or []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        for number, output in enumerate(cell.get("outputs") or []):
            data = output.get("data") if isinstance(output, dict) else None
            if not isinstance(data, dict) or EXPORT_MIME not in data:
                continue
            where = _cell_where(index, cell, number)
            value = _json_value(data[EXPORT_MIME], where)
            if not isinstance(value, dict):
                raise SessionDataError(
                    f"{where}: {EXPORT_MIME} holds a {type(value).__name__}, not an object from vel_jupyter"
                )
            kind = value.get("kind")
            if kind == TURN_KIND and value.get("live") is True:
                continue  # a frame of a turn still streaming when the notebook was saved: never kept
            if kind == TURN_KIND:
                turns.append(_parse_turn(value, where, order))
            elif kind == SESSION_KIND:
                exports.append(_parse_export(value, where, order))
            else:
                raise SessionDataError(
                    f"{where}: unknown kind {kind!r} under {EXPORT_MIME}; expected {TURN_KIND!r} (a %%chat turn) "
                    f"or {SESSION_KIND!r} (%chat export)"
                )
            order += 1
    metadata = notebook.get("metadata") or {}
    section = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    if section is not None:
        where = f"notebook metadata {METADATA_KEY!r}"
        if not isinstance(section, dict) or not isinstance(section.get("sessions", {}), dict):
            raise SessionDataError(f"{where}: expected an object with an object 'sessions' (session id -> record)")
        for key, record in (section.get("sessions") or {}).items():
            where = f"notebook metadata {METADATA_KEY}.sessions[{key!r}]"
            export = _parse_export(_json_value(record, where), where, order)
            if export.header["session_id"] != key:
                raise SessionDataError(f"{where}: holds session {export.header['session_id']!r}, not {key!r}")
            exports.append(export)
            order += 1
    return exports, turns


def _json_value(value: Any, where: str) -> Any:
    """Plain JSON (dicts and lists, no NotebookNode); a JSON string is parsed."""
    if isinstance(value, str):
        return load_json(value, where)
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError, RecursionError) as exc:
        raise SessionDataError(f"{where}: not JSON ({str(exc)[:200]})") from None


def _check_version(value: dict[str, Any], where: str, newest: int) -> None:
    version = value.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SessionDataError(f"{where}: no valid 'version' field ({version!r}); this is not vel_jupyter data")
    if version > newest:
        raise SessionDataError(
            f"{where}: written by a newer vel_jupyter (format {version}, this one reads up to {newest}); upgrade"
        )


def _session_id(value: dict[str, Any], where: str) -> str:
    try:
        return validate_session_id(value.get("session_id"))
    except InvalidSessionIdError as exc:
        raise SessionDataError(f"{where}: {exc}") from None


def _missing(value: dict[str, Any], fields: tuple[str, ...], where: str, what: str) -> None:
    missing = [f for f in fields if f not in value]
    if missing:
        raise SessionDataError(f"{where}: {what} lacks {', '.join(repr(f) for f in missing)}")


def _check_message(entry: Any, where: str, index: int, session_id: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise SessionDataError(f"{where}: message {index} is a {type(entry).__name__}, not an object")
    message_id = entry.get("id")
    if not isinstance(message_id, str) or not message_id:
        raise SessionDataError(f"{where}: message {index} has no id ({message_id!r})")
    parent = entry.get("parent_id")
    if parent is not None and (not isinstance(parent, str) or not parent):
        raise SessionDataError(f"{where}: message {message_id!r} has an invalid parent_id {parent!r}")
    try:
        node_from_dict(entry, session_id)
    except SessionDataError as exc:
        raise SessionDataError(f"{where}: message {message_id!r}: {exc}") from None
    return entry


def _time(text: Any, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise SessionDataError(f"{where}: {text!r} is not an ISO timestamp") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _parse_turn(value: dict[str, Any], where: str, order: int) -> _Turn:
    _check_version(value, where, PAYLOAD_VERSION)
    _missing(value, _TURN_FIELDS, where, "the turn payload")
    sid = _session_id(value, where)
    where_s = f"{where}: session {sid!r}"
    branches, branch, head, entries = value["branches"], value["branch"], value["head"], value["messages"]
    if isinstance(branches, bool) or not isinstance(branches, int) or branches < 1:
        raise SessionDataError(f"{where_s}: 'branches' must be a positive int, got {branches!r}")
    if branch is not None and (isinstance(branch, bool) or not isinstance(branch, int) or not 0 <= branch < branches):
        raise SessionDataError(f"{where_s}: 'branch' {branch!r} is not one of its {branches} branches")
    if not isinstance(entries, list) or not entries:
        raise SessionDataError(f"{where_s}: 'messages' must be a non-empty list, got {entries!r:.60}")
    messages = [_check_message(entry, where_s, i, sid) for i, entry in enumerate(entries)]
    times = []
    for previous, message in zip([None, *messages[:-1]], messages, strict=True):
        if previous is not None and message.get("parent_id") != previous["id"]:
            raise SessionDataError(
                f"{where_s}: message {message['id']!r} names parent {message.get('parent_id')!r}, not the turn's "
                f"previous message {previous['id']!r}: its parent links are broken"
            )
        owner = message.get("session_id") or sid
        if owner != sid:
            raise SessionDataError(f"{where_s}: message {message['id']!r} says it was written by session {owner!r}")
        if "created_at" not in message:
            raise SessionDataError(f"{where_s}: message {message['id']!r} has no 'created_at'")
        times.append(_time(message["created_at"], f"{where_s}: message {message['id']!r}"))
    if len({m["id"] for m in messages}) != len(messages):
        raise SessionDataError(f"{where_s}: a message id appears twice in one turn")
    if head != messages[-1]["id"]:
        raise SessionDataError(f"{where_s}: head {head!r} is not the turn's last message {messages[-1]['id']!r}")
    check_turn_payload(value, where_s)  # and the one validator: every type, size and bound
    return _Turn(where, order, sid, branch, branches, head, messages, max(times))


def _parse_export(value: Any, where: str, order: int) -> _Export:
    if not isinstance(value, dict):
        raise SessionDataError(f"{where}: expected a session record (an object), got {type(value).__name__}")
    _check_version(value, where, FORMAT_VERSION)
    if value.get("kind") != SESSION_KIND:
        raise SessionDataError(f"{where}: kind {value.get('kind')!r} is not a full session ({SESSION_KIND!r})")
    _missing(value, _EXPORT_FIELDS, where, "the session record")
    sid = _session_id(value, where)
    where_s = f"{where}: session {sid!r}"
    entries = value["messages"]
    if not isinstance(entries, list):
        raise SessionDataError(f"{where_s}: 'messages' must be a list, got {type(entries).__name__}")
    messages = [_check_message(entry, where_s, i, sid) for i, entry in enumerate(entries)]
    check_record(value, where_s)  # and the one validator: every type, size, bound and link
    try:
        header = header_from_dict(value, tree_from_messages(messages, sid, checked=True))
    except SessionDataError as exc:
        raise SessionDataError(f"{where_s}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SessionDataError(f"{where_s}: malformed header ({type(exc).__name__}: {exc})") from None
    return _Export(where, order, header, messages, _time(header["updated_at"], where_s))


# -- merging ----------------------------------------------------------------------------------


def _essence(entry: dict[str, Any]) -> tuple[Any, ...]:
    """What must agree between two copies of one message (metadata may be rounded by a store)."""
    node = node_from_dict(entry, "")
    return node.parent_id, dataclasses.replace(node.message, meta=None)


def _pool(exports: list[_Export], turns: list[_Turn]) -> dict[str, tuple[dict[str, Any], str]]:
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
    sid: str, exports: list[_Export], turns: list[_Turn], pool: dict[str, tuple[dict[str, Any], str]]
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
        header["created_at"] = min(_time(m["created_at"], sid) for t in turns for m in t.messages).isoformat()
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
