"""The OpenAI-compatible servers the guide and kernel tests run against, as one ``backend`` fixture.

* ``loopback``: our own server (``vel_jupyter.testing.OpenAIServer``). It records every request
  and can be scripted (tool calls, HTTP errors, exact texts) — faults no real server produces on
  demand.
* ``llama``: llama.cpp's ``llama-server`` on a tiny random-weight model made at test time
  (``tests/llama``), a server we did not write, behind a recording proxy so the tests can assert
  what our client sent. It cannot be scripted: its answers are its own, and most of them end at
  its generation cap with ``finish_reason="length"``, as real servers' answers do.

A test written against ``backend`` asserts what holds on both (what was sent, what was committed,
what was streamed); ``backend.script(...)`` scripts the loopback and does nothing on llama, so
exact-text checks go under ``if backend.scripted``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from vel_jupyter.testing import OpenAIServer, RecordedRequest, Reply

from .recording_proxy import RecordingProxy

BACKENDS = ("loopback", "llama")


@dataclass
class Backend:
    name: str
    base_url: str
    _requests: list[RecordedRequest]
    server: OpenAIServer | None = field(default=None, repr=False)

    @property
    def scripted(self) -> bool:
        """True for the loopback server, whose answers the test chooses."""
        return self.server is not None

    @property
    def requests(self) -> list[RecordedRequest]:
        """The chat-completion requests received so far in this test (health checks left out)."""
        return [r for r in self._requests if r.path.endswith("/chat/completions")]

    def script(self, *replies: Reply | str) -> None:
        """Queue answers on the loopback server; llama answers for itself."""
        if self.server is not None:
            self.server.enqueue(*replies)

    def sent(self, index: int = -1) -> list[dict[str, Any]]:
        """The ``messages`` of a request (the last by default)."""
        return self.requests[index].messages

    def body(self, index: int = -1) -> dict[str, Any]:
        body = self.requests[index].body
        assert body is not None, "the request had no JSON body"
        return body


@pytest.fixture(scope="session")
def _llama_proxy(llama_server: Any) -> Iterator[RecordingProxy]:
    upstream = llama_server.base_url.removesuffix("/v1")
    with RecordingProxy(upstream) as proxy:
        yield proxy


@pytest.fixture
def loopback_backend(server: OpenAIServer) -> Backend:
    return Backend("loopback", server.base_url, server.requests, server)


@pytest.fixture
def llama_backend(_llama_proxy: RecordingProxy) -> Backend:
    _llama_proxy.clear()
    return Backend("llama", _llama_proxy.url + "/v1", _llama_proxy.requests)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each OpenAI-compatible server in turn: ours (scripted) and llama.cpp's (independent)."""
    backend: Backend = request.getfixturevalue(f"{request.param}_backend")
    return backend
