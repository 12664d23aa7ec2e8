"""vel_jupyter.render and every notebook output built on it: hostile text stays inert, Markdown renders.

Each output path (live frames, the final bundle in every format, tool-call lines, the
interrupt/failure note, ``%chat show``, ``%chat export``) is fed a corpus of hostile answers,
tool names, arguments, results and prompts; the HTML it produces is parsed with the stdlib
``html.parser`` and must hold only allowlisted elements, attributes, classes and style
properties, no ``on*`` attribute and no URL outside http/https/mailto. No output carries
``text/markdown`` (decision: a Markdown copy of model text would be rendered with raw HTML on
by some frontend), and ``text/plain`` is always the raw text.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vel_jupyter import Agent, history
from vel_jupyter import render as render_module
from vel_jupyter.core.response import StreamEvent
from vel_jupyter.export.notebook import export_bundle
from vel_jupyter.formats import clean_text
from vel_jupyter.formats.kinds import SESSION_MIME
from vel_jupyter.jupyter.display import LiveView, final_bundle, show_html, turn_html
from vel_jupyter.render import code_to_html, markdown_to_html, sanitize, text_to_html
from vel_jupyter.testing import Reply, ScriptedProvider

# The allowlist, written out here too: changing render.py's must be a visible decision.
TAGS = {
    "a", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "li", "ol", "p", "pre", "s", "small", "span", "strong", "summary", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title", "rel"},  # rel: ammonia adds noopener noreferrer nofollow
    "ol": {"start"},
    **{
        tag: {"style"}
        for tag in ("code", "table", "td", "th", "pre", "span", "div", "p", "details", "summary", "blockquote")
    },
}
CLASSES = {tag: set(names) for tag, names in render_module.ALLOWED_CLASSES.items()}
STYLES = set(render_module.ALLOWED_STYLE_PROPERTIES)
SCHEMES = {"http", "https", "mailto"}


def test_the_allowlist_is_what_this_file_checks() -> None:
    assert set(render_module.ALLOWED_TAGS) == TAGS
    assert {t: set(a) for t, a in render_module.ALLOWED_ATTRIBUTES.items()} == {
        t: a - {"rel"} for t, a in ATTRIBUTES.items()
    }
    assert set(render_module.URL_SCHEMES) == SCHEMES
    assert all(name.startswith("vel-") for names in CLASSES.values() for name in names)
    assert not {"position", "display", "background", "background-image", "content", "behavior"} & STYLES


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in TAGS:
            self.bad.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.bad.append(f"<{tag} {name}>")
            elif name == "class":
                extra = set(value.split()) - CLASSES.get(tag, set())
                if extra:
                    self.bad.append(f"<{tag} class={sorted(extra)}>")
            elif name not in ATTRIBUTES.get(tag, set()):
                self.bad.append(f"<{tag} {name}>")
            elif name == "style":
                for declaration in filter(None, (d.strip() for d in value.split(";"))):
                    prop = declaration.split(":", 1)[0].strip().lower()
                    if prop not in STYLES or "url(" in declaration.lower() or "expression" in declaration.lower():
                        self.bad.append(f"<{tag} style={declaration!r}>")
            elif name == "href":
                # What a browser does: strip whitespace/control characters, any case.
                squashed = re.sub(r"[\x00-\x20\x7f]", "", value).lower()
                scheme = urlsplit(squashed).scheme
                if scheme not in SCHEMES:
                    self.bad.append(f"<{tag} href={value!r}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.bad.append("<!-- comment -->")

    def handle_decl(self, decl: str) -> None:
        self.bad.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.bad.append(f"<?{data}>")


def check(markup: str) -> _Checker:
    checker = _Checker()
    checker.feed(markup)
    checker.close()
    return checker


def assert_inert(markup: str) -> None:
    """Fail on anything outside the allowlist (elements, attributes, classes, styles, URL schemes)."""
    bad = check(markup).bad
    assert bad == [], f"{bad} in {markup[:2000]}"


def assert_bundle(bundle: dict[str, Any]) -> None:
    assert "text/markdown" not in bundle, "no Markdown copy of untrusted text"
    assert isinstance(bundle["text/plain"], str)
    if "text/html" in bundle:
        assert_inert(bundle["text/html"])


# -- the hostile corpus --------------------------------------------------------------------------

JS_SPELLINGS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    " javascript:alert(1)",
    "\x01javascript:alert(1)",
    "jav&#x09;ascript:alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)",
    "javascript&colon;alert(1)",
    "java%73cript:alert(1)",
    "vbscript:msgbox(1)",
    "VBScript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "DATA:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "/api/contents",  # relative: denied too
    "../../logout",
]
HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)></svg>",
    "<iframe src=javascript:alert(1)></iframe>",
    '<a href="javascript:alert(1)">x</a>',
    "<details open ontoggle=alert(1)>",
    "<style>*{display:none}</style>",
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
    "<!-- comment --> <![CDATA[x]]> <?php x ?>",
    '<div style="position:fixed;inset:0">cover</div>',
    "``` \n<img src=x onerror=alert(1)>",  # a fence that never closes
    "~~~\n<script>alert(1)</script>",
    "`a` `` ` <img src=x onerror=alert(1)> ` ``",
    "a`b <img src=x onerror=alert(2)>`",
    "| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | [x](javascript:alert(1)) |",
    "- item <script>alert(1)</script>\n- ![i](javascript:alert(1))\n  <img src=x onerror=alert(1)>",
    "> quote <img src=x onerror=alert(1)>\n> ```\n> <script>alert(1)</script>",
    "1. <b onclick=alert(1)>x</b>",
    "<https://ok.example> <javascript:alert(1)> <mailto:a@b.c>",
    "![img](https://tracker.example/pixel.png) ![x](data:image/png;base64,AAAA)",
    '[ref]\n\n[ref]: javascript:alert(1) "t"',
    "[x](<javascript:alert(1)>) [y]( javascript:alert(1) )",
    "\\<img src=x onerror=alert(1)\\>",
    "&lt;img src=x onerror=alert(1)&gt; &#60;script&#62;",
    "```python\n</code></pre><img src=x onerror=alert(1)>\n```",
    "```<img src=x onerror=alert(1)>\ncode\n```",
    "``` onerror=alert(1) \nx\n```",
    "x\n\n    <script>indented code</script>",
    "\x00\x01\x02 <scr\x00ipt>alert(1)</script>",
    "{} {{x}} {0} {answer}",  # format-string syntax: templates must not read it
    *(f"[click]({url})" for url in JS_SPELLINGS),
    *(f"<a href='{url}'>raw</a>" for url in JS_SPELLINGS),
    *(f"[r]: {url}\n\n[r]" for url in JS_SPELLINGS),
]
# The issue's two tool calls whose arguments, once joined as Markdown, made a live <img>.
SPLIT_BACKTICKS = [("lookup", {"q": "a`"}), ("lookup", {"q": "`<img src=x onerror=alert(1)>`"})]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_markdown_renders_inert(text: str) -> None:
    for markup in (markdown_to_html(text), text_to_html(text), code_to_html(text, "python"), code_to_html("x", text)):
        assert_inert(markup)


@pytest.mark.parametrize("url", JS_SPELLINGS)
def test_no_dangerous_or_relative_href_in_any_spelling(url: str) -> None:
    for text in (f"[x]({url})", f"<{url}>", f"[r]\n\n[r]: {url}", f"![i]({url})"):
        markup = markdown_to_html(text)
        assert_inert(markup)
        assert 'href="' not in markup or "https://" in markup


def test_sanitize_itself_drops_what_markdown_it_never_makes() -> None:
    # The second line of defence, on raw HTML (as if a parser bug let some through).
    dirty = (
        '<img src=x onerror=alert(1)><script>alert(1)</script><a href="jAvAsCrIpT:alert(1)" onclick="x">a</a>'
        '<span style="position:fixed;color:red;background-image:url(x)" class="vel-x evil">s</span>'
        '<pre class="vel-code" style="color:#000">p</pre><iframe srcdoc="<script>1</script>"></iframe>'
    )
    clean = sanitize(dirty)
    assert_inert(clean)
    assert "alert" not in clean  # script content is removed, not just the tag
    assert 'style="color:red"' in clean and 'class="vel-code"' in clean


# -- every output path -----------------------------------------------------------------------------


class _Handle:
    """Stands for IPython's DisplayHandle: keeps every bundle drawn."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def update(self, bundle: dict[str, Any], raw: bool = False) -> None:
        self.frames.append(bundle)


def lookup(q: str) -> str:
    """Look something up.

    Args:
        q: The query.
    """
    return f"found {q} <img src=x onerror=alert(9)> [r](javascript:alert(9))"


def _turn(answer: str, calls: list[tuple[str, dict[str, Any]]] = (), **reply: Any) -> tuple[Any, Any, _Handle]:  # type: ignore[assignment]
    provider = ScriptedProvider()
    if calls:
        provider.enqueue(Reply.tool_calls(list(calls)))
    provider.enqueue(Reply.text(answer, **reply) if reply else answer)
    agent = Agent(provider=provider)
    session = agent.session("hostile")
    view = LiveView(rich=True, interval=0.0, prompt="{answer} was " + answer[:40], session_id=session.session_id)
    handle = _Handle()
    view._handle = handle
    stream = session.stream("hi " + answer[:200], tools=[lookup], allow_incomplete=True)
    for event in stream:
        view.feed(event)
        view.draw()
    assert stream.response is not None
    return session, stream.response, handle


@pytest.mark.parametrize("text", HOSTILE)
def test_every_output_path_is_inert(text: str) -> None:
    session, response, handle = _turn(text, [(f"look{text[:30]}", {"q": text}), ("lookup", {"q": text})])
    assert handle.frames, "live frames were drawn"
    for frame in handle.frames:  # live frames with tool lines, results and a partial answer
        assert_bundle(frame)
    for fmt in ("markdown", "text", "code", "json"):  # the final output in every format
        bundle = final_bundle(session, response, fmt=fmt, prompt=f"interpolated: {text}")
        assert_bundle(bundle)
        # the raw text, never markup (NUL and lone surrogates as U+FFFD: formats/text.py)
        assert bundle["text/plain"].startswith(clean_text(text))
    assert_inert(show_html(session))  # %chat show
    assert_bundle(export_bundle(session))  # %chat export
    view = LiveView(rich=True, prompt=text)  # the label over a partial answer (the error line says why)
    view._handle = _Handle()
    view.text = text
    view.stop()
    assert_bundle(view._handle.frames[-1])
    assert "partial answer, not kept" in view._handle.frames[-1]["text/html"]


def test_the_issue_two_tool_calls_with_split_backticks_make_no_img() -> None:
    session, response, handle = _turn("done", SPLIT_BACKTICKS)
    bundle = final_bundle(session, response)
    for markup in [bundle["text/html"], *(f["text/html"] for f in handle.frames)]:
        assert_inert(markup)
        assert "<img" not in markup
    # both arguments are shown, as text, each in its own <code>
    assert "<code>{&quot;q&quot;: &quot;a`&quot;}</code>" in bundle["text/html"] or '{"q": "a`"}' in "".join(
        check(bundle["text/html"]).text
    )
    shown = "".join(check(bundle["text/html"]).text)
    assert '{"q": "`<img src=x onerror=alert(1)>`"}' in shown


def test_show_of_an_answer_that_starts_with_a_fence() -> None:
    provider = ScriptedProvider("```\n<img src=x onerror=alert(1)>", "``x`` <img src=x onerror=alert(2)>")
    session = Agent(provider=provider).session("fence")
    session.system = "```\n<script>alert(0)</script>"
    session.run("```<img src=x onerror=alert(3)>")
    session.run("second")
    markup = show_html(session)
    assert_inert(markup)
    assert "<img" not in markup and "<script" not in markup
    text = "".join(check(markup).text)
    assert "<img src=x onerror=alert(1)>" in text  # shown as text
    assert [t for t in check(markup).tags if t == "div"].count("div") >= 5  # one block per message


def test_magics_show_displays_html_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from vel_jupyter.jupyter.registry import Registry, set_registry

    shown: list[dict[str, Any]] = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    set_registry(Registry(provider="echo"))
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("vel_jupyter")
    ip.run_cell_magic("chat", "showme", "```\n<img src=x onerror=alert(1)>")
    ip.run_line_magic("chat", "show showme")
    assert_bundle(shown[-1])
    assert "<img" not in shown[-1]["text/html"]


def test_history_dataframe_html_escapes_model_text() -> None:
    session = Agent(provider=ScriptedProvider("<img src=x onerror=alert(1)>")).session("hist")
    session.run("<script>alert(2)</script>")
    markup = history(session)._repr_html_()
    assert "<img" not in markup and "<script" not in markup and "onerror=alert(1)" in markup


PIECES = [
    "<", ">", "&", "`", "``", "```", "~~~", "\n", "\n\n", "    ", "> ", "- ", "1. ", "|", "---", "[",
    "]", "(", ")", "!", "*", "_", "\\", '"', "'", "=", ":", "#", "javascript:", "JaVa\tScript:",
    "&#106;", "data:", "vbscript:", "<img src=x onerror=alert(1)>", "<script>", "</script>", "onerror=",
    "<a href=", "x", "https://ok.example", "<svg/onload=alert(1)>", "{", "}", "\x00", "\x0b",
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(PIECES), max_size=40).map("".join),
    st.lists(st.text(alphabet="`<>\"'{}ab =", max_size=12), max_size=3),
)
def test_generated_hostile_mixes_are_inert_everywhere(text: str, args: list[str]) -> None:
    assert_inert(markdown_to_html(text))
    assert_inert(text_to_html(text))
    calls = [("lookup", {"q": a}) for a in args]
    session, response, handle = _turn(text or "x", calls)
    for frame in handle.frames:
        assert_bundle(frame)
    assert_bundle(final_bundle(session, response, prompt=text))
    assert_inert(show_html(session))
    assert_bundle(export_bundle(session))


# -- what a good answer looks like -------------------------------------------------------------------

RICH = """## Grouping in pandas

Here is a **quick overview** of `groupby`: it follows the *split-apply-combine* pattern.

- **Split** the rows into groups
- **Apply** a function to each group

```python
import pandas as pd
means = df.groupby("team")["score"].mean()
```

| team | rows | mean score |
|------|-----:|-----------:|
| a    | 2    | 2.0        |

See the [pandas user guide](https://pandas.pydata.org/docs/user_guide/groupby.html) for more.
"""


def test_a_markdown_rich_answer_renders_as_html() -> None:
    session, response, _ = _turn(RICH)
    markup = final_bundle(session, response)["text/html"]
    assert_inert(markup)
    parsed = check(markup)
    for tag in ("h2", "strong", "em", "table", "th", "td", "ul", "li", "pre", "code", "a", "span"):
        assert tag in parsed.tags, tag
    text = "".join(parsed.text)
    assert "**" not in text and "##" not in text and "```" not in text and "|---" not in text
    assert 'href="https://pandas.pydata.org/docs/user_guide/groupby.html"' in markup
    assert re.search(r'<td style="text-align:right;[^"]*">2</td>', markup)  # the table's alignment survives
    # highlighted: the keyword and the string get colours of their own
    assert re.search(r'<span style="[^"]*color:[^"]*">import</span>', markup)
    assert re.search(r'<span style="[^"]*color:[^"]*">(&quot;|")team(&quot;|")</span>', markup)
    assert "→" in text and "tokens" in text  # the usage line, once
    assert text.count("tokens") == 1


def test_images_become_links_and_nothing_is_fetched() -> None:
    markup = markdown_to_html("![a chart](https://example.com/chart.png)")
    assert "<img" not in markup
    assert '<a href="https://example.com/chart.png"' in markup and "image: a chart" in markup


def test_relative_links_lose_their_href() -> None:
    assert "href" not in markdown_to_html("[x](/api/contents) [y](#top) [z](x.html)")
    assert 'href="mailto:a@b.c"' in markdown_to_html("[m](mailto:a@b.c)")


def test_raw_html_is_shown_as_text() -> None:
    assert markdown_to_html("<b>bold</b>") == "<p>&lt;b&gt;bold&lt;/b&gt;</p>\n"
    assert re.fullmatch(r'<p><code style="[^"]+">&lt;b&gt;</code></p>\n', markdown_to_html("`<b>`"))
    assert markdown_to_html("Tom &amp; Jerry") == "<p>Tom &amp; Jerry</p>\n"  # an entity, as CommonMark says
    assert "a &lt; b" in text_to_html("a < b")


def test_unknown_languages_and_unclosed_fences_still_render() -> None:
    assert "<pre" in code_to_html("x = 1", "no-such-language")
    markup = markdown_to_html("```python\nif x:\n    pass")  # never closed: code to the end
    assert "<pre" in markup and "pass" in markup


# -- less noise per turn -------------------------------------------------------------------------


def test_usage_note_and_prompt() -> None:
    session, response, _ = _turn("the first half of", finish_reason="length")
    bundle = final_bundle(session, response)
    markup = bundle["text/html"]
    assert "cut off at max_tokens — raise --max-tokens to get the rest" in markup
    assert 'class="vel-note"' in markup and "font-weight:bold" in markup  # clearly visible
    assert "cut off at max_tokens" in bundle["text/plain"]
    assert "<details" not in markup, "no prompt shown when the cell body was the prompt"
    shown = final_bundle(session, response, prompt="Explain {topic} -> Explain <b>x</b>")["text/html"]
    assert '<details class="vel-prompt">' in shown and "&lt;b&gt;x&lt;/b&gt;" in shown
    assert markup.count('class="vel-usage"') == 1 and markup.count(" tokens · ") == 1


def test_a_failed_turn_with_nothing_shown_leaves_no_second_message(capsys: pytest.CaptureFixture[str]) -> None:
    view = LiveView(rich=True)
    view._handle = _Handle()
    view.stop()
    assert view._handle.frames == [], "the view is cleared (clear_output), not redrawn empty"
    capsys.readouterr()  # (outside a kernel clear_output writes a terminal escape)


def test_structured_output_and_json_are_highlighted_json() -> None:
    session, response, _ = _turn('{"city": "<img src=x onerror=alert(1)>", "days": 3}')
    bundle = final_bundle(session, response, fmt="json")
    assert_bundle(bundle)
    assert bundle["application/json"]["days"] == 3
    assert json.loads(bundle["text/plain"])["days"] == 3


def test_turn_html_templates_ignore_format_syntax_in_fragments() -> None:
    markup = turn_html(markdown_to_html("{prompt} {answer} {0}"), prompt="{usage}", note="{x}", usage="{y}")
    assert_inert(markup)
    assert "{prompt} {answer} {0}" in markup and "{usage}" in markup


# -- the live payload: what our JupyterLab renderer draws while a turn streams ------------------


def test_live_frames_carry_a_live_turn_payload_in_stream_order() -> None:
    session, response, handle = _turn("the **answer**", [("lookup", {"q": "pandas"})])
    live = [frame[SESSION_MIME] for frame in handle.frames]
    assert all(p["kind"] == "vel_jupyter.turn" and p["live"] is True for p in live)
    assert all(p["session_id"] == "hostile" and p["format"] == "markdown" for p in live)
    last = live[-1]["messages"]
    assert [m["role"] for m in last] == ["assistant", "tool", "assistant"]
    assert last[0]["tool_calls"] == [
        {"id": response.tool_calls[0].id, "name": "lookup", "arguments": '{"q": "pandas"}'}
    ]
    assert last[1]["name"] == "lookup" and last[1]["content"] == lookup("pandas")
    assert last[2]["content"] == "the **answer**"  # the raw text: our renderer renders it
    assert len({m["id"] for m in last}) == 3 and all(m["id"].startswith("live-") for m in last)
    assert "prompt" in live[-1] and live[-1]["prompt"].startswith("{answer} was ")
    # the final payload names the same layout's fields
    final = final_bundle(session, response, prompt="sent")[SESSION_MIME]
    assert "live" not in final and final["format"] == "markdown" and final["prompt"] == "sent"
    assert final["latency_ms"] == round(response.latency_ms, 1)
    assert "prompt" not in final_bundle(session, response)[SESSION_MIME]


def test_a_stopped_live_view_says_so_in_its_payload() -> None:
    view = LiveView(rich=True, session_id="s", fmt="code")
    view._handle = _Handle()
    for text in ("par", "tial"):
        view.feed(StreamEvent("text_delta", text=text))
    view.stop()
    payload = view._handle.frames[-1][SESSION_MIME]
    assert payload["live"] is True and payload["format"] == "code"
    assert payload["note"] == "partial answer, not kept"
    assert payload["messages"][-1]["content"] == "partial"


def test_the_final_html_lists_tool_calls_and_results_as_the_live_view_did() -> None:
    session, response, handle = _turn("done", [("lookup", {"q": "x"}), ("missing_tool", {})])
    final = check(final_bundle(session, response)["text/html"]).text
    live = check(handle.frames[-1]["text/html"]).text
    for line in ("🔧", "lookup", "↳", "⚠️", "missing_tool"):
        assert line in "".join(final) and line in "".join(live)


def test_a_re_run_cell_carries_every_answer_it_has_had() -> None:
    provider = ScriptedProvider()
    for text in ("first answer", "second answer", "third, to an edited prompt", "later"):
        provider.enqueue(text)
    session = Agent(provider=provider).session("alts")
    session.run("question", cell_id="cell-a")
    session.run("question", cell_id="cell-a", parent=None)  # the cell re-run
    response = session.run("question, edited", cell_id="cell-a", parent=None)
    session.run("a later cell", cell_id="cell-b")
    bundle = final_bundle(session, response)
    alternatives = bundle[SESSION_MIME]["alternatives"]
    assert [a["messages"][-1]["content"] for a in alternatives] == [
        "first answer", "second answer", "third, to an edited prompt"
    ]  # fmt: skip
    assert [a["current"] for a in alternatives] == [False, False, True]
    assert all(len(a["messages"]) == 2 for a in alternatives), "each answer's turn only, not the later cell"
    assert alternatives[0]["head"] == alternatives[0]["messages"][-1]["id"]
    assert "answer 3 of 3 (%chat branches alts)" in "".join(check(bundle["text/html"]).text)
    assert_bundle(bundle)
    single = Agent(provider="echo").session("one")
    assert "alternatives" not in final_bundle(single, single.run("hi"))[SESSION_MIME]


@pytest.mark.parametrize(
    ("text", "code", "lang"),
    [
        ("no code here\n", "no code here", ""),
        ("Run this:\n```python\nprint(1)\n```\nthen that.", "print(1)", "python"),
        ("~~~js\nlet a = 1\n~~~", "let a = 1", "js"),  # a tilde fence is a fence too
        ("````md\n```inner\n````", "```inner", "md"),  # a longer fence holds a shorter one
        ("```\nunclosed\nto the end", "unclosed\nto the end", ""),
        ("    indented code is not fenced", "indented code is not fenced", ""),
    ],
)
def test_the_code_of_an_answer_is_its_first_fence_as_commonmark_reads_it(text: str, code: str, lang: str) -> None:
    """``-f code`` and the next cell it offers: markdown-it's fence tokens, no hand-made scanner."""
    from vel_jupyter.jupyter.display import _code_lang, extract_code

    assert (extract_code(text), _code_lang(text)) == (code, lang)
