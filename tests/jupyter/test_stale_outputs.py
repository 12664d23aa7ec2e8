"""Turn outputs follow their session on a real kernel: "not asked on this branch" appears on
an output when a re-run upstream or a checkout moves the session off its turn, and goes when
the session comes back (shown.py). nbclient applies update_display_data by display id, as
JupyterLab does."""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from vel_jupyter.formats.kinds import SESSION_MIME

STALE = "not asked on this branch"


def turn_of(cell: Any) -> tuple[dict[str, Any], str]:
    (output,) = [o for o in cell.outputs if SESSION_MIME in o.get("data", {})]
    return output.data[SESSION_MIME], output.data["text/html"]


def test_outputs_say_when_their_turn_is_off_the_current_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "VEL_STORE", "VEL_MODEL"):
        monkeypatch.delenv(name, raising=False)  # the offline echo provider, sessions in memory
    notebook = nbformat.v4.new_notebook()
    sources = [
        # Echo asked for by name: no no-model notice above the first answer, whose output count
        # would change on its re-run (nbclient maps display ids to output indices).
        "%load_ext vel_jupyter\n%config ChatMagics.provider = 'echo'",
        "%%chat s\nfirst",
        "%%chat s\nsecond",
        "%chat checkout s 1",
        "%chat checkout s 2",
    ]
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    client = NotebookClient(notebook, timeout=120, kernel_name="python3")
    cells = notebook.cells
    with client.setup_kernel():
        for index in (0, 1, 2):
            client.execute_cell(cells[index], index)
        first, first_html = turn_of(cells[1])
        second, second_html = turn_of(cells[2])
        assert first["current"] is True and second["current"] is True
        assert STALE not in first_html + second_html

        client.execute_cell(cells[1], 1)  # re-run the first cell: a new branch from the root
        second, second_html = turn_of(cells[2])
        assert second["current"] is False, "the second cell's turn is on the old branch now"
        assert STALE in second_html and "%chat branches s" in second_html
        assert second["branch"] == 0 and second["branches"] == 1, "the payload keeps what the turn was"
        rerun, _ = turn_of(cells[1])
        assert rerun["current"] is True and rerun["branches"] == 2

        client.execute_cell(cells[3], 3)  # back to branch 1: both old turns are current again
        second, second_html = turn_of(cells[2])
        assert second["current"] is True and STALE not in second_html
        rerun, rerun_html = turn_of(cells[1])
        assert rerun["current"] is False and STALE in rerun_html
        first_answer = rerun["alternatives"][0]
        assert rerun["showing"] == first_answer["head"], "our renderer opens it on the answer the session is on"

        client.execute_cell(cells[4], 4)
        assert turn_of(cells[2])[0]["current"] is False
        rerun, _ = turn_of(cells[1])
        assert rerun["current"] is True and "showing" not in rerun
