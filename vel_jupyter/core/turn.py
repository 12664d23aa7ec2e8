"""One turn, written once: a generator program that *asks* for model calls and tool runs.

``turn_program`` holds every rule of a turn (context, tool loop, step bound, finish
reasons, structured output, the atomic commit) and does no I/O: it yields effects
(``CallModel``, ``RunTools``, ``Emit``) and is sent their results. The drivers
(``drivers.py``) perform the effects with the provider's sync or async stream, so the
sync path uses a native sync client (no thread hop per token) and the async path never
blocks the loop, without duplicating the logic.

The store is an effect too: ``SyncWithStore`` before the turn and ``Commit`` after the last
model call succeeded, before the ``turn_end`` event. Any exception, interrupt or abandoned
stream before the commit leaves the session exactly as it was.

A stop is the one exception, and only when asked for (``keep_stopped=True``): when the caller
closes the stream (``TurnStream.close()``) or interrupts it (Ctrl-C) while a model call is
streaming text, the driver throws ``Stopped`` into the program at that call, and the program
commits the text streamed by that call as an answer with finish reason ``stopped`` — after the
tool steps that completed, through the same ``Commit``. A stop anywhere else (before any text
of the call, while tools run, during a summary) or of a structured turn keeps nothing.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import IncompleteResponseError, MaxStepsError, RefusalError, StreamError
from .message import INCOMPLETE_REASONS, STOPPED, Message, MessageMeta, ToolCall, Usage
from .ports import Completion, ProviderRequest
from .response import Response, StreamEvent
from .structured import parse_output, response_format
from .tools import Tool, ToolOutcome

if TYPE_CHECKING:
    from .session import Session


@dataclass(frozen=True)
class CallModel:
    request: ProviderRequest
    visible: bool = True  # False for bookkeeping calls (summaries) the user does not see


@dataclass(frozen=True)
class RunTools:
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True)
class Emit:
    event: StreamEvent


@dataclass(frozen=True)
class SyncWithStore:
    """Before the turn: catch up with what other processes stored for this session."""


@dataclass(frozen=True)
class Commit:
    """The turn's messages, to be stored and added (the result is their tree nodes)."""

    messages: list[Message]
    parent: str | None
    explicit_parent: bool
    cell_id: str | None
    summary: Any = None


Effect = CallModel | RunTools | Emit | SyncWithStore | Commit


@dataclass(frozen=True)
class ModelResult:
    completion: Completion
    latency_ms: float
    ttft_ms: float | None


@dataclass(frozen=True)
class TurnSpec:
    """What the caller asked for."""

    prompt: Message
    params: dict[str, Any]
    schema: type[Any] | None = None
    parent: str | None = None
    explicit_parent: bool = False  # True: attach at ``parent`` (regenerate), else at the head
    cell_id: str | None = None
    allow_incomplete: bool = True  # keep cut-off answers, marked (False: raise IncompleteResponseError)
    keep_stopped: bool = False  # a stop keeps the answer so far, marked "stopped" (False: nothing is added)
    tools: dict[str, Tool] = field(default_factory=dict)


class Stopped(Exception):
    """Thrown into the program at the model call its caller stopped: the text that call streamed."""

    def __init__(self, text: str, latency_ms: float, ttft_ms: float | None) -> None:
        super().__init__("the turn was stopped")
        self.text, self.latency_ms, self.ttft_ms = text, latency_ms, ttft_ms

    def result(self) -> ModelResult:
        """The stopped call as if it had ended, with finish reason ``stopped`` and no usage reported."""
        return ModelResult(Completion(self.text, STOPPED), self.latency_ms, self.ttft_ms)


def turn_program(session: Session, spec: TurnSpec) -> Generator[Effect, Any, Response]:
    agent = session.agent
    ctx = agent.ctxmgr
    yield SyncWithStore()
    session.check_parent(spec)
    base = spec.parent if spec.explicit_parent else session.head
    started = time.perf_counter()
    with ctx.run(session, base, [spec.prompt]) as run:
        job = ctx.summary_job(run)
        if job is not None:
            request = ProviderRequest(model=session.model, messages=job.prompt(), params={})
            result: ModelResult = yield CallModel(request, visible=False)
            run.new_summary = _summary_record(job.covers, result)

        tools = spec.tools
        tool_specs = [t.to_openai() for t in tools.values()]
        fmt = response_format(spec.schema) if spec.schema is not None else None
        params = {**agent.params, **session.params, **spec.params}
        # tool_choice ("required", "none", "auto") steers the turn's first request only: after
        # the tools answered, the model must be free to reply (and the last step forbids calls).
        first_choice = params.pop("tool_choice", None)
        max_steps = agent.max_steps
        usage = Usage()
        ttft: float | None = None
        for step in range(max_steps):
            # On the last step forbid further calls, so the model has to answer.
            last = step == max_steps - 1
            request = ProviderRequest(
                model=session.model,
                messages=ctx.messages_for_llm(run.run_id, session.session_id),
                tools=tool_specs,
                tool_choice="none" if (last and tool_specs) else (first_choice if step == 0 else None),
                response_format=fmt,
                params=params,
            )
            try:
                result = yield CallModel(request)
            except Stopped as stop:
                # Half a JSON document or of a tool call is no answer; no text is nothing to keep.
                if fmt is not None or not stop.text.strip():
                    raise
                result = stop.result()
            completion = result.completion
            _check_finish(completion, allow_incomplete=spec.allow_incomplete, structured=fmt is not None)
            if ttft is None and result.ttft_ms is not None:
                ttft = (time.perf_counter() - started) * 1000 - result.latency_ms + result.ttft_ms
            step_usage = completion.usage or Usage()
            usage = usage + step_usage
            meta = MessageMeta(
                model=completion.model or session.model,
                provider=session.provider_name,
                usage=step_usage,
                latency_ms=round(result.latency_ms, 3),
                ttft_ms=None if result.ttft_ms is None else round(result.ttft_ms, 3),
                finish_reason=completion.finish_reason,
                refusal=completion.refusal,
            )
            # A refusal in a plain turn is the model's answer (json() raised above): keep what it said.
            text = completion.text or completion.refusal or ""
            run.pending.append(Message("assistant", text, tool_calls=completion.tool_calls, meta=meta))
            if not completion.tool_calls:
                break
            if last:
                raise MaxStepsError(
                    f"the model was still calling tools after {max_steps} steps; the turn was not added. "
                    "Raise Agent(max_steps=...) or make the tools' answers more conclusive.",
                    partial_text=completion.text,
                )
            for call in completion.tool_calls:
                yield Emit(StreamEvent("tool_call", tool_call=call))
            outcomes: list[ToolOutcome] = yield RunTools(completion.tool_calls)
            for call, outcome in zip(completion.tool_calls, outcomes, strict=True):
                run.pending.append(Message.tool(outcome.content, tool_call_id=call.id, name=call.name))
                yield Emit(StreamEvent("tool_result", text=outcome.content, tool_call=call, is_error=outcome.is_error))

        final = run.pending[-1]
        output = parse_output(spec.schema, final.content) if spec.schema is not None else None
        ids: tuple[str, ...] = ()
        if ctx.retains_history:
            nodes = yield Commit(
                run.pending,
                parent=spec.parent,
                explicit_parent=spec.explicit_parent,
                cell_id=spec.cell_id,
                summary=run.new_summary,
            )
            ids = tuple(n.id for n in nodes)
        response = Response(
            text=final.content,
            session_id=session.session_id,
            messages=tuple(run.pending),
            message_ids=ids,
            usage=usage,
            model=final.meta.model if final.meta else session.model,
            finish_reason=final.meta.finish_reason if final.meta else None,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            ttft_ms=None if ttft is None else round(ttft, 3),
            output=output,
        )
        yield Emit(StreamEvent("turn_end", text=final.content, response=response))
        return response


def _summary_record(covers: str, result: ModelResult) -> Any:
    from .context import SummaryRecord

    completion = result.completion
    if completion.finish_reason is None:
        raise StreamError("the summary call's stream ended without a finish reason; retry the turn")
    return SummaryRecord(covers, completion.text.strip(), completion.model, completion.usage or Usage())


def _check_finish(completion: Completion, *, allow_incomplete: bool, structured: bool) -> None:
    """Raise for a model call whose outcome cannot become part of the history.

    A cut-off (``length``) or filtered (``content_filter``) answer is an answer: it is kept
    and marked, as the ``openai`` client and every peer do, unless the caller asked for
    strict mode. Structured output and tool calls are different: half a JSON document or
    half a tool call's arguments cannot be used, so those always raise.
    """
    reason = completion.finish_reason
    if reason == STOPPED:  # the caller stopped it and asked to keep it (keep_stopped)
        return
    if completion.refusal and structured:
        raise RefusalError(
            f"the model refused: {completion.refusal}; the turn was not added. "
            "Rephrase the prompt, or ask without a schema to keep the refusal as an answer.",
            refusal=completion.refusal,
            partial_text=completion.text,
        )
    if reason is None:
        raise StreamError(
            "the stream ended without a finish reason (the server stopped mid-answer); "
            "the turn was not added, retry it",
            partial_text=completion.text,
        )
    if reason not in INCOMPLETE_REASONS:
        return
    cause = "cut off by the token limit" if reason == "length" else "stopped by the provider's content filter"
    remedy = "raise max_tokens" if reason == "length" else "rephrase the prompt"
    if completion.tool_calls:
        raise IncompleteResponseError(
            f"the model's tool call was {cause} (finish_reason={reason!r}), so it cannot be run; "
            f"the turn was not added. Retry, or {remedy}.",
            finish_reason=reason,
            partial_text=completion.text,
        )
    if structured:
        raise IncompleteResponseError(
            f"the structured answer was {cause} (finish_reason={reason!r}) and cannot be parsed; "
            f"the turn was not added. Retry, or {remedy}.",
            finish_reason=reason,
            partial_text=completion.text,
        )
    if not allow_incomplete:
        raise IncompleteResponseError(
            f"the answer was {cause} (finish_reason={reason!r}) and strict mode is on "
            f"(allow_incomplete=False); the turn was not added. Retry, {remedy}, "
            "or pass allow_incomplete=True to keep it.",
            finish_reason=reason,
            partial_text=completion.text,
        )
