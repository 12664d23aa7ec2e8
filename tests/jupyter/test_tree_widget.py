"""The fork-tree widget's Python side: the family, turns, heads, actions and live updates."""

from __future__ import annotations

import json
import re

from vel_jupyter import Agent, Message
from vel_jupyter.formats.kinds import TREE_MIME
from vel_jupyter.jupyter.tree_data import tree_payload
from vel_jupyter.jupyter.tree_widget import TreeWidget

from ..support.fixtures import TEST_KEY


def family_agent() -> tuple[Agent, dict[str, object]]:
    agent = Agent(provider="echo")
    main = agent.session(session_id="main")
    main.run("one")
    main.run("two")
    main.regenerate(prompt="two, again")
    fork = main.fork("side")
    fork.run("side turn")
    grandchild = fork.fork("side-2")
    grandchild.run("deeper")
    return agent, {"main": main, "side": fork, "side-2": grandchild}


class TestTreeData:
    def test_every_branch_and_fork_of_the_family_as_turns(self) -> None:
        _, sessions = family_agent()
        widget = TreeWidget(sessions["main"])  # type: ignore[arg-type]
        data = widget.data
        assert [s["session_id"] for s in data["sessions"]] == ["main", "side", "side-2"]
        previews = sorted(t["preview"] for t in data["turns"])
        assert previews == ["deeper", "one", "side turn", "two", "two, again"]
        turns = {t["preview"]: t for t in data["turns"]}
        assert turns["two"]["parent"] == turns["one"]["id"] == turns["two, again"]["parent"]
        assert turns["deeper"]["parent"] == turns["side turn"]["id"]
        assert [m["role"] for m in turns["one"]["messages"]] == ["user", "assistant"]
        assert turns["one"]["tokens"] > 0
        heads = {(h["session_id"], h["branch"]): h for h in data["heads"]}
        assert heads[("main", 1)]["current"] and not heads[("main", 0)]["current"]
        assert heads[("side-2", 0)]["turn"] == turns["deeper"]["id"]

    def test_a_thousand_turns(self) -> None:
        agent = Agent(provider="echo")
        session = agent.session(session_id="long")
        messages = []
        for i in range(1000):
            messages += [Message.user(f"q{i}"), Message.assistant(f"a{i}")]
        session.replace_history(messages)
        data = tree_payload(session, [session])
        assert len(data["turns"]) == 1000
        assert data["turns"][-1]["parent"] == data["turns"][-2]["id"]


class TestActions:
    def test_continue_from_here_checks_the_session_out(self) -> None:
        _, sessions = family_agent()
        main = sessions["main"]
        widget = TreeWidget(main)  # type: ignore[arg-type]
        first = next(t for t in widget.data["turns"] if t["preview"] == "one")
        status = widget.act({"action": "checkout", "session_id": "main", "message_id": first["last"]})
        assert "continues" in status
        assert [m.text for m in main.messages if m.role == "user"] == ["one"]  # type: ignore[attr-defined]
        main.run("a new direction")  # type: ignore[attr-defined]
        assert len(main.branches) == 3  # type: ignore[attr-defined]

    def test_fork_here_creates_a_session_and_the_tree_redraws(self) -> None:
        agent, sessions = family_agent()
        widget = TreeWidget(sessions["main"])  # type: ignore[arg-type]
        first = next(t for t in widget.data["turns"] if t["preview"] == "one")
        widget.receive({"action": "fork", "session_id": "main", "message_id": first["last"], "new_id": "from-one"})
        assert widget.status == "forked into from-one"
        assert [m.text for m in agent.get_session("from-one").messages if m.role == "user"] == ["one"]
        assert "from-one" in [s["session_id"] for s in widget.data["sessions"]]

    def test_errors_show_in_the_status_line(self) -> None:
        _, sessions = family_agent()
        widget = TreeWidget(sessions["main"])  # type: ignore[arg-type]
        widget.receive({"action": "checkout", "session_id": "main", "message_id": "nope"})
        assert widget.status.startswith("error: ")
        widget.receive({"action": "explode"})
        assert "unknown tree action" in widget.status

    def test_turns_added_elsewhere_redraw_the_tree(self) -> None:
        agent, sessions = family_agent()
        widget = TreeWidget(sessions["main"])  # type: ignore[arg-type]
        before = len(widget.data["turns"])
        sessions["side"].run("added in another cell")  # type: ignore[attr-defined]
        assert len(widget.data["turns"]) == before + 1
        other = agent.session(session_id="unrelated")
        other.run("not in this family")
        assert len(widget.data["turns"]) == before + 1
        widget.close()
        sessions["side"].run("after close")  # type: ignore[attr-defined]
        assert len(widget.data["turns"]) == before + 1

    def test_the_widget_ships_its_javascript(self) -> None:
        _, sessions = family_agent()
        widget = TreeWidget(sessions["main"])  # type: ignore[arg-type]
        assert "function renderTreeView(" in widget._esm  # drawn by the labextension's treeView.ts
        # one ES module (esbuild's bundle of src/widget.ts) with one export, the default: anywidget
        # would take a named `render` export first
        assert re.findall(r"^export[^;]*;", widget._esm, re.M | re.S) == ["export {\n  widget_default as default\n};"]
        assert "var widget_default = { render: renderWidget };" in widget._esm
        assert not re.search(r"^import ", widget._esm, re.M), "bundled: it imports nothing"
        assert ".vel-root" in widget._css
        # model text only ever goes in as text (the sources' comments may name what they avoid)
        assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML\s*\(", widget._esm)
        assert not re.search(r"""(from|import)\s*\(?\s*["']https?:""", widget._esm)  # no CDN import


def test_viewers_without_a_widget_manager_get_the_picture_and_the_text() -> None:
    _, sessions = family_agent()
    widget = TreeWidget(sessions["main"])  # type: ignore[arg-type]
    data, _metadata = widget._repr_mimebundle_()  # type: ignore[misc]
    assert data["text/plain"].startswith("main: fork tree · 5 turns · 3 sessions")
    assert 'class="vel-tree"' in data["text/html"] and "current" in data["text/html"]


class TestAnswers:
    def test_each_request_is_answered_with_its_number(self) -> None:
        _, sessions = family_agent()
        widget = TreeWidget(sessions["main"])  # type: ignore[arg-type]
        sent: list[dict[str, object]] = []
        widget.send = sent.append  # type: ignore[method-assign]  # the comm (no frontend here)
        first = next(t for t in widget.data["turns"] if t["preview"] == "one")
        widget.receive({"action": "checkout", "session_id": "main", "message_id": first["last"], "request": 7})
        widget.receive({"action": "checkout", "session_id": "main", "message_id": "nope", "request": 8})
        assert [(m["request"], m["ok"]) for m in sent] == [(7, True), (8, False)]
        assert str(sent[1]["status"]).startswith("error: ")


def test_the_output_carries_the_tree_for_a_notebook_with_no_kernel() -> None:
    _, sessions = family_agent()
    widget = TreeWidget(sessions["main"])  # type: ignore[arg-type]
    data, _metadata = widget._repr_mimebundle_()  # type: ignore[misc]
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == widget.model_id
    saved = json.loads(json.dumps(data[TREE_MIME]))  # what the notebook file keeps
    assert saved["kind"] == "vel_jupyter.tree"
    assert saved == widget.data
    heads = {(h["session_id"], h["branch"]): h for h in saved["heads"]}
    main = sessions["main"]
    assert heads[("main", 1)]["message"] == main.head  # type: ignore[attr-defined]
    assert heads[("main", 1)]["current"] is True


def test_the_saved_tree_holds_no_secret(openai_agent: Agent) -> None:
    session = openai_agent.session(session_id="secretive")
    session.run("hello")
    widget = TreeWidget(session)
    data, metadata = widget._repr_mimebundle_()  # type: ignore[misc]
    assert TEST_KEY not in json.dumps([data, metadata])
    assert data[TREE_MIME]["turns"], "the tree has the turn"
