"""`%chat restore --notebook` on real kernels after re-runs, re-runs of re-runs, forks and
checkouts (issue 22): the notebook is run by nbclient (which applies display updates by id, as
JupyterLab does), saved, and restored in a new kernel; the sessions come back as they were.
tests/export/test_restore_after_cell_operations.py runs random sequences of the same operations
in-process."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

DUMP = "import json, vel_jupyter\nprint(json.dumps({sid: s.to_dict() for sid, s in vel_jupyter.sessions().items()}))"


def stdout_of(cell: Any) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def errors_of(notebook: Any) -> list[str]:
    return [
        o.get("text", "") or o.get("evalue", "")
        for c in notebook.cells
        for o in c.outputs
        if o.output_type == "error" or o.get("name") == "stderr"
    ]


def run_cells(sources: list[str], steps: list[int | str], path: Path) -> tuple[Any, dict[str, Any]]:
    """Run ``sources`` in order, then ``steps`` (an index re-runs that cell, a source runs a new
    cell at the end), save the notebook to ``path`` and return it with the kernel's sessions
    (``to_dict``) at the end."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    client = NotebookClient(notebook, timeout=120, kernel_name="python3")
    with client.setup_kernel():
        for index in range(len(notebook.cells)):
            client.execute_cell(notebook.cells[index], index)
        for step in steps:
            if isinstance(step, str):
                notebook.cells.append(nbformat.v4.new_code_cell(step))
                step = len(notebook.cells) - 1
            client.execute_cell(notebook.cells[step], step)
        notebook.cells.append(nbformat.v4.new_code_cell(DUMP))
        client.execute_cell(notebook.cells[-1], len(notebook.cells) - 1)
    probe = notebook.cells.pop()  # saved without it
    nbformat.write(notebook, path)
    return notebook, json.loads(stdout_of(probe).strip().splitlines()[-1])


def restore_in_a_new_kernel(path: Path) -> tuple[str, dict[str, Any]]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext vel_jupyter"),
        nbformat.v4.new_code_cell(f"%chat restore --notebook {shlex.quote(str(path))}"),
        nbformat.v4.new_code_cell(DUMP),
    ]
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    assert [o for c in notebook.cells for o in c.outputs if o.output_type == "error"] == []
    return stdout_of(notebook.cells[1]), json.loads(stdout_of(notebook.cells[2]).strip().splitlines()[-1])


def assert_same_sessions(restored: dict[str, Any], live: dict[str, Any], ids: list[str]) -> None:
    assert sorted(restored) == sorted(ids)
    for sid in ids:
        now, was = restored[sid], live[sid]
        assert sorted(now["messages"], key=lambda m: m["id"]) == sorted(was["messages"], key=lambda m: m["id"]), sid
        assert now["head"] == was["head"], sid
        assert sorted(now["heads"]) == sorted(was["heads"]), sid
        assert now["heads"][now["current"]] == now["head"] if was["current"] is not None else now["current"] is None


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "VEL_STORE", "VEL_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.slow
def test_restore_after_rerunning_a_middle_cell(tmp_path: Path) -> None:
    """The issue's walk-through: turns 1-3, turn 2's cell re-run, save, restart, restore."""
    path = tmp_path / "nb.ipynb"
    sources = ["%load_ext vel_jupyter", "%%chat demo\none", "%%chat demo\ntwo", "%%chat demo\nthree"]
    notebook, live = run_cells(sources, [2], path)
    assert errors_of(notebook) == []
    said, restored = restore_in_a_new_kernel(path)
    assert said.splitlines()[0] == f"restored 1 session, 3 turns and 1 alternative answer from {path}: demo"
    assert restored["demo"]["heads"] == live["demo"]["heads"]
    assert restored["demo"]["current"] == live["demo"]["current"] == 1
    assert_same_sessions(restored, live, ["demo"])


@pytest.mark.slow
def test_restore_after_reruns_of_reruns_forks_and_checkouts(tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    sources = [
        "%load_ext vel_jupyter",
        "%%chat demo\none",  # 1
        "%%chat demo\ntwo",  # 2
        "%%chat demo\nthree",  # 3
        "%%chat side --fork-from demo\na fork from a cell",  # 4
        "%chat fork demo other",  # 5: a fork with no turn yet
    ]
    steps: list[int | str] = [
        2,  # re-run turn 2: demo has 2 branches
        2,  # and again: 3 branches
        "%%chat demo\nfour",  # continues the newest
        "%chat checkout demo 1",  # back to the first branch
        3,  # turn 3's cell, on that path again: a 4th branch beside it
        "%%chat other\nthe command's fork asks",
        "%%chat side\nthe fork goes on",
        "%chat checkout demo 2",  # and to a branch no cell's latest output is on
    ]
    notebook, live = run_cells(sources, steps, path)
    assert errors_of(notebook) == []
    assert len(live["demo"]["heads"]) == 4 and live["demo"]["current"] == 1
    said, restored = restore_in_a_new_kernel(path)
    first = said.splitlines()[0]
    assert first.startswith("restored 3 sessions, ") and first.endswith(f"from {path}: demo, side, other"), first
    assert "skipped" not in said
    assert_same_sessions(restored, live, ["demo", "side", "other"])
    assert restored["side"]["forked_from"]["session_id"] == "demo"
    assert restored["other"]["forked_from"]["session_id"] == "demo"
