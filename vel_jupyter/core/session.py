"""Session: a named head in a message tree, and the turns that move it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..formats.kinds import FORMAT_VERSION
from .context import SummaryRecord
from .drivers import Progress, drive_async, drive_sync
from .message import Message, Usage
from .response import Response
from .serialize import node_to_dict
from .settings import SessionSettings
from .state import SessionState
from .streams import AsyncTurnStream, TurnStream
from .structured import check_schema
from .tools import as_tools
from .tree import Branch, Node, new_id, validate_session_id
from .turn import TurnSpec, turn_program

if TYPE_CHECKING:
    from .agent import Agent

_HEAD_MARK: Any = object()  # fork(at=...) default: the current head
__all__ = ["FORMAT_VERSION", "AsyncTurnStream", "Session", "TurnStream", "node_to_dict"]


class Session(SessionSettings):
    """A conversation: ``run``/``stream``/``json`` add turns; ``messages`` is the current path.

    Create sessions with ``agent.session(...)``. A session is a handle: a head pointer into a
    conversation tree it shares with its forks, and a header (system prompt, branches,
    settings) that the agent's repository persists. ``branches`` are the heads it remembers.
    """

    def __init__(self, agent: Agent, state: SessionState) -> None:
        """(Made by the agent's repository, which alone writes ``state``: use ``agent.session()``.)"""
        self.agent = agent
        self.session_id = validate_session_id(state.header.get("session_id"))
        self.persistent = True  # False for guide B's one-off runs without a session_id
        self._state = state

    def __repr__(self) -> str:
        return (
            f"<Session {self.session_id!r} messages={len(self._path(self._head))} "
            f"branches={len(self._heads)} model={self.model!r}>"
        )

    # -- state: everything below reads the JSON header, which is what stores keep ------

    @property
    def _head(self) -> str | None:
        head: str | None = self._state.header["head"]
        return head

    @property
    def _heads(self) -> list[str | None]:
        heads: list[str | None] = self._state.header["heads"]
        return heads

    @property
    def _current(self) -> int | None:
        current: int | None = self._state.header["current"]
        return current

    @property
    def rev(self) -> int:
        """How many times this session's header was written (stores compare-and-swap on it)."""
        return int(self._state.header["rev"])

    @property
    def tree_id(self) -> str:
        """The conversation tree this session points into; its forks share it."""
        return str(self._state.header["tree"])

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self._state.header["created_at"])

    @property
    def updated_at(self) -> datetime:
        return datetime.fromisoformat(self._state.header["updated_at"])

    # -- the public read API (exports and widgets use only this) -------------------------

    @property
    def head(self) -> str | None:
        """Id of the last message of the current path (None when empty)."""
        return self._head

    @property
    def heads(self) -> list[str | None]:
        """The head of every branch this session remembers, by branch index (a copy)."""
        return list(self._heads)

    @property
    def current_branch(self) -> int | None:
        """Index of the branch the head is on; None when checked out at another message."""
        heads, current = self._heads, self._current
        if current is not None and 0 <= current < len(heads) and heads[current] == self._head:
            return current
        return None

    @property
    def messages(self) -> list[Message]:
        """The current path's messages, oldest first (a copy; the system prompt is separate)."""
        return [node.message for node in self._path(self._head)]

    @property
    def nodes(self) -> list[Node]:
        """The current path as tree nodes: messages with ids, parent ids and timestamps."""
        return list(self._path(self._head))

    def path(self, head: str | None) -> list[Node]:
        """The nodes from the root down to ``head`` (any message of this session's tree)."""
        with self._state.tree.lock:
            if head is not None and head not in self._state.tree:
                raise ConfigurationError(f"no message {head!r} in session {self.session_id!r}")
            return list(self._path(head))

    def reachable_nodes(self) -> list[Node]:
        """Every node on any branch or the head, parents before children (what ``to_dict`` keeps)."""
        with self._state.tree.lock:
            return self._state.tree.closure([*self._heads, self._head])

    @property
    def summaries(self) -> dict[str, SummaryRecord]:
        """Recorded summaries of earlier messages, by the id of the last message each covers."""
        return dict(self._state.summaries)

    @property
    def stats(self) -> dict[str, int]:
        """``messages`` and ``tokens`` on the current path, as stored in the header (listing reads it)."""
        return dict(self._state.header.get("stats") or {"messages": 0, "tokens": 0})

    @property
    def usage(self) -> Usage:
        """Tokens used by the messages on the current path."""
        total = Usage()
        for node in self._path(self._head):
            if node.message.meta is not None:
                total = total + node.message.meta.usage
        return total

    @property
    def forked_from(self) -> dict[str, Any] | None:
        """``{"session_id", "message_id"}`` of the origin when this session is a fork."""
        origin = self._state.header.get("forked_from")
        return dict(origin) if origin else None

    @property
    def lineage(self) -> list[str]:
        """Ids of the sessions this one was forked from, nearest first."""
        return list(self._state.header.get("lineage") or [])

    @property
    def branches(self) -> list[Branch]:
        """The heads this session remembers; the current one has ``current=True``."""
        out = []
        for index, head in enumerate(self._heads):
            path = self._path(head)
            last = next((n.message.content for n in reversed(path) if n.message.content), "")
            preview = last if len(last) <= 60 else last[:57] + "..."
            out.append(Branch(index, head, index == self._current and head == self._head, len(path), preview))
        return out

    def node(self, message_id: str) -> Node:
        """The node with that id, anywhere in this session's tree."""
        node = self._state.tree.get(message_id)
        if node is None:
            raise ConfigurationError(f"no message {message_id!r} in session {self.session_id!r}")
        return node

    def children(self, message_id: str | None) -> list[Node]:
        """The nodes directly below ``message_id`` (None: the roots) in this session's tree."""
        return self._state.tree.children(message_id)

    def _path(self, head: str | None) -> list[Node]:
        return self._state.path(head)

    def path_view(self, head: str | None) -> Sequence[Node]:
        """The nodes from the root to ``head`` without a copy (read it, never change it): what the
        context window reads every turn, in O(window) rather than O(history)."""
        return self._state.path(head)

    # -- turns --------------------------------------------------------------------------

    def _spec(self, prompt: str | Message, schema: Any, params: dict[str, Any]) -> TurnSpec:
        if isinstance(prompt, Message):
            message = prompt
        elif isinstance(prompt, str):
            message = Message.user(prompt)
        else:
            raise ConfigurationError(f"the prompt must be a str or a Message, got {type(prompt).__name__}")
        if message.role != "user" or not message.content.strip():
            raise ConfigurationError("the prompt is empty: pass the text of the user's message")
        parent = params.pop("parent", _HEAD)
        cell_id = params.pop("cell_id", None)
        allow_incomplete = bool(params.pop("allow_incomplete", self.agent.allow_incomplete))
        keep_stopped = bool(params.pop("keep_stopped", False))
        tools = params.pop("tools", None)
        return TurnSpec(
            prompt=message,
            params=params,
            schema=check_schema(schema) if schema is not None else None,
            parent=None if parent is _HEAD else parent,
            explicit_parent=parent is not _HEAD,
            cell_id=cell_id,
            allow_incomplete=allow_incomplete,
            keep_stopped=keep_stopped,
            tools=self.agent.tools if tools is None else as_tools(tools),
        )

    def check_parent(self, spec: TurnSpec) -> None:
        """Fail before any request when ``parent=`` names no message of this session's tree."""
        if spec.explicit_parent and spec.parent is not None and spec.parent not in self._state.tree:
            raise ConfigurationError(f"parent {spec.parent!r} is not a message of session {self.session_id!r}")

    def stream(self, prompt: str | Message, *, schema: Any = None, **params: Any) -> TurnStream:
        """Stream a turn: yields ``text_delta``, ``tool_call``, ``tool_result``, then ``turn_end``.

        Extra keywords go to the model (``temperature``, ``max_tokens``, ...). Special ones:
        ``parent=`` (a message id, or None for the root) branches from there;
        ``cell_id=`` tags the turn; ``allow_incomplete=False`` raises ``IncompleteResponseError``
        for an answer cut off at ``max_tokens`` instead of keeping it (``response.incomplete``).

        A stream stopped early — ``stream.close()``, the end of a ``with`` block, Ctrl-C —
        adds nothing. ``keep_stopped=True`` keeps the answer so far instead, as a chat app
        does: the text the model had streamed becomes the turn's answer, exactly as streamed,
        with ``finish_reason="stopped"`` (``response.incomplete`` is true), committed like any
        turn; ``stream.response`` holds it (after Ctrl-C, the ``TurnInterrupted``'s
        ``response`` too). Tool steps that completed are kept with it. A stop before the
        answer being streamed has any text, while tools run, or of a structured turn
        (``schema=``) keeps nothing.
        """
        spec = self._spec(prompt, schema, params)
        self.check_parent(spec)
        self._announce_fallback()
        progress = Progress(keep_stopped=spec.keep_stopped)
        events = drive_sync(self, turn_program(self, spec), self.provider, spec.tools, progress)
        return TurnStream(events, progress)

    def stream_async(self, prompt: str | Message, *, schema: Any = None, **params: Any) -> AsyncTurnStream:
        """Async ``stream``: ``async for event in session.stream_async(...)`` (``await`` optional).

        Store reads and writes run in a worker thread: the event loop never waits on them.
        """
        spec = self._spec(prompt, schema, params)
        self.check_parent(spec)
        self._announce_fallback()
        progress = Progress(keep_stopped=spec.keep_stopped)
        events = drive_async(self, turn_program(self, spec), self.provider, spec.tools, progress)
        return AsyncTurnStream(events, progress)

    def _announce_fallback(self) -> None:
        """A turn on the offline echo that nobody asked for says so, once (a script: a line on
        stderr; a notebook: its own notice)."""
        self.agent.routing.announce_fallback(self._settings.get("provider"), self._settings.get("base_url"))

    def run(self, prompt: str | Message, **params: Any) -> Response:
        """Send ``prompt`` and return the answer; the history grows only if it succeeds.

        ``keep_stopped=True``: Ctrl-C keeps the answer so far (see ``stream``) and still raises
        ``TurnInterrupted``, whose ``response`` is the kept turn."""
        return self.stream(prompt, **params).collect()

    async def run_async(self, prompt: str | Message, **params: Any) -> Response:
        return await self.stream_async(prompt, **params).collect()

    def json(self, prompt: str | Message, schema: Any, **params: Any) -> Response:
        """Ask for structured output; ``response.output`` is an instance of ``schema``."""
        return self.stream(prompt, schema=schema, **params).collect()

    async def json_async(self, prompt: str | Message, schema: Any, **params: Any) -> Response:
        return await self.stream_async(prompt, schema=schema, **params).collect()

    def _regenerate_spec(self, prompt: str | Message | None, turn: int) -> tuple[str | Message, str | None]:
        users = [n for n in self._path(self._head) if n.message.role == "user"]
        if not users:
            raise ConfigurationError(f"session {self.session_id!r} has no turn to regenerate; run() one first")
        try:
            user_node = users[turn]
        except IndexError:
            raise ConfigurationError(f"turn {turn} does not exist; the session has {len(users)} turns") from None
        return (prompt if prompt is not None else user_node.message), user_node.parent_id

    def regenerate(self, prompt: str | Message | None = None, *, turn: int = -1, **params: Any) -> Response:
        """Run a turn again (same or new prompt) as a new branch; the old answer stays reachable."""
        text, parent = self._regenerate_spec(prompt, turn)
        return self.run(text, parent=parent, **params)

    async def regenerate_async(self, prompt: str | Message | None = None, *, turn: int = -1, **params: Any) -> Response:
        text, parent = self._regenerate_spec(prompt, turn)
        return await self.run_async(text, parent=parent, **params)

    # -- history operations --------------------------------------------------------------

    def add_message(self, message: Message) -> None:
        """Append one message to the current path, as if it had been said."""
        if not isinstance(message, Message):
            raise ConfigurationError(f"add_message() takes a Message, got {type(message).__name__}")
        self.agent.repository.commit(self, [message])

    def replace_history(self, messages: Iterable[Message]) -> None:
        """Start a new branch from the root holding exactly ``messages``."""
        values = list(messages)
        if not values:
            self.clear()
            return
        self.agent.repository.commit(self, values, parent=None, explicit_parent=True)

    def clear(self) -> None:
        """Empty the current path. Earlier branches stay in ``branches`` and the store."""
        self._move_head(None)

    def checkout(self, target: int | str | Branch | None) -> None:
        """Make a branch (a ``Branch``, or its 0-based position in ``heads``) or any message id
        of this session's tree the current head."""
        if isinstance(target, Branch):
            target = target.index
        if isinstance(target, int) and not isinstance(target, bool):
            if not -len(self._heads) <= target < len(self._heads):
                count = len(self._heads)
                raise ConfigurationError(
                    f"no branch at index {target}: session {self.session_id!r} has {count} "
                    f"(an int is the 0-based position in session.heads, 0 to {count - 1}; "
                    "pass a Branch from session.branches to go by its number)"
                )
            index = target % len(self._heads)
            self._update_header(head=self._heads[index], current=index)
            return
        if isinstance(target, bool) or (target is not None and target not in self._state.tree):
            raise ConfigurationError(
                f"{target!r} is neither a branch index nor a message of session {self.session_id!r}; "
                "see session.branches"
            )
        self._move_head(target)

    def _move_head(self, head: str | None) -> None:
        index = self._heads.index(head) if head in self._heads else None
        self._update_header(head=head, current=index)

    def fork(self, session_id: str | None = None, *, at: Any = _HEAD_MARK) -> Session:
        """A new session continuing from here (or from message ``at``); this one is unchanged.

        O(1): the fork shares the conversation tree, nothing is copied.
        """
        new_id_ = (
            validate_session_id(session_id) if session_id is not None else f"{self.session_id}-fork-{new_id()[-6:]}"
        )
        point = self.head if at is _HEAD_MARK else at
        if point is not None and point not in self._state.tree:
            raise ConfigurationError(f"cannot fork at {point!r}: not a message of session {self.session_id!r}")
        return self.agent.repository.fork(self, new_id_, point)

    # -- state changes (the repository computes, persists and applies them) ------------------

    def _update_header(self, **changes: Any) -> None:
        self.agent.repository.update_header(self, **changes)

    def header(self) -> dict[str, Any]:
        """A copy of the header this session would store (core and tests)."""
        return dict(self._state.header)

    # -- serialization -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the header, and every message on any branch (all parents before children)."""
        from .serialize import node_to_dict

        return {**self._state.header, "messages": [node_to_dict(n) for n in self.reachable_nodes()]}

    @classmethod
    def from_dict(cls, data: Any, agent: Agent) -> Session:
        """Rebuild a session saved with ``to_dict()`` and register it with ``agent``.

        With a store, the session is written to it — merged into its stored tree when that
        exists — so it can be continued and loaded again like any other.
        """
        return agent.repository.adopt(data)


class _Head:
    def __repr__(self) -> str:
        return "<current head>"


_HEAD: Any = _Head()
