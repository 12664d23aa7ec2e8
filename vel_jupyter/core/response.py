"""What a turn returns (Response) and what a stream yields (StreamEvent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..formats.text import clean_text
from .message import INCOMPLETE_REASONS, Message, ToolCall, Usage

EventType = Literal["text_delta", "tool_call", "tool_result", "turn_end"]


@dataclass(frozen=True)
class Response:
    """The outcome of one committed turn.

    ``messages`` are the messages the turn added (user prompt, any tool calls and
    results, the final answer) and ``message_ids`` their ids in the session's tree.
    """

    text: str
    session_id: str
    messages: tuple[Message, ...]
    message_ids: tuple[str, ...]
    usage: Usage
    model: str
    finish_reason: str | None
    latency_ms: float
    ttft_ms: float | None
    output: Any = None

    def __str__(self) -> str:
        return self.text

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [c for m in self.messages for c in m.tool_calls]

    @property
    def message(self) -> Message:
        """The final assistant message."""
        return self.messages[-1]

    @property
    def incomplete(self) -> bool:
        """True when the answer was cut off (``length``), filtered (``content_filter``) or
        stopped by its caller (``stopped``: a stream closed or interrupted with ``keep_stopped=True``).

        Such an answer is still committed (``length`` and ``content_filter`` unless
        ``allow_incomplete=False`` was asked for); ``finish_reason`` says which. ``max_tokens``
        higher gets the rest of a ``length`` answer.
        """
        return self.finish_reason in INCOMPLETE_REASONS

    @property
    def provider(self) -> str:
        """The provider that answered (``"echo"``: the offline one, not a model)."""
        meta = self.message.meta if self.messages else None
        return meta.provider if meta is not None else ""

    @property
    def refusal(self) -> str | None:
        """The model's refusal, when it declined to answer (the text is then its explanation)."""
        meta = self.message.meta if self.messages else None
        return meta.refusal if meta is not None else None


@dataclass(frozen=True)
class StreamEvent:
    """One event of a streamed turn.

    ``text_delta`` carries ``text``; ``tool_call`` carries ``tool_call``; ``tool_result``
    carries ``tool_call``, ``text`` (the result) and ``is_error``; ``turn_end`` carries
    ``response`` and comes last, after the turn was committed.
    """

    type: EventType
    text: str = ""
    tool_call: ToolCall | None = None
    is_error: bool = False
    step: int = 0
    response: Response | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Streamed text is shown before any Message holds it: the same rule (formats/text.py),
        # so a live view never meets a NUL or a lone surrogate the final answer would not have.
        if self.text:
            object.__setattr__(self, "text", clean_text(self.text))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "step": self.step}
        if self.text:
            data["text"] = self.text
        if self.tool_call is not None:
            data["tool_call"] = self.tool_call.to_dict()
        if self.type == "tool_result":
            data["is_error"] = self.is_error
        if self.response is not None:
            data["text"] = self.response.text
            data["usage"] = {
                "prompt_tokens": self.response.usage.prompt_tokens,
                "completion_tokens": self.response.usage.completion_tokens,
            }
        return data


class Answer(str):
    """Guide B's ``await agent.run(...)`` result: the answer text, with the full Response."""

    response: Response

    def __new__(cls, response: Response) -> Answer:
        answer = super().__new__(cls, response.text)
        answer.response = response
        return answer
