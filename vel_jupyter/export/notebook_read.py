"""Reading a saved notebook: every session payload it holds found and validated.

Turn payloads (``%%chat`` outputs, with the earlier answers of their cell under
``alternatives``) and full exports (``%chat export`` outputs, notebook metadata) become
``SavedTurn``, ``SavedAlternative`` and ``SavedExport`` values; anything foreign or damaged is a
``SessionDataError`` naming its cell (notebook.py's docstring describes the kinds).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..core.serialize import header_from_dict, node_from_dict, tree_from_messages
from ..core.tree import validate_session_id
from ..errors import InvalidSessionIdError, SessionDataError
from ..formats import LIMITS, check_record, check_turn_payload, check_version, load_json
from ..formats.kinds import FORMAT_VERSION, METADATA_KEY, PAYLOAD_VERSION, SESSION_KIND, SESSION_MIME, TURN_KIND

EXPORT_MIME = SESSION_MIME  # the same mimetype as every %%chat turn output

_TURN_FIELDS = ("session_id", "head", "branch", "branches", "messages")
_EXPORT_FIELDS = ("session_id", "head", "heads", "messages")


@dataclass
class SavedExport:
    """A full session record found in a notebook (an output or its metadata), validated."""

    where: str
    order: int
    header: dict[str, Any]
    messages: list[dict[str, Any]]
    updated: datetime


@dataclass
class SavedAlternative:
    """One answer a cell had before it was re-run (``alternatives`` of its output), validated.

    ``session_id`` is the session that wrote it (a cell may have run under another session)."""

    where: str
    order: int
    session_id: str
    head: str
    messages: list[dict[str, Any]]
    time: datetime


@dataclass
class SavedTurn:
    """One ``%%chat`` turn's payload found in a cell's output, validated.

    ``on_path`` is what the output last said of the session's current path (its ``current``:
    None when it says nothing), ``showing`` the head of the earlier answer that path went
    through instead."""

    where: str
    order: int
    session_id: str
    branch: int | None
    branches: int
    head: str
    messages: list[dict[str, Any]]
    time: datetime
    alternatives: list[SavedAlternative] = field(default_factory=list)
    on_path: bool | None = None
    showing: str | None = None


def read_notebook(path: Path) -> Any:
    """The notebook at ``path`` (nbformat 4); an unreadable one is a SessionDataError."""
    import nbformat

    try:
        return nbformat.read(os.fspath(path), as_version=4)  # type: ignore[no-untyped-call]
    except (ValueError, nbformat.ValidationError) as exc:  # NotJSONError is a ValueError
        raise SessionDataError(f"{path}: not a readable notebook ({str(exc).splitlines()[0][:200]})") from None


def _cell_where(index: int, cell: Any, output: int) -> str:
    """Where a payload is, as JupyterLab counts cells (from 1, its status bar's "Cell 4/17")."""
    cell_id = cell.get("id") if isinstance(cell, dict) else None
    named = f" (id {cell_id!r})" if cell_id else ""
    return f"cell {index + 1}{named}, output {output}"


def collect(notebook: Any) -> tuple[list[SavedExport], list[SavedTurn]]:
    """Every full export and turn the notebook holds, numbered in notebook order."""
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells", []), list):
        raise SessionDataError(f"not a notebook: expected an nbformat notebook, got {type(notebook).__name__}")
    exports: list[SavedExport] = []
    turns: list[SavedTurn] = []
    order = 0
    for index, cell in enumerate(notebook.get("cells") or []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        for number, output in enumerate(cell.get("outputs") or []):
            data = output.get("data") if isinstance(output, dict) else None
            if not isinstance(data, dict) or EXPORT_MIME not in data:
                continue
            where = _cell_where(index, cell, number)
            value = json_value(data[EXPORT_MIME], where)
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
                exports.append(parse_export(value, where, order))
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
            export = parse_export(json_value(record, where), where, order)
            if export.header["session_id"] != key:
                raise SessionDataError(f"{where}: holds session {export.header['session_id']!r}, not {key!r}")
            exports.append(export)
            order += 1
    return exports, turns


def json_value(value: Any, where: str) -> Any:
    """Plain JSON (dicts and lists, no NotebookNode); a JSON string is parsed."""
    if isinstance(value, str):
        return load_json(value, where)
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError, RecursionError) as exc:
        raise SessionDataError(f"{where}: not JSON ({str(exc)[:200]})") from None


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


def timestamp(text: Any, where: str) -> datetime:
    """An ISO timestamp (naive ones are UTC)."""
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise SessionDataError(f"{where}: {text!r} is not an ISO timestamp") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _parse_turn(value: dict[str, Any], where: str, order: int) -> SavedTurn:
    check_version(value, where, PAYLOAD_VERSION)
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
    time = _chain(messages, where_s, sid, own=True)
    if head != messages[-1]["id"]:
        raise SessionDataError(f"{where_s}: head {head!r} is not the turn's last message {messages[-1]['id']!r}")
    check_turn_payload(value, where_s)  # and the one validator: every type, size and bound
    on_path, showing = value.get("current"), value.get("showing")
    return SavedTurn(
        where,
        order,
        sid,
        branch,
        branches,
        head,
        messages,
        time,
        alternatives=[  # the cell's turns elsewhere are placed as its earlier answers are
            *_parse_alternatives(value.get("alternatives"), where_s, order, sid),
            *_parse_alternatives(value.get("elsewhere"), where_s, order, sid, key="elsewhere"),
        ],
        on_path=on_path if isinstance(on_path, bool) else None,
        showing=showing if isinstance(showing, str) and showing else None,
    )


def _chain(messages: list[dict[str, Any]], where: str, sid: str, *, own: bool) -> datetime:
    """A turn's messages link one to the next and have times; the newest time.

    ``own``: every message must be the session's (a turn); else any writer (an earlier answer)."""
    times = []
    for previous, message in zip([None, *messages[:-1]], messages, strict=True):
        if previous is not None and message.get("parent_id") != previous["id"]:
            raise SessionDataError(
                f"{where}: message {message['id']!r} names parent {message.get('parent_id')!r}, not the turn's "
                f"previous message {previous['id']!r}: its parent links are broken"
            )
        owner = message.get("session_id") or sid
        if own and owner != sid:
            raise SessionDataError(f"{where}: message {message['id']!r} says it was written by session {owner!r}")
        if "created_at" not in message:
            raise SessionDataError(f"{where}: message {message['id']!r} has no 'created_at'")
        times.append(timestamp(message["created_at"], f"{where}: message {message['id']!r}"))
    if len({m["id"] for m in messages}) != len(messages):
        raise SessionDataError(f"{where}: a message id appears twice in one turn")
    return max(times)


def _parse_alternatives(
    value: Any, where_s: str, order: int, sid: str, *, key: str = "alternatives"
) -> list[SavedAlternative]:
    """The earlier answers a turn's output carries (``turn_payload.turn_alternatives``; ``key``
    "elsewhere": the cell's turns under other parents, ``turn_payload.turns_elsewhere``),
    validated like the turn itself: each links up, each message passes the one validator."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > LIMITS.branches:
        raise SessionDataError(f"{where_s}: {key!r} must be a list of at most {LIMITS.branches} answers")
    out = []
    for index, entry in enumerate(value):
        where_a = f"{where_s}: {key}[{index}]"
        if not isinstance(entry, dict):
            raise SessionDataError(f"{where_a}: expected an object, got {type(entry).__name__}")
        entries, head = entry.get("messages"), entry.get("head")
        if not isinstance(entries, list) or not entries or len(entries) > LIMITS.messages:
            raise SessionDataError(f"{where_a}: 'messages' must be a non-empty list, got {entries!r:.60}")
        messages = [_check_message(m, where_a, i, sid) for i, m in enumerate(entries)]
        time = _chain(messages, where_a, sid, own=False)
        if head != messages[-1]["id"]:
            raise SessionDataError(f"{where_a}: head {head!r} is not the answer's last message {messages[-1]['id']!r}")
        writer = messages[0].get("session_id") or sid
        try:
            writer = validate_session_id(writer)
        except InvalidSessionIdError as exc:
            raise SessionDataError(f"{where_a}: {exc}") from None
        if any((m.get("session_id") or sid) != writer for m in messages):
            raise SessionDataError(f"{where_a}: its messages name more than one writing session")
        out.append(SavedAlternative(where_s, order, writer, head, messages, time))
    return out


def parse_export(value: Any, where: str, order: int) -> SavedExport:
    """A full session record, validated; ``where`` names it in errors."""
    if not isinstance(value, dict):
        raise SessionDataError(f"{where}: expected a session record (an object), got {type(value).__name__}")
    check_version(value, where, FORMAT_VERSION)
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
    return SavedExport(where, order, header, messages, timestamp(header["updated_at"], where_s))
