"""A ``Reply`` encoded for one request: the SSE events of a streamed answer, or the body of a
non-streamed completion, with the envelope (id, model, usage) every chunk repeats."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from .replies import Reply
from .wire import Json, RecordedRequest, dumps, text_of

_FALLBACK_MODEL = "echo"
_SLOT = "__vel_delta_slot__"
_DONE = "data: [DONE]\n\n"


@dataclass(frozen=True)
class _Envelope:
    """The per-request fields every chunk repeats."""

    chunk_id: str
    created: int
    model: str
    include_usage: bool
    usage: Json

    @classmethod
    def of(cls, reply: Reply, request: RecordedRequest) -> _Envelope:
        body = request.body or {}
        options = body.get("stream_options")
        prompt = reply.prompt_tokens
        if prompt is None:
            prompt = sum(len(text_of(m.get("content")).split()) for m in request.messages if isinstance(m, dict))
        return cls(
            chunk_id=f"chatcmpl-{uuid.uuid4().hex[:24]}",
            created=int(time.time()),
            model=str(reply.model or body.get("model") or _FALLBACK_MODEL),
            include_usage=isinstance(options, dict) and options.get("include_usage") is True,
            usage={
                "prompt_tokens": prompt,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": prompt + reply.completion_tokens,
            },
        )

    def head(self, obj: str) -> Json:
        return {"id": self.chunk_id, "object": obj, "created": self.created, "model": self.model}

    def frame(self, finish_reason: str | None) -> tuple[str, str]:
        """The SSE event text before and after a chunk's delta object."""
        chunk = self.head("chat.completion.chunk")
        chunk["choices"] = [{"index": 0, "delta": _SLOT, "logprobs": None, "finish_reason": finish_reason}]
        if self.include_usage:
            chunk["usage"] = None
        # rpartition: the slot is the last string in the chunk, even if the model name mimics it.
        before, _, after = dumps(chunk).rpartition(dumps(_SLOT))
        return "data: " + before, after + "\n\n"

    def usage_event(self) -> str:
        chunk = self.head("chat.completion.chunk")
        chunk["choices"] = []
        chunk["usage"] = self.usage
        return f"data: {dumps(chunk)}\n\n"


def stream_events(reply: Reply, request: RecordedRequest) -> list[str]:
    envelope = _Envelope.of(reply, request)
    before, after = envelope.frame(None)
    events = [before + delta + after for delta in reply.deltas]
    if reply.kind == "error_event":
        events.append(f'data: {{"error":{reply.error}}}\n\n')
    elif reply.kind == "completion":
        if reply.finish_reason is not None:
            before, after = envelope.frame(reply.finish_reason)
            events.append(before + "{}" + after)
        if envelope.include_usage:
            events.append(envelope.usage_event())
        events.append(_DONE)
    return events


def completion_body(reply: Reply, request: RecordedRequest) -> str:
    envelope = _Envelope.of(reply, request)
    body = envelope.head("chat.completion")
    body["choices"] = [
        {"index": 0, "message": json.loads(reply.message), "logprobs": None, "finish_reason": reply.finish_reason}
    ]
    body["usage"] = envelope.usage
    return dumps(body)
