"""Shared fixtures: scripted providers, the loopback OpenAI server, agents wired to them (a pytest plugin)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vel_jupyter import Agent
from vel_jupyter.testing import OpenAIServer, ScriptedProvider

TEST_KEY = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture
def scripted() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture
def scripted_agent(scripted: ScriptedProvider) -> Agent:
    return Agent(provider=scripted)


@pytest.fixture
def echo_agent() -> Agent:
    return Agent(provider="echo")


@pytest.fixture(scope="session")
def _server() -> Iterator[OpenAIServer]:
    with OpenAIServer(api_key=TEST_KEY) as server:
        yield server


@pytest.fixture
def server(_server: OpenAIServer) -> OpenAIServer:
    """The loopback OpenAI server, emptied before each test (one server per run: fast)."""
    _server.reset()
    return _server


@pytest.fixture
def openai_agent(server: OpenAIServer) -> Agent:
    """An agent on the real ``openai`` client, talking HTTP+SSE to the loopback server."""
    return Agent(
        provider="openai", model="gpt-4o", base_url=server.base_url, api_key=TEST_KEY, max_retries=0, timeout=5
    )
