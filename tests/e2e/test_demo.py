"""`make demo`'s command runs offline and prints a streamed multi-turn conversation."""

from __future__ import annotations

import os
import subprocess
import sys


def test_demo_prints_the_conversation() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "vel_jupyter", "demo"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "provider=echo" in out
    assert 'assistant> You said: "What do you know about me?" (turn 3).' in out
    assert 'Earlier you said: "My name is Alice."; "I\'m a software engineer."' in out
    assert "history: 6 messages; fork 'demo-fork': 8 messages" in out
    assert "OPENAI_API_KEY" in result.stderr  # the one-line notice


def test_demo_runs_the_quickstart_notebook(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    output = Path(str(tmp_path)) / "executed.ipynb"
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vel_jupyter",
            "demo",
            "--notebook",
            str(root / "notebooks/quickstart.ipynb"),
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "[demo] user> What do you know about me?" in result.stdout
    assert "[helper] tool> 18 C and sunny in" in result.stdout, "--tool-choice required: echo calls the tool"
    assert f"executed notebook written to {output}" in result.stdout
    assert output.exists()
