"""Context managers decide what part of a session is *sent* to the model.

They never delete anything: the session (and its store) keeps every message. Guide B's
API lives here: ``messages_for_llm(run_id, session_id)`` returns OpenAI-format dicts and
may be overridden (the RAG example); ``get_session_context``, ``clear_session`` and
``set_session_context`` work on the agent's sessions.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from .message import Message, Usage
from .tree import Node, new_id

if TYPE_CHECKING:
    from .agent import Agent
    from .session import Session

SUMMARY_INSTRUCTIONS = (
    "You condense conversations. Write a short summary of the conversation below that keeps "
    "names, facts, numbers, decisions and open questions. Answer with the summary only."
)


@dataclass(frozen=True)
class SummaryRecord:
    """A model-written summary of a session's path up to and including ``covers``."""

    covers: str
    text: str
    model: str = ""
    usage: Usage = field(default_factory=Usage)

    def to_dict(self) -> dict[str, Any]:
        return {
            "covers": self.covers,
            "text": self.text,
            "model": self.model,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SummaryRecord:
        return cls(
            covers=str(data["covers"]),
            text=str(data["text"]),
            model=str(data.get("model") or ""),
            usage=Usage(int(data.get("prompt_tokens") or 0), int(data.get("completion_tokens") or 0)),
        )


@dataclass
class RunState:
    """One turn in progress: its session, where it attaches, and its unsaved messages."""

    run_id: str
    session: Session
    base: str | None
    pending: list[Message]
    new_summary: SummaryRecord | None = None


@dataclass(frozen=True)
class SummaryJob:
    """Messages that fell out of the window and are not yet covered by a summary."""

    previous: str | None
    messages: list[Message]
    covers: str

    def prompt(self) -> list[dict[str, Any]]:
        lines = [f"{m.role}: {m.content}" for m in self.messages if m.content]
        body = "\n".join(lines)
        if self.previous:
            body = f"Summary so far:\n{self.previous}\n\nThen:\n{body}"
        return [{"role": "system", "content": SUMMARY_INSTRUCTIONS}, {"role": "user", "content": body}]


class ContextManager:
    """Full history (the default), or a sliding window of ``max_history`` messages.

    With ``summarize=True`` the messages that fall out of the window are replaced by a
    model-written summary, sent as a system message. Summaries are recorded in the
    session, and refreshed only when ``max_history // 2`` (at least 2) more messages have
    fallen out, so a long conversation costs one extra model call every few turns.
    The system prompt is always sent, and a window never starts with a tool result
    separated from the call that produced it.
    """

    retains_history = True

    def __init__(self, max_history: int | None = None, summarize: bool = False) -> None:
        if max_history is not None and (not isinstance(max_history, int) or max_history < 1):
            raise ConfigurationError(f"max_history must be a positive int or None, got {max_history!r}")
        if summarize and max_history is None:
            raise ConfigurationError("summarize=True needs max_history=N: the summary replaces what falls out of it")
        self.max_history = max_history
        self.summarize = summarize
        self._agent: Agent | None = None
        self._runs: dict[str, RunState] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_history={self.max_history!r}, summarize={self.summarize!r})"

    def bind(self, agent: Agent) -> None:
        """Attach to the agent whose sessions this manager reads (done by ``Agent``)."""
        self._agent = agent

    def _session(self, session_id: str, *, create: bool = False) -> Session | None:
        if self._agent is None:
            raise ConfigurationError("this context manager is not attached to an Agent; pass it as context_manager=")
        if create:
            return self._agent.session(session_id=session_id)
        return self._agent.get_session(session_id, default=None)

    # -- guide B's session operations -------------------------------------------------

    def get_session_context(self, session_id: str) -> list[dict[str, Any]]:
        """The session's messages (current branch) as OpenAI-format dicts; [] if unknown."""
        session = self._session(session_id)
        return [] if session is None else [m.to_openai() for m in session.messages]

    def clear_session(self, session_id: str) -> None:
        """Start the session afresh (earlier branches stay reachable in its tree)."""
        session = self._session(session_id)
        if session is not None:
            session.clear()

    def set_session_context(self, session_id: str, messages: Iterable[dict[str, Any] | Message]) -> None:
        """Replace the session's history with ``messages`` (dicts or Message values)."""
        session = self._session(session_id, create=True)
        assert session is not None
        values = [m if isinstance(m, Message) else Message.from_openai(m) for m in messages]
        session.replace_history(values)

    # -- what is sent ---------------------------------------------------------------

    @contextmanager
    def run(self, session: Session, base: str | None, pending: list[Message]) -> Iterator[RunState]:
        """Register a turn so ``messages_for_llm(run_id, ...)`` can see its messages."""
        state = RunState(new_id(), session, base, pending)
        self._runs[state.run_id] = state
        try:
            yield state
        finally:
            self._runs.pop(state.run_id, None)

    def messages_for_llm(self, run_id: str, session_id: str | None = None) -> list[dict[str, Any]]:
        """The messages to send for run ``run_id``: system prompt, (summary,) window, this turn."""
        run = self._runs.get(run_id)
        session = run.session if run is not None else (self._session(session_id) if session_id else None)
        out: list[dict[str, Any]] = []
        if session is not None and session.system:
            out.append({"role": "system", "content": session.system})
        if session is not None and session_id is not None:
            path = session.path_view(run.base if run is not None else session.head)
            start, summary = self._select(session, path, run)
            if summary is not None:
                out.append({"role": "system", "content": f"Summary of the earlier conversation:\n{summary}"})
            out.extend(node.message.to_openai() for node in itertools.islice(path, start, None))
        if run is not None:
            out.extend(m.to_openai() for m in run.pending)
        return out

    def window_start(self, path: Sequence[Node]) -> int:
        """Index of the first message inside the window."""
        if self.max_history is None or len(path) <= self.max_history:
            return 0
        return _skip_tool_results(path, len(path) - self.max_history)

    def _latest_summary(
        self, session: Session, path: Sequence[Node], run: RunState | None
    ) -> tuple[int, SummaryRecord | None]:
        """The most recent summary on this path, and the index of the node it covers."""
        fresh = run.new_summary if run is not None else None
        recorded = session.summaries
        for index in range(len(path) - 1, -1, -1):
            node_id = path[index].id
            if fresh is not None and fresh.covers == node_id:
                return index, fresh
            if node_id in recorded:
                return index, recorded[node_id]
        return -1, None

    def _select(self, session: Session, path: Sequence[Node], run: RunState | None) -> tuple[int, str | None]:
        start = self.window_start(path)
        if not self.summarize or start == 0:
            return start, None
        covered, record = self._latest_summary(session, path, run)
        if record is None:
            return start, None  # summary not computed (e.g. called outside a turn)
        return _skip_tool_results(path, covered + 1), record.text

    def summary_job(self, run: RunState) -> SummaryJob | None:
        """What needs summarising before this turn, or None when the recorded summary will do."""
        if not self.summarize or self.max_history is None:
            return None
        path = run.session.path_view(run.base)
        start = self.window_start(path)
        if start == 0:
            return None
        covered, record = self._latest_summary(run.session, path, run)
        slack = max(2, self.max_history // 2)
        if record is not None and len(path) - (covered + 1) <= self.max_history + slack:
            return None
        return SummaryJob(
            previous=record.text if record else None,
            messages=[n.message for n in path[covered + 1 : start]],
            covers=path[start - 1].id,
        )


def _skip_tool_results(path: Sequence[Node], start: int) -> int:
    while start < len(path) and path[start].message.role == "tool":
        start += 1
    return start


class StatelessContextManager(ContextManager):
    """Each call stands alone: only the system prompt and the current message are sent,
    and nothing is added to the session's history."""

    retains_history = False

    def __init__(self) -> None:
        super().__init__()

    def messages_for_llm(self, run_id: str, session_id: str | None = None) -> list[dict[str, Any]]:
        return super().messages_for_llm(run_id, None)
