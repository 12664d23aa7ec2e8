"""Notebooks on a real ipykernel: every example notebook, streaming, interrupts, cell ids, secrets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from vel_jupyter.formats.kinds import SESSION_MIME
from vel_jupyter.testing import OpenAIServer, Reply

from ..support.backends import Backend
from ..support.fixtures import TEST_KEY
from ..support.kernel import Kernel

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def execute(path: Path, tmp_path: Path) -> tuple[Any, str]:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    saved = tmp_path / path.name
    nbformat.write(notebook, saved)
    return notebook, saved.read_text()


def outputs(notebook: Any, kind: str) -> list[Any]:
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == kind]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_notebook_runs_offline(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    notebook, _ = execute(path, tmp_path)
    assert outputs(notebook, "error") == []
    turns = [o for o in outputs(notebook, "display_data") if SESSION_MIME in o.data]
    assert turns, "a notebook in notebooks/ should show at least one %%chat turn"
    for output in turns:
        assert set(output.data) >= {"text/html", "text/plain", SESSION_MIME}
        assert "text/markdown" not in output.data  # no Markdown copy of model text
        assert "▌" not in output.data["text/html"]  # only the final output is saved


@pytest.mark.slow
def test_quickstart_on_the_loopback_server_leaks_no_key(
    server: OpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    notebook, saved = execute(NOTEBOOKS[0].parent / "quickstart.ipynb", tmp_path)
    assert outputs(notebook, "error") == []
    assert any(r.body and r.body.get("stream") for r in server.requests)  # really went over HTTP
    assert TEST_KEY not in saved
    assert "sk-test" not in saved


def chat_kernel(base_url: str) -> Iterator[Kernel]:
    """A real kernel with the extension loaded, whose OPENAI_BASE_URL is ``base_url``."""
    import os

    k = Kernel({**os.environ, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": TEST_KEY})
    k.run("%load_ext vel_jupyter")
    yield k
    k.close()


@pytest.fixture
def kernel(server: OpenAIServer) -> Iterator[Kernel]:
    yield from chat_kernel(server.base_url)


@pytest.mark.slow
def test_rerunning_a_cell_with_a_real_cell_id_regenerates_it(kernel: Kernel) -> None:
    kernel.run("%%chat cells\nfirst", cell_id="cell-A")
    kernel.run("%%chat cells\nsecond", cell_id="cell-B")
    kernel.run("%%chat cells\nsecond, edited", cell_id="cell-B")  # the user edited and re-ran cell B
    assert kernel.value(
        "[m.text for m in __import__('vel_jupyter').sessions()['cells'].messages if m.role == 'user']"
    ) == [
        "first",
        "second, edited",
    ]
    assert kernel.value("len(__import__('vel_jupyter').sessions()['cells'].branches)") == 2
    assert kernel.value("[n.cell_id for n in __import__('vel_jupyter').sessions()['cells'].nodes]") == [
        "cell-A",
        "cell-A",
        "cell-B",
        "cell-B",
    ]


@pytest.mark.slow
def test_streaming_is_coalesced_and_ends_in_one_clean_output(kernel: Kernel, server: OpenAIServer) -> None:
    words = " ".join(f"w{i}" for i in range(600))
    server.enqueue(Reply.text(words, delay=0.002))  # 600 chunks over >1.2 s
    messages = kernel.run("%%chat stream\ngo")
    updates = [m for m in messages if m["msg_type"] == "update_display_data"]
    displays = [m for m in messages if m["msg_type"] == "display_data"]
    assert len(displays) == 1  # one output, updated in place
    assert 3 <= len(updates) < 100  # redrawn as it streams, far fewer times than 600 tokens
    final = updates[-1]["content"]["data"]
    assert final["text/plain"] == words
    assert final[SESSION_MIME]["messages"][-1]["content"] == words


def interrupted(kernel: Kernel, code: str, after: float = 1.5) -> list[dict[str, Any]]:
    """Run ``code`` and interrupt the kernel ``after`` seconds in (the stop button)."""
    result: dict[str, Any] = {}

    def run() -> None:
        result["messages"] = kernel.run(code, timeout=60)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(after)
    kernel.km.interrupt_kernel()
    thread.join(30)
    messages: list[dict[str, Any]] = result["messages"]
    return messages


@pytest.mark.slow
def test_a_kernel_interrupt_mid_stream_keeps_the_answer_so_far_marked_stopped(
    kernel: Kernel, server: OpenAIServer
) -> None:
    kernel.run("%%chat intr\nfirst turn")
    server.enqueue(Reply.text(" ".join(f"w{i}" for i in range(400)), delay=0.02))  # ~8 s
    messages = interrupted(kernel, "%%chat intr\nlong answer please")
    errors = [m for m in messages if m["msg_type"] == "error"]
    # The cell still ends interrupted (a Run All stops there), in one line that says what was kept.
    assert errors and errors[0]["content"]["ename"] == "TurnInterrupted"
    assert errors[0]["content"]["traceback"] == [
        "TurnInterrupted: stopped; the answer so far is kept in session 'intr' — re-run the cell for a whole answer"
    ]
    final = [m for m in messages if m["msg_type"] == "update_display_data"][-1]["content"]["data"]
    payload = final[SESSION_MIME]
    kept = payload["messages"][-1]
    assert "live" not in payload and kept["meta"]["finish_reason"] == "stopped" and kept["content"].startswith("w0 w1")
    assert "■ stopped — the answer so far is kept" in final["text/html"] and "not kept" not in final["text/html"]
    assert kernel.value("len(__import__('vel_jupyter').sessions()['intr'].messages)") == 4
    assert kernel.value("__import__('vel_jupyter').sessions()['intr'].messages[-1].text") == kept["content"]

    kernel.run("%config ChatMagics.keep_stopped = False")
    server.enqueue(Reply.text(" ".join(f"v{i}" for i in range(400)), delay=0.02))
    messages = interrupted(kernel, "%%chat intr\nanother long one")
    errors = [m for m in messages if m["msg_type"] == "error"]
    assert errors[0]["content"]["traceback"] == ["TurnInterrupted: turn interrupted; the session is unchanged"]
    last = [m for m in messages if m["msg_type"] == "update_display_data"][-1]["content"]["data"]["text/html"]
    assert "v0" in last and "partial answer, not kept" in last
    assert kernel.value("len(__import__('vel_jupyter').sessions()['intr'].messages)") == 4


@pytest.mark.slow
def test_a_cut_off_answer_is_kept_and_says_so_and_strict_mode_fails_the_cell(
    kernel: Kernel, server: OpenAIServer
) -> None:
    server.enqueue(Reply.text("the first half of", finish_reason="length"))
    messages = kernel.run("%%chat cut --max-tokens 4\nExplain this concept")
    assert [m for m in messages if m["msg_type"] == "error"] == []
    final = [m for m in messages if m["msg_type"] == "update_display_data"][-1]["content"]["data"]
    note = "cut off at max_tokens — raise --max-tokens to get the rest"
    assert note in final["text/html"]
    assert note in final["text/plain"]
    assert final[SESSION_MIME]["messages"][-1]["meta"]["finish_reason"] == "length"
    assert server.requests[-1].body is not None
    assert server.requests[-1].body["max_tokens"] == 4
    assert kernel.value("len(__import__('vel_jupyter').sessions()['cut'].messages)") == 2

    kernel.run("%config ChatMagics.allow_incomplete = False")
    server.enqueue(Reply.text("cut again", finish_reason="length"))
    messages = kernel.run("%%chat cut --max-tokens 2\nAgain")
    errors = [m for m in messages if m["msg_type"] == "error"]
    assert len(errors) == 1
    assert errors[0]["content"]["ename"] == "IncompleteResponseError"
    assert kernel.value("len(__import__('vel_jupyter').sessions()['cut'].messages)") == 2


@pytest.fixture
def backend_kernel(backend: Backend) -> Iterator[Kernel]:
    """A real kernel whose OPENAI_BASE_URL is ``backend`` (the loopback, then llama-server)."""
    yield from chat_kernel(backend.base_url)


def final_data(messages: list[dict[str, Any]]) -> dict[str, Any]:
    assert [m["content"]["evalue"] for m in messages if m["msg_type"] == "error"] == []
    updates = [m for m in messages if m["msg_type"] == "update_display_data"]
    assert updates, "a %%chat cell ends by updating its one display"
    data: dict[str, Any] = updates[-1]["content"]["data"]
    return data


@pytest.mark.slow
def test_chat_cells_on_a_real_kernel_against_each_server(backend_kernel: Kernel, backend: Backend) -> None:
    k = backend_kernel
    first = final_data(k.run("%%chat trip -s 'You plan trips.'\nMy name is Alice"))
    answer = first[SESSION_MIME]["messages"][-1]["content"]
    assert first["text/plain"].startswith(answer)
    assert backend.sent() == [
        {"role": "system", "content": "You plan trips."},
        {"role": "user", "content": "My name is Alice"},
    ]
    assert backend.body()["stream"] is True

    second = final_data(k.run("%%chat trip\nWhat is my name?"))
    assert backend.sent()[1:] == [
        {"role": "user", "content": "My name is Alice"},
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "What is my name?"},
    ]
    assert second[SESSION_MIME]["messages"][0]["content"] == "What is my name?"

    backend.script(Reply.text("one two three four", finish_reason="length"))
    cut = final_data(k.run("%%chat trip --max-tokens 4 -t 0.5\nExplain this concept"))
    assert (backend.body()["max_tokens"], backend.body()["temperature"]) == (4, 0.5)
    assert cut[SESSION_MIME]["messages"][-1]["meta"]["finish_reason"] == "length"
    assert "cut off at max_tokens" in cut["text/html"]

    k.run("from pydantic import BaseModel\nclass Plan(BaseModel):\n    city: str\n    days: int")
    backend.script(Reply.text('{"city": "Kyoto", "days": 3}'))
    plan = final_data(k.run("%%chat trip --schema Plan\nPlan a trip"))
    assert set(plan["application/json"]) == {"city", "days"}
    assert backend.body()["response_format"]["json_schema"]["schema"]["required"] == ["city", "days"]
    assert (
        k.value("len(__import__('vel_jupyter').sessions()['trip'].messages)") == 8
    )  # 4 turns (the system prompt is apart)
