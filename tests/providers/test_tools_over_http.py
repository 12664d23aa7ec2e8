"""Tools over real HTTP: what the loopback server receives when a turn calls a tool.

(Kept apart from ``tests/core/test_tools.py`` so that the core suite starts no server.)
"""

from __future__ import annotations

from vel_jupyter import Agent
from vel_jupyter.testing import OpenAIServer, Reply


def test_tool_choice_steers_only_the_first_request() -> None:
    """``tool_choice="required"`` forces a call on the turn's first request; the request that
    carries the tool's result leaves the model free to answer (over real HTTP)."""

    def lookup(q: str) -> str:
        """Look something up."""
        return f"found {q}"

    with OpenAIServer() as server:
        server.enqueue(Reply.tool_calls([("lookup", '{"q": "x"}')]), Reply.text("done"))
        session = Agent(base_url=server.base_url, tools=[lookup], max_retries=0).session()
        assert session.run("go", tool_choice="required").text == "done"
        first, second = (request.body for request in server.requests)
        assert first["tool_choice"] == "required"
        assert "tool_choice" not in second and second["messages"][-1]["content"] == "found x"
