"""The provider registry, third-party entry points, and the echo provider's contract."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vel_jupyter import Agent
from vel_jupyter.errors import IncompleteResponseError
from vel_jupyter.providers import ProviderRequest, available_providers, create_provider, register_provider
from vel_jupyter.providers.echo import EchoProvider
from vel_jupyter.testing import ScriptedProvider


class TestRegistry:
    def test_builtin_providers(self) -> None:
        assert {"echo", "openai"} <= set(available_providers())
        assert isinstance(create_provider("echo"), EchoProvider)

    def test_register_a_provider_by_name(self) -> None:
        register_provider("scripted-test", lambda **options: ScriptedProvider(default="registered"))
        agent = Agent(provider="scripted-test")
        assert agent.session().run("hi").text == "registered"

    def test_entry_points_add_providers(self, tmp_path: Path) -> None:
        (tmp_path / "acme_llm.py").write_text(
            textwrap.dedent(
                """
                from vel_jupyter.providers import BaseProvider, Completion
                from vel_jupyter import StreamEvent

                class AcmeProvider(BaseProvider):
                    name = "acme"
                    default_model = "acme-1"

                    def __init__(self, **options):
                        self.options = options

                    async def astream(self, request):
                        yield StreamEvent("text_delta", text="acme says hi")
                        yield Completion("acme says hi", "stop", model=request.model)
                """
            )
        )
        dist = tmp_path / "acme_llm-1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-llm\nVersion: 1.0\n")
        (dist / "entry_points.txt").write_text("[vel_jupyter.providers]\nacme = acme_llm:AcmeProvider\n")
        code = (
            "from vel_jupyter import Agent\n"
            "from vel_jupyter.providers import available_providers\n"
            "assert 'acme' in available_providers()\n"
            "agent = Agent(provider='acme')\n"
            "print(agent.model, agent.session().run('hello').text)\n"
        )
        env = {**os.environ, "PYTHONPATH": str(tmp_path)}
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "acme-1 acme says hi"


class TestEcho:
    def request(self, text: str, **params: object) -> ProviderRequest:
        return ProviderRequest(model="echo", messages=[{"role": "user", "content": text}], params=dict(params))

    def test_streams_in_several_chunks_deterministically(self) -> None:
        events = list(EchoProvider().stream(self.request("one two three")))
        chunks = [e.text for e in events[:-1]]
        assert len(chunks) > 3
        assert "".join(chunks) == 'You said: "one two three" (turn 1).'
        assert events == list(EchoProvider().stream(self.request("one two three")))

    def test_async_stream_matches_sync(self) -> None:
        async def collect() -> list[object]:
            return [e async for e in EchoProvider().astream(self.request("x"))]

        assert asyncio.run(collect()) == list(EchoProvider().stream(self.request("x")))

    def test_max_tokens_truncates_with_length(self) -> None:
        *_, completion = EchoProvider().stream(self.request("a b c d e f", max_tokens=3))
        assert completion.finish_reason == "length"  # type: ignore[union-attr]
        session = Agent(provider="echo").session()
        assert session.run("a b c d e f", max_tokens=3).incomplete
        with pytest.raises(IncompleteResponseError):
            session.run("a b c d e f", max_tokens=3, allow_incomplete=False)

    def test_counts_turns_and_recalls_earlier_messages(self) -> None:
        session = Agent(provider="echo").session()
        for word in ("alpha", "beta", "gamma", "delta"):
            text = session.run(word).text
        assert text == 'You said: "delta" (turn 4). Earlier you said: "alpha"; "beta"; "gamma".'
