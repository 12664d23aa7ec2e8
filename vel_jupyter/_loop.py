"""A private event loop on a daemon thread, for running coroutines from sync code.

Sync entry points (``session.run()`` in a Jupyter cell, whose thread already runs an
event loop) cannot call ``asyncio.run``; nest_asyncio patches the loop globally and
breaks other libraries. Instead, coroutines that must run from sync code (async tools,
async-only third-party providers) are submitted to this loop and waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="vel-jupyter-loop", daemon=True)
            thread.start()
            _loop, _thread = loop, thread
        return _loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code, even inside a running loop."""
    loop = _background_loop()
    if threading.current_thread() is _thread:
        coro.close()
        raise RuntimeError("run_sync() called from the vel_jupyter loop thread; await the coroutine instead")
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result()
    except BaseException:
        # KeyboardInterrupt lands here in the waiting thread: stop the work too.
        future.cancel()
        raise


def iterate_sync(aiter: AsyncIterator[T]) -> Iterator[T]:
    """Drive an async iterator from synchronous code, one item at a time."""

    async def next_item() -> T:
        return await aiter.__anext__()

    try:
        while True:
            try:
                yield run_sync(next_item())
            except StopAsyncIteration:
                return
    finally:
        aclose = getattr(aiter, "aclose", None)
        if aclose is not None:

            async def close() -> None:
                await aclose()

            # RuntimeError: the generator is already running or closed; nothing to clean up.
            with contextlib.suppress(RuntimeError):
                run_sync(close())
