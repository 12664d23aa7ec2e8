"""The one validator for data from outside: a ``to_dict()`` record (``Session.from_dict``, a
store row, a notebook's ``%chat export``), a message row, a notebook's turn payload.

Everything is checked — types (strictly: ``"3"`` is no int, ``true`` no count), sizes, ids,
bounded counts and nesting, and parent links that are present and acyclic — before anything
is built from the data; anything else is one ``SessionDataError`` line naming the session and
the field (``messages[3].parent_id``). The shapes are pydantic models in strict mode
(pydantic's Rust core checks a 10,000-message record in milliseconds); unknown keys are
allowed where a newer version may add them and refused in ``settings``, which ``configure``
also refuses.

Settings that decide where requests go or what they carry are data like any other: a
``base_url`` read here is not contacted until the user names it (core/secrets.py), and request
headers or query parameters (``params.extra_headers``/``extra_query``) are never read from data
— they could swap the key a request is sent with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from ..errors import SessionDataError
from .limits import SESSION_ID

if TYPE_CHECKING:
    from pydantic import ValidationError


# -- checks -------------------------------------------------------------------------------


def _one_line(exc: ValidationError, where: str) -> SessionDataError:
    """The first problem pydantic found, as ``where: field.path: what is wrong``."""
    error = exc.errors(include_url=False, include_input=False)[0]
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    # (a union reports each member it tried: the path names the field, the message the first failure)
    path = re.sub(r"\.(?:function-after|nullable|list|dict|json-or-python)\[[^\]]*\]|\.[A-Z]\w*Shape", "", path)
    message = "is not a valid session id" if error["type"] == "string_pattern_mismatch" else error["msg"]
    message = re.sub(r" or instance of \w+", "", message)
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    field = f"{path}: " if path else ""
    return SessionDataError(f"{where}: {field}{message}{more}" if where else f"{field}{message}{more}")


def _where(data: Any, what: str) -> str:
    sid = data.get("session_id") if isinstance(data, Mapping) else None
    if isinstance(sid, str) and SESSION_ID.fullmatch(sid):
        return f"session {sid!r}"
    return what


def _validate(shape: str, data: Any, where: str) -> None:
    from pydantic import ValidationError

    from .shapes import ADAPTERS

    if not isinstance(data, Mapping):
        raise SessionDataError(f"{where}: expected an object, got {type(data).__name__}")
    try:
        ADAPTERS[shape].validate_python(data)
    except ValidationError as exc:
        raise _one_line(exc, where) from None
    except RecursionError:
        raise SessionDataError(f"{where}: nested too deeply") from None


def check_message(data: Any, where: str = "message") -> None:
    """A message as ``node_to_dict`` writes it (a store row, one entry of a record)."""
    _validate("message", data, where)


def check_header(data: Any, where: str | None = None) -> None:
    """A session header (a store row, or a record without its messages)."""
    where = where or _where(data, "session data")
    _validate("header", data, where)
    _check_settings(data, where)


def check_summary_header(data: Any) -> str | None:
    """Why a stored header cannot be listed, or None (listings show a damaged row, not a crash)."""
    try:
        check_header(data)
    except SessionDataError as exc:
        return str(exc)
    return None


def check_record(data: Any, where: str | None = None) -> None:
    """A whole ``to_dict()`` record: header, messages, and links between them.

    Every message's parent is one of the record's messages, no chain of parents loops, every
    head is one of its messages, ``current`` is a branch, and no message id appears twice.
    """
    where = where or _where(data, "session data")
    _validate("record", data, where)
    _check_settings(data, where)
    messages = data.get("messages") or []
    parents: dict[str, str | None] = {}
    for index, message in enumerate(messages):
        if message["id"] in parents:
            raise SessionDataError(f"{where}: messages[{index}].id: {message['id']!r} appears twice")
        parents[message["id"]] = message.get("parent_id")
    check_links(parents, where)
    heads = data.get("heads")
    for field, value in [("head", data.get("head")), *((f"heads[{i}]", h) for i, h in enumerate(heads or []))]:
        if value is not None and value not in parents:
            raise SessionDataError(f"{where}: {field} {value!r} is not one of its messages")
    current = data.get("current")
    if current is not None and heads is not None and current >= max(len(heads), 1):
        raise SessionDataError(f"{where}: current branch {current} is out of range (it has {len(heads)})")


def check_turn_payload(data: Any, where: str) -> None:
    """One ``%%chat`` output's turn payload (a live frame is checked for its shape only)."""
    if isinstance(data, Mapping) and data.get("live") is True:
        return
    _validate("turn", data, where)
    if data["branch"] is not None and data["branch"] >= data["branches"]:
        raise SessionDataError(f"{where}: branch: {data['branch']} is not one of its {data['branches']} branches")
    messages = data["messages"]
    for previous, message in pairwise(messages):
        if message.get("parent_id") != previous["id"]:
            raise SessionDataError(
                f"{where}: message {message['id']!r} names parent {message.get('parent_id')!r}, not the turn's "
                f"previous message {previous['id']!r}: its parent links are broken"
            )
    if data["head"] != messages[-1]["id"]:
        raise SessionDataError(f"{where}: head {data['head']!r} is not the turn's last message {messages[-1]['id']!r}")


def check_links(parents: Mapping[str, str | None], where: str, *, outside: Iterable[str] = ()) -> None:
    """Every parent is known (in ``parents`` or ``outside``) and no chain of parents loops.

    O(n): each id is walked once; ``outside`` ids are messages already held elsewhere (a
    store's tree), taken as rooted.
    """
    done = set(outside)
    for start in parents:
        chain: list[str] = []
        on_chain: set[str] = set()
        node: str | None = start
        while node is not None and node not in done:
            if node in on_chain:
                raise SessionDataError(f"{where}: message {node!r} is its own ancestor: its parent links loop")
            if node not in parents:
                raise SessionDataError(
                    f"{where}: message {chain[-1]!r} names parent {node!r}, which is missing"
                    if chain
                    else f"{where}: message {node!r} is missing"
                )
            chain.append(node)
            on_chain.add(node)
            node = parents[node]
        done.update(chain)


# Request options that can change where a request goes or which key it carries.
_REQUEST_OPTIONS = ("extra_headers", "extra_query")


def _check_settings(data: Mapping[str, Any], where: str) -> None:
    params = (data.get("settings") or {}).get("params") or {}
    for name in _REQUEST_OPTIONS:
        if name in params:
            raise SessionDataError(
                f"{where}: settings.params.{name}: request headers and query parameters are not read from saved "
                "data (they could replace your key); remove them, and pass them again in this process"
            )


def load_json(text: str | bytes, where: str) -> Any:
    """``json.loads`` whose every failure (deep nesting included) is one SessionDataError line."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SessionDataError(f"{where}: not JSON ({str(exc)[:200]})") from None


def check_version(data: Mapping[str, Any], where: str, newest: int) -> None:
    """``data["version"]`` is a format this release reads (1 to ``newest``): one line otherwise,
    saying to upgrade when the data was written by a newer release."""
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SessionDataError(f"{where}: no valid 'version' field ({version!r}); this is not vel_jupyter data")
    if version > newest:
        raise SessionDataError(
            f"{where}: written by a newer vel_jupyter (format {version}, this one reads up to {newest}); upgrade"
        )
