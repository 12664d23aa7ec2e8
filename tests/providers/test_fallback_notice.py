"""A script with no model configured: one line on stderr when a turn first runs on the offline
echo, and only then — not when an Agent is made, not for echo asked for by name, not for a
session that names a server."""

from __future__ import annotations

import os
import subprocess
import sys

from vel_jupyter.providers import FALLBACK_NOTICE
from vel_jupyter.testing import OpenAIServer, Reply


def run_script(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "VEL_"))}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)


def test_a_script_says_it_once_when_the_first_turn_runs_on_the_echo() -> None:
    result = run_script(
        "import sys\n"
        "from vel_jupyter import Agent\n"
        "agent = Agent()\n"
        "print('made', file=sys.stderr, flush=True)\n"
        "session = agent.session()\n"
        "session.run('one')\n"
        "session.run('two')\n"
        "agent.session().run('three')\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["made", FALLBACK_NOTICE]


def test_echo_by_name_and_a_named_server_say_nothing() -> None:
    with OpenAIServer() as server:
        server.enqueue(Reply.text("a model"), Reply.text("a model again"))
        result = run_script(
            "from vel_jupyter import Agent\n"
            "Agent(provider='echo').session().run('one')\n"
            f"Agent(base_url={server.base_url!r}).session().run('two')\n"
            f"s = Agent().session()\ns.configure(base_url={server.base_url!r})\ns.run('three')\n"
        )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
