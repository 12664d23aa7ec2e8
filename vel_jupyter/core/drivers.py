"""The two drivers of a turn's program (``turn.py``): ``drive_sync`` performs its effects with
the provider's sync stream and the repository's sync calls, ``drive_async`` with the async
stream, concurrent tools and the repository's async twins (store I/O in a worker thread).

``Progress`` is what a driver shares with the stream its caller iterates: the visible text,
the model call being streamed, and whether a stop was asked for. A stop — ``close()`` of the
stream, or Ctrl-C — throws ``Stopped`` into the program when ``keep_stopped`` was asked and a
visible model call is streaming; the program then asks for its ``Commit`` as at any turn's end
(``_after_stop``). A stream the garbage collector closes was not stopped: nothing is kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import StreamError, TurnError, TurnInterrupted
from .message import ToolCall
from .response import Response, StreamEvent
from .tools import Tool, ToolOutcome
from .turn import CallModel, Commit, Effect, Emit, ModelResult, RunTools, Stopped, SyncWithStore

if TYPE_CHECKING:
    from .ports import Provider
    from .session import Session
    from .tree import Node


@dataclass
class Progress:
    """What a streamed turn shares with its caller (``TurnStream``): the visible text so far, the
    model call being streamed, and how a stop ends the turn."""

    keep_stopped: bool = False
    chunks: list[str] = field(default_factory=list)
    closing: bool = False  # set by TurnStream.close(): a stop asked for (not a stream dropped unread)
    kept: Response | None = None  # the stopped turn that was kept
    _call_from: int | None = None  # where the visible model call being streamed starts in ``chunks``
    _call_started: float = 0.0
    _call_ttft: float | None = None

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def begin_call(self, started: float) -> None:
        self._call_from, self._call_started, self._call_ttft = len(self.chunks), started, None

    def first_token(self, ttft_ms: float) -> None:
        self._call_ttft = ttft_ms

    def end_call(self) -> None:
        self._call_from = None

    def stop(self) -> Stopped | None:
        """What to throw into the program for a stop now (None: no visible call is streaming)."""
        if not self.keep_stopped or self._call_from is None:
            return None
        latency = (time.perf_counter() - self._call_started) * 1000
        return Stopped("".join(self.chunks[self._call_from :]), latency, self._call_ttft)


def _missing_tool(call: ToolCall, tools: dict[str, Tool]) -> ToolOutcome:
    available = ", ".join(tools) or "none"
    return ToolOutcome(f"Error: there is no tool named {call.name!r}; available tools: {available}", True)


def _completion_missing(partial: list[str]) -> StreamError:
    return StreamError(
        "the provider's stream ended without a completion; retry the turn", partial_text="".join(partial)
    )


def drive_sync(
    session: Session,
    program: Generator[Effect, Any, Response],
    provider: Provider,
    tools: dict[str, Tool],
    progress: Progress,
) -> Iterator[StreamEvent]:
    """Perform a turn's effects with sync I/O; ``progress`` collects the visible text."""
    value: Any = None
    try:
        while True:
            try:
                effect = program.send(value)
            except StopIteration:
                return
            if type(effect) is Emit:
                value = None
                yield effect.event
            elif type(effect) is SyncWithStore:
                session.agent.repository.sync(session)
                value = None
            elif type(effect) is Commit:
                value = session.agent.repository.commit(session, **vars(effect))
            elif type(effect) is CallModel:
                started = time.perf_counter()
                ttft: float | None = None
                completion = None
                if effect.visible:
                    progress.begin_call(started)
                for item in provider.stream(effect.request):
                    if type(item) is StreamEvent:
                        if ttft is None:
                            ttft = (time.perf_counter() - started) * 1000
                            progress.first_token(ttft)
                        if effect.visible:
                            progress.chunks.append(item.text)
                            yield item
                    else:
                        completion = item
                progress.end_call()
                if completion is None:
                    raise _completion_missing(progress.chunks)
                value = ModelResult(completion, (time.perf_counter() - started) * 1000, ttft)  # type: ignore[arg-type]
            else:
                assert type(effect) is RunTools
                value = [tools[c.name].invoke(c) if c.name in tools else _missing_tool(c, tools) for c in effect.calls]
    except GeneratorExit:
        if progress.closing:  # TurnStream.close(), not a stream dropped unread
            _keep_sync(session, program, progress)
        raise
    except TurnError as exc:
        if not exc.partial_text:
            exc.partial_text = progress.text
        raise
    except KeyboardInterrupt as exc:
        if isinstance(exc, TurnInterrupted):
            raise
        _keep_sync(session, program, progress)
        raise TurnInterrupted(progress.text, response=progress.kept) from None
    finally:
        program.close()


async def drive_async(
    session: Session,
    program: Generator[Effect, Any, Response],
    provider: Provider,
    tools: dict[str, Tool],
    progress: Progress,
) -> AsyncIterator[StreamEvent]:
    """The same as ``drive_sync`` with the provider's async stream; tools run concurrently."""
    value: Any = None
    try:
        while True:
            try:
                effect = program.send(value)
            except StopIteration:
                return
            if type(effect) is Emit:
                value = None
                yield effect.event
            elif type(effect) is SyncWithStore:
                await session.agent.repository.sync_async(session)
                value = None
            elif type(effect) is Commit:
                value = await session.agent.repository.commit_async(session, **vars(effect))
            elif type(effect) is CallModel:
                started = time.perf_counter()
                ttft: float | None = None
                completion = None
                if effect.visible:
                    progress.begin_call(started)
                async for item in provider.astream(effect.request):
                    if type(item) is StreamEvent:
                        if ttft is None:
                            ttft = (time.perf_counter() - started) * 1000
                            progress.first_token(ttft)
                        if effect.visible:
                            progress.chunks.append(item.text)
                            yield item
                    else:
                        completion = item
                progress.end_call()
                if completion is None:
                    raise _completion_missing(progress.chunks)
                value = ModelResult(completion, (time.perf_counter() - started) * 1000, ttft)  # type: ignore[arg-type]
            else:
                assert type(effect) is RunTools
                value = await asyncio.gather(
                    *(
                        tools[c.name].ainvoke(c) if c.name in tools else _async_value(_missing_tool(c, tools))
                        for c in effect.calls
                    )
                )
    except GeneratorExit:
        if progress.closing:  # AsyncTurnStream.aclose(), not a stream dropped unread
            await _keep_async(session, program, progress)
        raise
    except TurnError as exc:
        if not exc.partial_text:
            exc.partial_text = progress.text
        raise
    except KeyboardInterrupt as exc:
        if isinstance(exc, TurnInterrupted):
            raise
        await _keep_async(session, program, progress)
        raise TurnInterrupted(progress.text, response=progress.kept) from None
    finally:
        program.close()


def _after_stop(
    program: Generator[Effect, Any, Response], stop: Stopped
) -> Generator[Commit, list[Node], Response | None]:
    """Throw a stop into the program and run it to its end: it asks only for its ``Commit``
    (yielded here, for the driver to perform) and emits ``turn_end``, which nobody reads now.
    Returns the kept turn's Response, or None when the program keeps nothing."""
    try:
        effect = program.throw(stop)
        while True:
            value: Any = None
            if type(effect) is Commit:
                value = yield effect
            else:
                assert type(effect) is Emit, effect  # after a stop: no model call, no tool
            effect = program.send(value)
    except StopIteration as done:
        response: Response = done.value
        return response
    except Stopped:
        return None


def _keep_sync(session: Session, program: Generator[Effect, Any, Response], progress: Progress) -> None:
    """After a stop: keep the answer so far when asked and there is some (``progress.kept``)."""
    stop = progress.stop()
    if stop is None:
        return
    steps = _after_stop(program, stop)
    nodes: Any = None
    try:
        while True:
            commit = steps.send(nodes)
            nodes = session.agent.repository.commit(session, **vars(commit))
    except StopIteration as done:
        progress.kept = done.value


async def _keep_async(session: Session, program: Generator[Effect, Any, Response], progress: Progress) -> None:
    stop = progress.stop()
    if stop is None:
        return
    steps = _after_stop(program, stop)
    nodes: Any = None
    try:
        while True:
            commit = steps.send(nodes)
            nodes = await session.agent.repository.commit_async(session, **vars(commit))
    except StopIteration as done:
        progress.kept = done.value


async def _async_value(value: ToolOutcome) -> ToolOutcome:
    return value
