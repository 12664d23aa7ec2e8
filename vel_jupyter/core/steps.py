"""Store operations as generators of steps, written once and driven sync or async.

An operation (a commit, a restore, a refresh) yields *steps* — a store call (``Io``) or a
back-off pause (``Pause``) — and returns its result. ``run_steps`` drives it in the calling
thread; ``run_steps_async`` runs the store calls in a worker thread and awaits the pauses, so
the event loop never waits on a database.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

MAX_CONFLICT_RETRIES = 100
"""Compare-and-swap retries before a busy session gives up."""


@dataclass(frozen=True)
class Io:
    """A store call: run inline (sync) or in a worker thread (async)."""

    call: Callable[[], Any]


@dataclass(frozen=True)
class Pause:
    """A back-off wait between compare-and-swap attempts."""

    seconds: float


Steps = Generator[Io | Pause, Any, T]
"""An operation on the store, written once: it yields ``Io``/``Pause`` and returns its result."""


def backoff(attempt: int) -> float:
    # A random, growing wait keeps two busy writers from colliding in lock-step.
    return random.uniform(0, min(0.05, 0.0005 * 2**attempt))


def run_steps(steps: Steps[T]) -> T:
    """Drive ``steps`` in this thread: store calls inline, pauses slept."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value
        value, error = None, None
        if isinstance(step, Pause):
            time.sleep(step.seconds)
            continue
        try:
            value = step.call()
        except Exception as exc:
            error = exc


async def run_steps_async(steps: Steps[T]) -> T:
    """Drive ``steps`` from async code: store calls in a worker thread, pauses awaited."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value
        value, error = None, None
        if isinstance(step, Pause):
            await asyncio.sleep(step.seconds)
            continue
        try:
            value = await asyncio.to_thread(step.call)
        except Exception as exc:
            error = exc
