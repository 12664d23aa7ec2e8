"""A streamed turn, as the caller iterates it: events, the text so far, and the committed Response."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

from ..errors import TurnInterrupted
from .response import Response, StreamEvent


class TurnStream:
    """A streamed turn: iterate for events; ``response`` is set once the turn is committed.

    Stopping early (``break``, an exception, Ctrl-C) abandons the turn: nothing is added.
    """

    def __init__(self, events: Iterator[StreamEvent], partial: list[str]) -> None:
        self._events = events
        self._partial = partial
        self.response: Response | None = None

    def __iter__(self) -> TurnStream:
        return self

    def __next__(self) -> StreamEvent:
        event = next(self._events)
        if event.type == "turn_end":
            self.response = event.response
        return event

    @property
    def text(self) -> str:
        """The visible text streamed so far."""
        return "".join(self._partial)

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    def collect(self) -> Response:
        """Consume the rest of the stream and return the committed Response."""
        try:
            for _ in self:
                pass
        except KeyboardInterrupt as exc:
            self.close()
            if isinstance(exc, TurnInterrupted):
                raise
            raise TurnInterrupted(self.text) from None
        assert self.response is not None
        return self.response


class AsyncTurnStream:
    """The async twin of TurnStream: ``async for event in stream`` (awaiting it first works too)."""

    def __init__(self, events: AsyncIterator[StreamEvent], partial: list[str]) -> None:
        self._events = events
        self._partial = partial
        self.response: Response | None = None

    def __await__(self) -> Generator[Any, None, AsyncTurnStream]:
        # Guide A writes ``async for event in await session.stream_async(...)``:
        # awaiting returns the stream itself, without suspending.
        return _completed(self).__await__()

    def __aiter__(self) -> AsyncTurnStream:
        return self

    async def __anext__(self) -> StreamEvent:
        event = await self._events.__anext__()
        if event.type == "turn_end":
            self.response = event.response
        return event

    @property
    def text(self) -> str:
        return "".join(self._partial)

    async def aclose(self) -> None:
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()

    async def collect(self) -> Response:
        try:
            async for _ in self:
                pass
        except KeyboardInterrupt as exc:
            await self.aclose()
            if isinstance(exc, TurnInterrupted):
                raise
            raise TurnInterrupted(self.text) from None
        assert self.response is not None
        return self.response


async def _completed(value: AsyncTurnStream) -> AsyncTurnStream:
    return value
