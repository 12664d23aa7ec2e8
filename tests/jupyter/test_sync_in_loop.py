"""Sync calls inside a running event loop, and top-level await, on a real ipykernel."""

from __future__ import annotations

import asyncio

import nbformat
import pytest
from nbclient import NotebookClient

from vel_jupyter import Agent, tool
from vel_jupyter.testing import OpenAIServer, Reply

from ..support.fixtures import TEST_KEY


@tool
async def slow_upper(text: str) -> str:
    """Upper-case text, asynchronously."""
    await asyncio.sleep(0.01)
    return text.upper()


def test_run_and_stream_inside_a_running_loop(server: OpenAIServer, openai_agent: Agent) -> None:
    server.enqueue(Reply.text("sync in loop"), Reply.text("streamed in loop"))
    session = openai_agent.session()

    async def main() -> tuple[str, str]:
        asyncio.get_running_loop()  # we really are inside a loop
        first = session.run("one").text
        second = "".join(e.text for e in session.stream("two") if e.type == "text_delta")
        return first, second

    assert asyncio.run(main()) == ("sync in loop", "streamed in loop")


def test_async_tools_from_sync_run_inside_a_running_loop(server: OpenAIServer) -> None:
    server.enqueue(Reply.tool_calls([("slow_upper", {"text": "abc"})]), Reply.text("done"))
    agent = Agent(provider="openai", base_url=server.base_url, api_key=TEST_KEY, tools=[slow_upper], max_retries=0)
    session = agent.session()

    async def main() -> None:
        session.run("shout")

    asyncio.run(main())
    assert [m.content for m in session.messages if m.role == "tool"] == ["ABC"]


@pytest.mark.slow
def test_sync_and_top_level_await_in_a_real_kernel(server: OpenAIServer) -> None:
    server.enqueue(Reply.text("from run"), Reply.text("from stream"), Reply.text("from await"))
    cells = [
        f"from vel_jupyter import Agent\n"
        f"agent = Agent(provider='openai', model='gpt-4o', base_url={server.base_url!r}, api_key={TEST_KEY!r}, max_retries=0)\n"
        f"session = agent.session()\n"
        f"import asyncio; asyncio.get_running_loop()",  # the kernel's own loop is running
        "print(session.run('one').text)",
        "for e in session.stream('two'):\n    if e.type == 'text_delta': print(e.text, end='')",
        "r = await session.run_async('three')\nprint(r.text, len(session.messages))",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    outputs = ["".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream") for cell in nb.cells[1:]]
    assert outputs == ["from run\n", "from stream", "from await 6\n"]
    errors = [o for cell in nb.cells for o in cell.outputs if o.output_type == "error"]
    assert errors == []
