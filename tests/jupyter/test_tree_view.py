"""``%chat tree`` outputs: the static picture and text every viewer shows, and an output that
follows its family on a real kernel (nbclient applies update_display_data by display id, as
JupyterLab does)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from vel_jupyter import Agent, Message
from vel_jupyter.formats.kinds import TREE_MIME
from vel_jupyter.jupyter.tree_data import family
from vel_jupyter.jupyter.tree_view import STATIC_ROWS, tree_bundle
from vel_jupyter.render import sanitize

HOSTILE = "Sure! <img src=x onerror=alert(1)> [x](javascript:alert(2)) <script>alert(3)</script> **bold**"


def ux04_family() -> tuple[Agent, dict[str, Any]]:
    """The family of ../shared/ux/04: a re-run turn 2, a fork after turn 3, a fork at turn 1."""
    agent = Agent(provider="echo")
    demo = agent.session(session_id="demo")
    demo.run("Give me a quick overview of pandas **groupby**.")
    turn1 = demo.head
    demo.run("How would I do the same with a pivot table?")
    demo.regenerate()
    demo.run("Which one is faster?")
    alt = demo.fork("alt")
    alt.run("Explain it for a spreadsheet user instead.")
    demo.fork("from-turn-1", at=turn1)
    return agent, {"demo": demo, "alt": alt}


def bundle_of(agent: Agent, sid: str) -> dict[str, Any]:
    focus = agent.get_session(sid)
    return tree_bundle(focus, family(focus, agent.loaded_sessions()))


class Text(HTMLParser):
    """The text of an HTML fragment and its tags, as a browser would read them."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("br", "div", "p", "summary"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @property
    def lines(self) -> list[str]:
        return [" ".join(line.split()) for line in "".join(self.parts).split("\n") if line.strip()]


def read(markup: str) -> Text:
    parser = Text()
    parser.feed(markup)
    return parser


class TestThePicture:
    def test_the_head_path_turn_by_turn_with_each_fork_folded_and_named(self) -> None:
        agent, _ = ux04_family()
        markup = bundle_of(agent, "demo")["text/html"]
        lines = read(markup).lines
        assert lines[0] == "demo · fork tree · 5 turns · 3 sessions"
        assert lines[1] == "sessions: alt (at turn 4) · demo (current: turn 3) · from-turn-1 (at turn 1)"
        rows = [line for line in lines if re.match(r"\d+ ", line)]
        assert [r.split(" ")[0] for r in rows] == ["1", "2", "2", "3", "4"], rows  # folded rows are in <details>
        assert rows[0].startswith("1 Give me a quick overview of pandas groupby. from-turn-1"), "no ** in a row"
        assert rows[3].startswith("3 Which one is faster? current")
        folds = [line for line in lines if line.startswith(("another", "continues"))]
        assert folds[0].startswith("another answer to turn 2: “You said:")
        assert folds[0].endswith("· 1 turn · demo · branch 1")
        assert folds[1] == "continues at turn 4: “Explain it for a spreadsheet user instead.” · 1 turn · alt"
        assert [t for t, _ in read(markup).tags].count("details") == 2, "each fork is a <details> (no script needed)"

    def test_the_picture_is_safe_by_construction(self) -> None:
        agent = Agent(provider="echo")
        s = agent.session(session_id="evil")
        s.add_message(Message.user(HOSTILE))
        s.add_message(Message.assistant(HOSTILE))
        markup = bundle_of(agent, "evil")["text/html"]
        assert sanitize(markup) == markup, "our sanitizer has nothing left to remove"
        tags = read(markup).tags
        assert not [t for t, _ in tags if t in ("img", "script", "a")]
        assert not [a for _, attrs in tags for a in attrs if a.startswith("on")]
        assert "Sure! <img src=x onerror=alert(1)>" in " ".join(read(markup).lines), "shown as text"

    def test_a_thousand_turns_are_drawn_by_the_ends_of_the_path(self) -> None:
        agent = Agent(provider="echo")
        s = agent.session(session_id="long")
        messages = []
        for i in range(1000):
            messages += [Message.user(f"q{i}"), Message.assistant(f"a{i}")]
        s.replace_history(messages)
        bundle = bundle_of(agent, "long")
        lines = read(bundle["text/html"]).lines
        rows = [line for line in lines if re.match(r"\d+ ", line)]
        assert len(rows) <= STATIC_ROWS
        assert rows[0].startswith("1 q0") and rows[-1].startswith("1000 q999 current")
        assert any(re.fullmatch(r"⋯ \d+ more turns", line) for line in lines)
        text = bundle["text/plain"].splitlines()
        assert len(text) <= 42 and text[-1].startswith("  1000  q999 → a999") and text[-1].endswith("[current]")

    def test_an_empty_session(self) -> None:
        agent = Agent(provider="echo")
        agent.session(session_id="empty")
        bundle = bundle_of(agent, "empty")
        assert "(no messages yet)" in bundle["text/html"]
        assert bundle[TREE_MIME]["turns"] == []


def test_rows_show_the_rendered_words_of_question_and_answer() -> None:
    agent = Agent(provider="echo")
    s = agent.session(session_id="md")
    s.add_message(Message.user("## A *title* with `code`"))
    s.add_message(Message.assistant("| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nx = 1\n```"))
    (turn,) = bundle_of(agent, "md")[TREE_MIME]["turns"]
    assert (turn["number"], turn["question"], turn["answer"]) == (1, "A title with code", "a b 1 2 x = 1")


@pytest.mark.slow
def test_a_tree_output_follows_its_family_on_a_real_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "VEL_STORE", "VEL_MODEL"):
        monkeypatch.delenv(name, raising=False)  # the offline echo provider, sessions in memory
    notebook = nbformat.v4.new_notebook()
    sources = [
        "%load_ext vel_jupyter",
        "%%chat t\nfirst",
        "%chat tree t",
        "%%chat t\nsecond",
        "%chat fork t t2",
        "%%chat t2\nside",
        "%chat system t Be brief.",
    ]
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    client = NotebookClient(notebook, timeout=120, kernel_name="python3")
    cells = notebook.cells

    def tree() -> dict[str, Any]:
        (output,) = cells[2].outputs
        assert set(output.data) == {TREE_MIME, "text/html", "text/plain"}, "no widget: nothing needs a widget manager"
        return dict(output.data)

    with client.setup_kernel():
        for index in (0, 1, 2):
            client.execute_cell(cells[index], index)
        first = tree()
        assert first[TREE_MIME]["commands"] == "%chat"
        assert len(first[TREE_MIME]["turns"]) == 1
        for index in (3, 4):
            client.execute_cell(cells[index], index)
        assert [s["session_id"] for s in tree()[TREE_MIME]["sessions"]] == ["t", "t2"], "a fork redraws it"
        client.execute_cell(cells[5], 5)
        data = tree()
        assert len(data[TREE_MIME]["turns"]) == 3
        assert [s["session_id"] for s in data[TREE_MIME]["sessions"]] == ["t", "t2"]
        assert "t2 (at turn 3)" in data["text/html"] and "t (current: turn 2)" in data["text/html"]
        client.execute_cell(cells[6], 6)  # a change the tree does not show: no redraw needed, none harmful
        assert tree()[TREE_MIME]["turns"] == data[TREE_MIME]["turns"]


def test_a_rerun_tree_cell_replaces_its_followed_output_and_few_are_followed() -> None:
    from vel_jupyter.jupyter.shown import KEPT_TREES, ShownTrees

    agent, sessions = ux04_family()
    demo = sessions["demo"]
    members = family(demo, agent.loaded_sessions())
    shown = ShownTrees()
    shown.add(demo, "display-1", members, cell="cell-a")
    shown.add(demo, "display-2", members, cell="cell-a")  # the same cell run again
    assert list(shown.displays().values()) == ["display-2"]
    for n in range(KEPT_TREES + 5):
        shown.add(demo, f"d{n}", members, cell=f"cell-{n}")
    assert (
        len(shown.displays()) == KEPT_TREES
        and "cell-0" not in shown.displays()
        and f"cell-{KEPT_TREES + 4}" in shown.displays()
    )
