"""``%chat``'s dispatch: every subcommand the parser knows has exactly one handler."""

from __future__ import annotations

from vel_jupyter.jupyter.commands import COMMANDS
from vel_jupyter.jupyter.magics import HANDLERS


class TestDispatch:
    def test_every_command_has_a_handler_and_every_handler_a_command(self) -> None:
        assert list(HANDLERS) == list(COMMANDS)


class TestTables:
    def test_branches_show_the_words_a_reader_sees_not_markdown(self) -> None:
        from vel_jupyter import Agent
        from vel_jupyter.jupyter.tables import branch_rows
        from vel_jupyter.testing import ScriptedProvider

        provider = ScriptedProvider("## First\n\n**bold** answer", "```python\nprint(1)\n```")
        session = Agent(provider=provider).session("s")
        session.run("q")
        session.regenerate()
        rows = branch_rows(session)
        text = " ".join(" ".join(row) for row in rows)
        assert "'First bold answer'" in text and "'print(1)'" in text
        assert "##" not in text and "**" not in text and "```" not in text

    def test_a_table_in_a_frontend_is_html_with_every_cell_escaped(self) -> None:
        from html.parser import HTMLParser

        from vel_jupyter.jupyter.tables import table_html

        markup = table_html([("id", "last message"), ("<b>x</b>", "<img src=x onerror=alert(1)>")])

        class Tags(HTMLParser):
            def __init__(self) -> None:
                super().__init__()
                self.tags: list[str] = []

            def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
                self.tags.append(tag)

        parser = Tags()
        parser.feed(markup)
        assert parser.tags.count("td") == 2 and parser.tags.count("th") == 2
        assert "b" not in parser.tags and "img" not in parser.tags
        assert "&lt;b&gt;x&lt;/b&gt;" in markup
