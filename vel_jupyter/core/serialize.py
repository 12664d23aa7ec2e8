"""Sessions as plain JSON (``Session.to_dict()`` / ``Session.from_dict()``), with a version.

Format 2 adds the header's ``tree``: the conversation tree a session and its forks share.
Format 1 records (no ``tree``) still load: their tree is their family's root session
(``stores.base.legacy_tree``). No pickle anywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import InvalidSessionIdError, SessionDataError
from ..formats import check_message, check_record, check_version, clean_text
from ..formats.kinds import FORMAT_VERSION, SESSION_KIND
from ..formats.records import legacy_tree
from .context import SummaryRecord
from .message import Message
from .tree import MessageTree, Node, new_id, utcnow, validate_session_id

if TYPE_CHECKING:
    from .agent import Agent
    from .session import Session


def node_to_dict(node: Node) -> dict[str, Any]:
    data = node.message.to_dict()
    data.update(
        id=node.id,
        parent_id=node.parent_id,
        session_id=node.session_id,
        created_at=node.created_at.isoformat(),
    )
    if node.cell_id is not None:
        data["cell_id"] = node.cell_id
    return data


def node_from_dict(data: Any, default_session: str, *, checked: bool = False) -> Node:
    """A message entry (a store row, one of a record's messages) as a tree node.

    ``checked``: the entry already passed ``formats.check_record`` with its record.
    """
    if not checked:
        check_message(data, "")  # (callers name the session and the message)
    try:
        return Node(
            id=str(data["id"]),
            parent_id=data.get("parent_id"),
            message=Message.from_dict(data),
            session_id=str(data.get("session_id") or default_session),
            created_at=datetime.fromisoformat(data["created_at"]) if data.get("created_at") else utcnow(),
            cell_id=data.get("cell_id"),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise SessionDataError(f"message entry {data!r:.100} is malformed ({exc})") from None


def new_header(
    session_id: str,
    *,
    tree: str | None = None,
    system: str | None = None,
    settings: dict[str, Any] | None = None,
    head: str | None = None,
    forked_from: dict[str, Any] | None = None,
    lineage: list[str] | None = None,
) -> dict[str, Any]:
    """The header of a session that has never been written (in a new tree unless ``tree``)."""
    now = utcnow().isoformat()
    return {
        "version": FORMAT_VERSION,
        "kind": SESSION_KIND,
        "session_id": validate_session_id(session_id),
        "tree": tree or new_id(),
        "system": clean_text(system) if system else system,
        "head": head,
        "heads": [head],
        "current": 0,
        "settings": dict(settings or {}),
        "summaries": [],
        "forked_from": forked_from,
        "lineage": list(lineage or []),
        "stats": {"messages": 0, "tokens": 0} if head is None else None,  # None: computed on first write
        "rev": 0,
        "created_at": now,
        "updated_at": now,
    }


def header_from_dict(data: dict[str, Any], tree: MessageTree) -> dict[str, Any]:
    """Validate the header part of a record against its messages; fill defaults of older records."""
    sid = validate_session_id(data.get("session_id"))
    header = new_header(sid)
    header.update({k: data[k] for k in header if k in data})
    if not data.get("tree"):  # format 1: the family's root names the tree
        header["tree"] = legacy_tree({**data, "session_id": sid})
    if not data.get("stats") and header["head"] in tree:  # format 1: count the current path
        path = tree.path(header["head"])
        header["stats"] = {"messages": len(path), "tokens": sum(n.message.usage.total_tokens for n in path)}
    if not isinstance(header["tree"], str):
        raise SessionDataError(f"tree must be a string, got {header['tree']!r}")
    header["version"] = FORMAT_VERSION
    head = header["head"]
    heads = header["heads"] = list(header["heads"] or [head])
    for h in [head, *heads]:
        if h is not None and h not in tree:
            raise SessionDataError(f"head {h!r} is not one of its messages")
    current = header["current"]
    if current is not None and not (isinstance(current, int) and 0 <= current < len(heads)):
        raise SessionDataError(f"current branch {current!r} is out of range")
    if not isinstance(header["settings"], dict) or not isinstance(header["lineage"], list):
        raise SessionDataError("settings must be an object and lineage a list")
    for summary in header["summaries"]:
        SummaryRecord.from_dict(summary)  # raises on malformed entries
    for key in ("created_at", "updated_at"):
        datetime.fromisoformat(header[key])
    if not isinstance(header["rev"], int):
        raise SessionDataError(f"rev must be an int, got {header['rev']!r}")
    if isinstance(header["system"], str):
        header["system"] = clean_text(header["system"])  # (the one text rule: formats/text.py)
    return header


def tree_from_messages(entries: Any, session_id: str, *, checked: bool = False) -> MessageTree:
    if not isinstance(entries, list):
        raise SessionDataError(f"'messages' must be a list, got {type(entries).__name__}")
    tree = MessageTree()
    for entry in entries:
        node = node_from_dict(entry, session_id, checked=checked)
        if node.parent_id is not None and node.parent_id not in tree:
            raise SessionDataError(f"message {node.id!r} names parent {node.parent_id!r}, which is missing")
        tree.add(node)
    return tree


def parse_record(data: Any) -> tuple[dict[str, Any], MessageTree]:
    """Validate a ``to_dict()`` record: its header and its messages as a tree.

    Every problem raises SessionDataError naming the session.
    """
    sid = data.get("session_id") if isinstance(data, dict) else None
    where = f"session {sid!r}" if sid else "session data"
    if not isinstance(data, dict):
        raise SessionDataError(f"{where}: expected a dict from Session.to_dict(), got {type(data).__name__}")
    check_version(data, where, FORMAT_VERSION)
    check_record(data, where)  # data from outside: nothing is built before it passes
    try:
        tree = tree_from_messages(data.get("messages", []), sid or "", checked=True)
        return header_from_dict(data, tree), tree
    except SessionDataError as exc:
        raise SessionDataError(f"{where}: {exc}") from None
    except InvalidSessionIdError:
        raise SessionDataError(f"{where}: the session id is missing or invalid") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SessionDataError(f"{where}: malformed ({type(exc).__name__}: {exc})") from None


def session_from_dict(data: Any, agent: Agent) -> Session:
    """A session rebuilt from ``data``, validated but not registered with ``agent`` or stored."""
    header, tree = parse_record(data)
    return agent.repository.new_session(header, tree)
