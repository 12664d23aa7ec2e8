"""A scriptable OpenAI-compatible HTTP server bound to loopback.

Why it exists: our tests and benchmarks have to exercise the *official* ``openai``
client end to end -- its HTTP transport, connection pooling, SSE decoder, error
mapping and timeouts -- without touching the network and without monkeypatching.
So this is a real server on a real socket, speaking the same wire format as
OpenAI's ``/v1/chat/completions``, whose answers are scripted with :class:`Reply`
(including the failure modes real providers exhibit: HTTP errors, in-stream error
events, stalls and dropped connections).

Standard library only, so it can run in any environment the package runs in, and
as a separate process for benchmarks::

    python -m vel_jupyter._loopback --port 0 --words 5000

Inside: ``replies`` scripts the answers, ``encoding`` turns one into OpenAI's SSE events or
completion body, ``server`` is the HTTP plumbing and ``OpenAIServer``, ``wire`` the JSON basics
they share, ``__main__`` the command line.
"""

from __future__ import annotations

from .replies import Reply
from .server import MODELS, OpenAIServer
from .wire import RecordedRequest

__all__ = ["MODELS", "OpenAIServer", "RecordedRequest", "Reply"]
