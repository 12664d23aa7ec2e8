"""Reading from a store: every failure one line naming the session, its text redacted.

What a store gives back is data from outside: a header is checked (``checked_header``), a
driver's error becomes a ``StoreError`` that names the session and says what to do, and an
error whose text holds a credential is never chained (a traceback would show it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import AgentError, SessionDataError, StoreError
from ..formats.records import damaged, stored_header
from .secrets import redact_text
from .tree import MessageTree, Node

T = TypeVar("T")


def stats_of_record(data: dict[str, Any]) -> dict[str, int]:
    """``stats`` of a record whose header has none (written before format 2): walk its head."""
    by_id = {m.get("id"): m for m in data.get("messages") or [] if isinstance(m, dict)}
    count = tokens = 0
    current = data.get("head")
    while current is not None and current in by_id:
        message = by_id[current]
        meta = message.get("meta") or {}
        count += 1
        tokens += int(meta.get("prompt_tokens") or 0) + int(meta.get("completion_tokens") or 0)
        current = message.get("parent_id")
    return {"messages": count, "tokens": tokens}


def reader(session_id: str, call: Callable[[], T]) -> Callable[[], T]:
    return lambda: store_call(session_id, call)


def checked_header(session_id: str, header: Any) -> dict[str, Any]:
    """A header a TurnStore read back (data from outside: a user's store may not check it)."""
    if not isinstance(header, dict):
        raise damaged(SessionDataError(f"session {session_id!r}: its stored header is not an object"), session_id)
    return stored_header(session_id, header)


def store_call(session_id: str, call: Callable[[], T]) -> T:
    """Run a store read; any failure becomes a StoreError naming the session (SessionDataError
    for data that fails the validator), its text redacted."""
    try:
        return call()
    except SessionDataError as exc:
        raise damaged(exc, None if session_id == "*" else session_id) from None
    except StoreError as exc:
        if session_id == "*" or repr(session_id) in str(exc):
            raise
        raise StoreError(redact_text(f"could not read session {session_id!r}: {exc}")) from exc
    except AgentError:
        raise
    except Exception as exc:
        raise StoreError(
            redact_text(
                f"could not read session {session_id!r} from the store ({type(exc).__name__}: {exc}); "
                "check that the store is reachable, then retry"
            )
        ) from chainable(exc)


def chainable(exc: BaseException) -> BaseException | None:
    """``exc`` as a cause to chain, unless its text holds a credential (a traceback would show it)."""
    return exc if redact_text(str(exc)) == str(exc) else None


def parents_first(nodes: dict[str, Node], tree: MessageTree) -> list[Node]:
    ordered: list[Node] = []
    placed: set[str] = set()
    pending = list(nodes.values())
    while pending:
        rest = [n for n in pending if not (n.parent_id is None or n.parent_id in tree or n.parent_id in placed)]
        for node in pending:
            if node not in rest:
                ordered.append(node)
                placed.add(node.id)
        if len(rest) == len(pending):
            raise StoreError(f"messages {[n.id for n in rest][:5]} have parents that are not stored")
        pending = rest
    return ordered
