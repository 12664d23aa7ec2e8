"""Fuzzing the magic: any line or cell body gives an answer or a one-line UsageError, never a traceback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from vel_jupyter.jupyter.registry import Registry, set_registry

OPTIONS = [
    "-s", "--system", "-m", "--model", "-p", "--provider", "--base-url", "-t", "--temperature",
    "--max-tokens", "-f", "--format", "--schema", "--tools", "-o", "--out", "--no-stream",
    "--fork-from", "--append", "--raw", "echo", "markdown", "code", "json", "text", "0.5", "-1",
    "'quoted value'", '"x', "demo", "x;y", "{}", "--", "-", "\\",
]  # fmt: skip

lines = st.lists(st.one_of(st.sampled_from(OPTIONS), st.text(max_size=12)), max_size=6).map(" ".join)
bodies = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.sampled_from(["{", "}", "{{", "}}", "{x}", "{x.y}", "{x[0]}", '{"a": 1}', "def f(): {}", "\n", " "])
    ).map("".join),
)


@pytest.fixture(scope="module")
def ip() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("vel_jupyter")
    shell.user_ns["x"] = {"y": 1}
    yield shell
    shell.extension_manager.unload_extension("vel_jupyter")


def usage_error(call: Callable[[], object]) -> str | None:
    """None if ``call`` succeeded, the message of its UsageError otherwise (anything else escapes)."""
    try:
        call()
    except UsageError as exc:
        return str(exc)
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=lines)
def test_any_magic_line_answers_or_is_a_one_line_usage_error(ip: InteractiveShell, line: str) -> None:
    set_registry(Registry(provider="echo"))
    message = usage_error(lambda: ip.run_cell_magic("chat", line, "hello"))
    assert message is None or "\n" not in message.strip()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_any_cell_body_is_sent_unless_it_is_empty(ip: InteractiveShell, body: str) -> None:
    set_registry(Registry(provider="echo"))
    message = usage_error(lambda: ip.run_cell_magic("chat", "fuzz", body))
    assert message is None or not body.strip()  # only an empty cell is refused


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=st.text(max_size=40))
def test_any_command_line_runs_or_is_a_one_line_usage_error(ip: InteractiveShell, line: str) -> None:
    set_registry(Registry(provider="echo"))
    message = usage_error(lambda: ip.run_line_magic("chat", line))
    assert message is None or "\n" not in message.strip()
