"""The payloads' one owner: the shapes in ``formats/shapes.py``, the schema the extension's
TypeScript types are generated from, the one turn-tree algorithm, and the words carried."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from vel_jupyter import Agent
from vel_jupyter.formats.schema import schema_text
from vel_jupyter.formats.shapes import TreePayloadShape, TurnPayloadShape
from vel_jupyter.formats.turns import group_turns
from vel_jupyter.jupyter import texts
from vel_jupyter.jupyter.display import final_bundle, turn_payload
from vel_jupyter.jupyter.tree_data import family, tree_payload
from vel_jupyter.jupyter.tree_view import tree_html, tree_text
from vel_jupyter.testing import Reply, ScriptedProvider

SCHEMA = Path(__file__).parents[2] / "labextension" / "src" / "generated" / "payload.schema.json"


def msg(mid: str, parent: str | None, role: str, tokens: int = 0) -> dict[str, Any]:
    meta = {"prompt_tokens": tokens, "completion_tokens": 1} if tokens else None
    return {"id": mid, "parent_id": parent, "role": role, "content": mid, "meta": meta}


class TestTheGeneratedTypes:
    def test_the_committed_schema_is_the_shapes_schema(self) -> None:
        # labextension/src/generated/payload.ts is generated from this file (`jlpm test` checks that).
        assert SCHEMA.read_text(encoding="utf-8") == schema_text(), (
            "payload.schema.json drifted from formats/shapes.py: run `jlpm build:types` in labextension/"
        )

    def test_a_turn_payload_with_alternatives_has_its_shape(self) -> None:
        session = Agent(provider="echo").session("s")
        session.run("one", cell_id="c1")
        response = session.regenerate(cell_id="c1")
        payload = turn_payload(session, response)
        TypeAdapter(TurnPayloadShape).validate_python(payload)
        assert len(payload["alternatives"]) == 2

    def test_a_tree_payload_has_its_shape(self) -> None:
        agent = Agent(provider="echo")
        main = agent.session("main")
        main.run("one")
        main.fork("side").run("two")
        data = tree_payload(main, family(main, agent.loaded_sessions()))
        TypeAdapter(TreePayloadShape).validate_python(data)


class TestOneTurnTree:
    def test_a_user_message_starts_a_turn_and_its_answers_follow(self) -> None:
        turns = group_turns([msg("u1", None, "user"), msg("a1", "u1", "assistant", 3), msg("u2", "a1", "user")])
        assert [(t["id"], t["parent"], t["number"], t["last"], t["tokens"]) for t in turns] == [
            ("u1", None, 1, "a1", 4),
            ("u2", "u1", 2, "u2", 0),
        ]

    def test_two_answers_to_one_question_are_two_turns_with_its_number(self) -> None:
        turns = group_turns([msg("u1", None, "user"), msg("a1", "u1", "assistant"), msg("a2", "u1", "assistant")])
        assert [(t["id"], t["parent"], t["number"]) for t in turns] == [
            ("u1", None, 1),
            ("a1", "u1", 1),
            ("a2", "u1", 1),
        ]

    def test_preorder_with_siblings_in_input_order_and_orphans_as_roots(self) -> None:
        turns = group_turns([msg("u2", "u1", "user"), msg("u1", None, "user"), msg("x", "gone", "assistant")])
        assert [t["id"] for t in turns] == ["u1", "u2", "x"]
        assert turns[2]["parent"] is None and turns[2]["number"] == 0

    def test_a_long_chain_is_grouped_without_recursion(self) -> None:
        chain = [msg(f"m{i}", f"m{i - 1}" if i else None, "user" if i % 2 == 0 else "assistant") for i in range(20_000)]
        turns = group_turns(chain)
        assert len(turns) == 10_000 and turns[-1]["number"] == 10_000


class TestWordsAreCarried:
    def test_a_finished_turn_carries_the_words_its_html_shows(self) -> None:
        provider = ScriptedProvider()
        provider.enqueue(Reply.text("cut", finish_reason="length"))
        session = Agent(provider=provider).session("s")
        response = session.run("hi")
        bundle = final_bundle(session, response, default_cap=5)
        payload = bundle["application/vnd.vel.session+json"]
        assert payload["finish_note"] == texts.finish_note("length", None, 5)
        assert payload["finish_note"] in bundle["text/html"] and payload["usage_line"] in bundle["text/html"]
        assert payload["usage_line"].endswith("· default cap 5")
        assert "echo_note" not in payload

    def test_an_echo_answer_carries_the_echo_note(self) -> None:
        session = Agent(provider="echo").session("s")
        payload = turn_payload(session, session.run("hi"))
        assert payload["echo_note"] == texts.ECHO_NOTE and payload["finish_note"] == ""

    def test_numbers_read_as_the_extension_showed_them(self) -> None:
        assert texts.usage_line(1234, 19, "m", 1200, 0.5) == "1,234 → 19 tokens · m · 1.20 s · first token 0.50 ms"
        assert [texts.ms(v) for v in (412.5, 999.4, 12_345)] == ["413 ms", "999 ms", "12.3 s"]

    def test_a_tree_carries_its_stats_head_labels_and_fork_label_templates(self) -> None:
        agent = Agent(provider="echo")
        main = agent.session("main")
        main.run("one")
        main.run("two")
        main.regenerate(prompt="two, again")
        main.fork("side")
        data = tree_payload(main, family(main, agent.loaded_sessions()))
        assert data["texts"]["stats"] == "fork tree · 3 turns · 2 sessions"
        assert {h["label"] for h in data["heads"]} == {"main · branch 1", "main · branch 2", "side"}
        assert data["texts"]["fork_labels"] == texts.FORK_LABELS
        rerun = next(t for t in data["turns"] if t["preview"] == "two")
        label = texts.fork_label(rerun["number"], rerun["question"], rerun["answer"], "two, again")
        assert label.startswith("another question at turn 2: “") and label in tree_html(data)
        assert label in tree_text(data)
