"""Against a real instruct model: SmolLM2-135M-Instruct on llama.cpp's server (``make local-model``).

Our doubles never loop, ignore an instruction or misformat; a real model does all three. These
tests check what we claim with one: the history really reaches the model's chat template,
answers stream into a real kernel, a runaway answer is cut off and marked, ``json()`` is
grammar-constrained, ``tool_choice="required"`` makes a real call, a long generation can be
interrupted keeping the answer so far, and ``make demo``'s command prints real answers. The
model's words are never asserted (it is a 135M model, and sampling is greedy only per build):
only what the server and our engine must guarantee.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from vel_jupyter import Agent

from ..llama.server import LlamaServer, cached_smollm2, find_llama_server
from ..support.kernel import Kernel
from ..support.recording_proxy import RecordingProxy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # a 135M model on 2 busy cores
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def proxy(smollm2_server: LlamaServer) -> Iterator[RecordingProxy]:
    """What our client sends to llama-server, recorded on the way."""
    with RecordingProxy(smollm2_server.url) as recorder:
        yield recorder


def agent_for(url: str, **options: Any) -> Agent:
    return Agent(base_url=url, model="smollm2", max_retries=0, **options)


def apply_template(server: LlamaServer, messages: list[dict[str, Any]]) -> str:
    """The prompt llama-server builds from ``messages`` with the model's chat template."""
    request = urllib.request.Request(
        server.url + "/apply-template",
        data=json.dumps({"messages": messages}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["prompt"])


def test_the_whole_history_reaches_the_chat_template(smollm2_server: LlamaServer, proxy: RecordingProxy) -> None:
    session = agent_for(proxy.url + "/v1", system="You are a concise assistant.").session()
    first = session.run("My name is Alice.", max_tokens=40)
    session.run("What is my name?", max_tokens=40)
    sent = proxy.requests[-1].body["messages"]
    prompt = apply_template(smollm2_server, sent)
    # the system prompt, both questions and the first (real) answer, in order, in ChatML
    order = [
        "<|im_start|>system\nYou are a concise assistant.",
        "<|im_start|>user\nMy name is Alice.",
        "<|im_start|>assistant\n" + first.text.strip()[:20],
        "<|im_start|>user\nWhat is my name?",
    ]
    positions = [prompt.find(part) for part in order]
    assert -1 not in positions and positions == sorted(positions), prompt
    assert len(session.messages) == 4 and session.messages[1].meta is not None


def test_a_runaway_answer_is_cut_off_and_marked(smollm2_server: LlamaServer) -> None:
    session = agent_for(smollm2_server.base_url).session()
    response = session.run("Count from 1 to 500, one number per line.", max_tokens=12)
    assert (response.finish_reason, response.incomplete) == ("length", True)
    assert response.usage.completion_tokens == 12
    assert session.messages[-1].text == response.text, "a cut-off answer is an answer: kept, marked"


def test_json_is_constrained_by_the_servers_grammar(smollm2_server: LlamaServer) -> None:
    class Trip(BaseModel):
        city: str
        days: int

    response = (
        agent_for(smollm2_server.base_url).session().json("Plan a short trip to Lima.", schema=Trip, max_tokens=80)
    )
    assert isinstance(response.output, Trip), "the model ignores 'JSON only' in words; the grammar does not"


def test_tool_choice_required_reaches_a_real_server_and_the_turn_stays_whole(
    smollm2_server: LlamaServer, proxy: RecordingProxy
) -> None:
    """With ``tool_choice="required"`` the request carries the tools and the choice, and whatever
    a real model does with them — SmolLM2 has no tool-call tokens in its vocabulary, and this
    llama-server then does not force a call (the tiny model's test shows it forcing one) — the
    turn ends in an answer and history stays consistent: every call has its result."""
    calls: list[str] = []

    def get_weather(city: str) -> str:
        """The current weather in a city."""
        calls.append(city)
        return f"18 C and sunny in {city}"

    session = agent_for(proxy.url + "/v1", tools=[get_weather]).session()
    response = session.run("What is the weather in Lima?", tool_choice="required", max_tokens=60)
    first = proxy.requests[0].body
    assert first["tool_choice"] == "required" and first["tools"][0]["function"]["name"] == "get_weather"
    assert session.messages[-1].role == "assistant" and response.text == session.messages[-1].text
    asked = [c for m in session.messages for c in m.tool_calls]
    answered = [m.tool_call_id for m in session.messages if m.role == "tool"]
    assert [c.id for c in asked] == answered and len(calls) == len(asked)


@pytest.fixture
def kernel(smollm2_server: LlamaServer) -> Iterator[Kernel]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "VEL_"))}
    k = Kernel({**env, "OPENAI_BASE_URL": smollm2_server.base_url, "VEL_MODEL": "smollm2"})
    k.run("%load_ext vel_jupyter")
    yield k
    k.close()


def test_an_answer_streams_into_a_real_kernel(kernel: Kernel) -> None:
    messages = kernel.run("%%chat live --max-tokens 60\nTell me about the sea.", cell_id="c1", timeout=180)
    frames = [m for m in messages if m["msg_type"] == "update_display_data"]
    assert len(frames) >= 2, "the answer was drawn while it streamed, not only at the end"
    assert not [m for m in messages if m["msg_type"] == "error"]
    assert kernel.value("len(__import__('vel_jupyter').sessions()['live'].messages)") == 2


def test_interrupting_a_long_generation_keeps_the_answer_so_far(kernel: Kernel) -> None:
    kernel.run("%%chat stop --max-tokens 20\nHello.", cell_id="c1", timeout=180)
    content = {"code": "%%chat stop --max-tokens 400\nWrite a very long story.", "silent": False}
    msg = kernel.kc.session.msg("execute_request", {**content, "store_history": True, "user_expressions": {}})
    kernel.kc.shell_channel.send(msg)
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not any(m["msg_type"] == "update_display_data" for m in seen):
        reply = kernel.kc.get_iopub_msg(timeout=180)
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            seen.append(reply)
    kernel.km.interrupt_kernel()  # Ctrl-C / the stop button, mid-answer
    while time.monotonic() < deadline:
        reply = kernel.kc.get_iopub_msg(timeout=60)
        if reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        seen.append(reply)
        if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
            break
    errors = [m["content"] for m in seen if m["msg_type"] == "error"]
    assert errors and errors[0]["ename"] == "TurnInterrupted" and len(errors[0]["traceback"]) == 1
    assert "the answer so far is kept" in errors[0]["traceback"][0]
    assert kernel.value("len(__import__('vel_jupyter').sessions()['stop'].messages)") == 4, "the stopped answer"
    last = "__import__('vel_jupyter').sessions()['stop'].messages[-1]"
    assert kernel.value(f"{last}.meta.finish_reason") == "stopped" and kernel.value(f"bool({last}.text)")


@pytest.mark.timeout(1200)
def test_make_demo_prints_real_answers(tmp_path: Path) -> None:
    """`make demo`'s command with the local model: real answers, every cell, no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "VEL_"))}
    result = subprocess.run(
        [
            sys.executable,
            *("-m", "vel_jupyter", "demo"),
            *("--notebook", str(ROOT / "notebooks/quickstart.ipynb"), "--output", str(tmp_path / "out.ipynb")),
            *("--llama-server", str(find_llama_server()), "--model-file", str(cached_smollm2())),
            *("--chat-template", str(ROOT / "tests/llama/chatml-tools.jinja")),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    assert "local model: smollm2-135m-instruct on llama-server" in out
    assert "[demo] assistant> " in out and "You said" not in out and "offline echo" not in out
    assert "Traceback" not in out + result.stderr
