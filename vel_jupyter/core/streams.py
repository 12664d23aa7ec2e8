"""A streamed turn, as the caller iterates it: events, the text so far, and the committed Response."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from types import TracebackType
from typing import Any

from ..errors import TurnInterrupted
from .drivers import Progress
from .response import Response, StreamEvent


class TurnStream:
    """A streamed turn: iterate for events; ``response`` is set once the turn is committed.

    Stopping early (``close()``, leaving a ``with`` block, an exception, Ctrl-C) abandons the
    turn: nothing is added. With ``session.stream(..., keep_stopped=True)``, ``close()`` or
    Ctrl-C while the answer streams keeps the answer so far instead, as a turn whose
    ``finish_reason`` is ``"stopped"`` (``response`` holds it; Ctrl-C still raises
    ``TurnInterrupted``, with the kept turn as its ``response``). A ``break`` alone does not
    stop the turn: call ``close()``, or iterate in ``with session.stream(...) as stream:``.
    """

    def __init__(self, events: Iterator[StreamEvent], progress: Progress) -> None:
        self._events = events
        self._progress = progress
        self.response: Response | None = None

    def __iter__(self) -> TurnStream:
        return self

    def __next__(self) -> StreamEvent:
        try:
            event = next(self._events)
        except TurnInterrupted as exc:
            self.response = exc.response  # the stopped answer, when it was kept
            raise
        if event.type == "turn_end":
            self.response = event.response
        return event

    def __enter__(self) -> TurnStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @property
    def text(self) -> str:
        """The visible text streamed so far."""
        return self._progress.text

    def close(self) -> None:
        """Stop the turn: nothing is added, unless the stream was made with ``keep_stopped=True``
        and the answer being streamed has text, which is then kept (``response``, finish reason
        ``"stopped"``). After the turn ended, closing changes nothing."""
        if self.response is None:
            self._progress.closing = True
        close = getattr(self._events, "close", None)
        if close is not None:
            close()
        if self._progress.kept is not None:
            self.response = self._progress.kept

    def collect(self) -> Response:
        """Consume the rest of the stream and return the committed Response."""
        try:
            for _ in self:
                pass
        except KeyboardInterrupt as exc:
            if isinstance(exc, TurnInterrupted):
                raise
            self.close()  # Ctrl-C landed here, between two events: stop as inside the stream
            raise TurnInterrupted(self.text, response=self.response) from None
        assert self.response is not None
        return self.response


class AsyncTurnStream:
    """The async twin of TurnStream: ``async for event in stream`` (awaiting it first works too);
    ``aclose()`` and ``async with`` stop it as ``close()`` and ``with`` do. A cancelled task
    keeps nothing, whatever ``keep_stopped`` says."""

    def __init__(self, events: AsyncIterator[StreamEvent], progress: Progress) -> None:
        self._events = events
        self._progress = progress
        self.response: Response | None = None

    def __await__(self) -> Generator[Any, None, AsyncTurnStream]:
        # Guide A writes ``async for event in await session.stream_async(...)``:
        # awaiting returns the stream itself, without suspending.
        return _completed(self).__await__()

    def __aiter__(self) -> AsyncTurnStream:
        return self

    async def __anext__(self) -> StreamEvent:
        try:
            event = await self._events.__anext__()
        except TurnInterrupted as exc:
            self.response = exc.response
            raise
        if event.type == "turn_end":
            self.response = event.response
        return event

    async def __aenter__(self) -> AsyncTurnStream:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @property
    def text(self) -> str:
        return self._progress.text

    async def aclose(self) -> None:
        if self.response is None:
            self._progress.closing = True
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()
        if self._progress.kept is not None:
            self.response = self._progress.kept

    async def collect(self) -> Response:
        try:
            async for _ in self:
                pass
        except KeyboardInterrupt as exc:
            if isinstance(exc, TurnInterrupted):
                raise
            await self.aclose()
            raise TurnInterrupted(self.text, response=self.response) from None
        assert self.response is not None
        return self.response


async def _completed(value: AsyncTurnStream) -> AsyncTurnStream:
    return value
