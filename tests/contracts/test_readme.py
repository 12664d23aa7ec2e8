"""Every ```python block of the README runs, in order, in one namespace, offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_has_examples() -> None:
    assert len(python_blocks()) >= 5


def test_readme_examples_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    namespace: dict[str, object] = {"__name__": "readme"}
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert 'You said: "What do you know about me?" (turn 3).' in out
    assert "[1, 2]" in out
    assert "stopped True" in out
    assert "Summary ['echo: Summarize our conversation']" in out
    assert "Tool results: 18 C and sunny in Lima" in out
    assert "{'role': 'user', 'content': 'My name is Alice'}" in out
    assert "openai llama3.2" in out
    assert "length True 'You said: \"Tell'" in out
    assert "length 'You said: \"Tell'" in out
    assert "Hello!" in out
    assert "2 ['notes']" in out
