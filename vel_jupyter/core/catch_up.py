"""Catching up with other processes: the pre-turn sync and the refresh after a lost race.

A mixin of ``Repository`` (the repository is the one writer of session state; this is the
part that reads what others wrote). A stored header and the rows it needs are data from
outside: each row is checked, and their parent links must reach the tree without a loop,
before anything changes in memory.
"""

from __future__ import annotations

import weakref
from functools import partial
from typing import TYPE_CHECKING, Any

from ..errors import SessionDataError, StoreError
from ..formats import check_links, check_message
from ..formats.records import damaged, tree_of
from .serialize import node_from_dict
from .steps import Io, Steps
from .store_reads import checked_header, parents_first, reader, store_call
from .tree import MessageTree, Node

if TYPE_CHECKING:
    from .agent import Agent
    from .ports import TurnStore
    from .session import Session
    from .state import SessionState


class CatchUp:
    """Reads what other processes wrote to a session and applies it (see ``Repository``)."""

    agent: Agent
    _turns: TurnStore | None
    _states: weakref.WeakKeyDictionary[Session, SessionState]

    def tree_for(self, tree_id: str) -> MessageTree:
        raise NotImplementedError

    def _absorb(self, session: Session, header: dict[str, Any], nodes: Any = (), **how: Any) -> None:
        raise NotImplementedError

    def _sync_steps(self, session: Session) -> Steps[None]:
        turns = self._turns
        if turns is None or not session.persistent or session.rev == 0:
            return
        sid = session.session_id
        header = yield Io(lambda: store_call(sid, lambda: turns.read_header(sid)))
        if header is None:
            raise StoreError(
                f"session {sid!r} is no longer in the store (deleted or expired); start it again with "
                f"agent.session({sid!r}), or restore it with Session.from_dict(data, agent)"
            )
        header = checked_header(sid, header)
        if header.get("rev") != session.rev:
            yield from self._absorb_steps(session, header)

    def _refresh_steps(self, session: Session) -> Steps[None]:
        """Catch up with what other processes wrote to this session."""
        turns = self._turns
        if turns is None:
            return
        sid = session.session_id
        header = yield Io(lambda: store_call(sid, lambda: turns.read_header(sid)))
        if header is None:
            raise StoreError(f"session {sid!r} was deleted from the store by another process")
        yield from self._absorb_steps(session, checked_header(sid, header))

    def _absorb_steps(self, session: Session, header: dict[str, Any]) -> Steps[None]:
        """Take a checked stored header, and the messages it needs, as the session's state.

        Rows are data from outside: each is checked and their parent links must reach the
        tree without a loop, before anything changes in memory.
        """
        turns = self._turns
        assert turns is not None
        sid = session.session_id
        tree_id = tree_of(header)
        restarted = tree_id != session.tree_id
        tree = self.tree_for(tree_id) if restarted else self._states[session].tree
        fetched: dict[str, Node] = {}
        wanted = [h for h in [header.get("head"), *(header.get("heads") or [])] if h and h not in tree]
        while wanted:
            batch = list(dict.fromkeys(wanted))
            rows: list[Any] = yield Io(reader(sid, partial(turns.read_messages, tree_id, batch)))
            found: dict[str, dict[str, Any]] = {}
            for row in rows:
                mid = row.get("id") if isinstance(row, dict) else None
                try:
                    check_message(row, f"session {sid!r}: message {mid!r}")
                except SessionDataError as exc:
                    raise damaged(exc, sid) from None
                if row["id"] in batch:
                    found[row["id"]] = row
            missing = set(batch) - set(found)
            if missing:
                raise StoreError(f"session {sid!r}: messages {sorted(missing)} are missing from its tree")
            wanted = []
            for row in found.values():
                node = node_from_dict(row, sid, checked=True)
                fetched[node.id] = node
                parent = node.parent_id
                if parent is not None and parent not in tree and parent not in fetched:
                    wanted.append(parent)
        parents = {node.id: node.parent_id for node in fetched.values()}
        try:
            check_links(
                parents, f"session {sid!r}", outside=[p for p in parents.values() if p is not None and p in tree]
            )
        except SessionDataError as exc:
            raise damaged(exc, sid) from None
        if restarted:
            # Deleted and started again (or replaced) elsewhere: a new conversation under the same
            # id. Take it, and refuse the action that was meant for the old one.
            with tree.lock:
                for node in parents_first(fetched, tree):
                    tree.add(node)
            self._states[session].rebase(header, tree)
            self.agent.notify(session)
            raise StoreError(
                f"session {sid!r} was deleted from the store by another process and started again (or replaced); "
                "this session now shows that conversation, and nothing was changed: look at it, then retry"
            )
        self._absorb(session, header, parents_first(fetched, tree), stored=True)
