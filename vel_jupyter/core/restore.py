"""Restoring a saved session (``Session.from_dict``): registered, and merged into its store.

A mixin of ``Repository``. When the store holds the session already, the record is merged
into it: its messages join the stored tree, its header becomes the session's, and stored
branches the record does not know stay reachable as further branches.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from ..errors import SessionDataError, StoreError
from ..formats import check_record
from ..formats.records import damaged, header_heads, join_record
from .ports import HeadConflict
from .serialize import node_from_dict, node_to_dict, parse_record
from .steps import MAX_CONFLICT_RETRIES, Io, Pause, Steps, backoff, run_steps
from .store_reads import checked_header, reader
from .tree import MessageTree, Node, utcnow

if TYPE_CHECKING:
    import threading
    import weakref
    from collections.abc import Iterable

    from .agent import Agent
    from .ports import SessionStore, TurnStore
    from .session import Session
    from .state import SessionState


class Restore:
    """``adopt``: a record from outside becomes a registered (and stored) session."""

    agent: Agent
    store: SessionStore | None
    _turns: TurnStore | None
    _states: weakref.WeakKeyDictionary[Session, SessionState]
    _sessions: dict[str, Session]
    _lock: threading.RLock

    def tree_for(self, tree_id: str) -> MessageTree:
        raise NotImplementedError

    def new_session(self, header: dict[str, Any], tree: MessageTree | None = None) -> Session:
        raise NotImplementedError

    def register(self, session: Session) -> Session:
        raise NotImplementedError

    def _write(self, session: Session, nodes: Iterable[Node], header: dict[str, Any], rev: int | None) -> None:
        raise NotImplementedError

    def _absorb_steps(self, session: Session, header: dict[str, Any]) -> Steps[None]:
        raise NotImplementedError

    def adopt(self, data: Any) -> Session:
        """``Session.from_dict``: register the session and, with a store, write it there.

        When the store holds the session already, the record is merged into it: its messages
        join the stored tree, its header (head, system prompt, settings) becomes the session's,
        and stored branches the record does not know stay reachable as further branches.
        """

        header, parsed = parse_record(data)
        sid = header["session_id"]
        with self._lock:
            old = self._sessions.pop(sid, None)
        try:
            if self.store is None:
                tree = self.tree_for(header["tree"])
                with tree.lock:
                    for node in parsed.nodes():
                        tree.add(node)
                session = self.new_session(header, tree)
            else:
                session = run_steps(self._restore_steps(header, parsed))
        except BaseException:
            if old is not None:
                self.register(old)
            raise
        return self.register(session)

    def _restore_steps(self, record: dict[str, Any], parsed: MessageTree) -> Steps[Session]:

        sid = record["session_id"]
        nodes = parsed.nodes()
        turns, store = self._turns, self.store
        assert store is not None
        for attempt in range(MAX_CONFLICT_RETRIES):
            # What is stored is data from outside: checked before it is merged with the record.
            if turns is not None:
                stored = yield Io(reader(sid, partial(turns.read_header, sid)))
                stored = None if stored is None else checked_header(sid, stored)
                stored_messages: list[dict[str, Any]] = []
            else:
                whole = yield Io(reader(sid, partial(store.load, sid)))
                if whole is not None:
                    whole = {**whole, "session_id": sid} if isinstance(whole, dict) else whole
                    try:
                        check_record(whole, f"session {sid!r}")
                    except SessionDataError as exc:
                        raise damaged(exc, sid) from None
                stored = None if whole is None else {k: v for k, v in whole.items() if k != "messages"}
                stored_messages = [] if whole is None else list(whole.get("messages") or [])
            header = {**record, "updated_at": utcnow().isoformat()}
            expected = None
            if stored is not None:
                expected = int(stored.get("rev") or 0)
                header["tree"] = stored.get("tree") or header["tree"]  # the record joins the stored tree
                kept = [h for h in header_heads(stored) if h not in parsed]  # branches the record lacks
                header["heads"] = [*header["heads"], *kept]
            header["rev"] = (expected or 0) + 1
            tree = self.tree_for(header["tree"])
            with tree.lock:
                for node in nodes:
                    tree.add(node)
                for entry in stored_messages:
                    if entry.get("id") not in tree:
                        tree.add(node_from_dict(entry, sid, checked=True))
            session = self.new_session({**header, "rev": expected or 0}, tree)
            try:
                if turns is not None:
                    yield Io(partial(self._write, session, nodes, header, expected))
                else:
                    everything = [*stored_messages, *(node_to_dict(n) for n in nodes)]
                    yield Io(partial(store.save, sid, join_record(header, everything)))
            except HeadConflict:
                yield Pause(backoff(attempt))
                continue
            self._states[session].apply(header)
            if turns is not None and any(h not in tree for h in header_heads(header)):
                yield from self._absorb_steps(session, header)  # the stored branches' messages
            return session
        raise StoreError(f"session {sid!r} kept changing in another process; it was not restored, retry")
