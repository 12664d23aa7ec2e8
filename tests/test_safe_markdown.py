"""safe_markdown(): untrusted model output renders as Markdown, never as HTML or script.

Outputs are rendered with markdown-it-py (CommonMark with raw HTML enabled, plus GFM
tables and strikethrough) with its own link validation switched off, so the checks
see what this module lets through, not what markdown-it would have blocked anyway.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import markdown_it
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vel_jupyter.jupyter.safe_markdown import safe_markdown

_MD = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
_MD.validateLink = lambda url: True  # every link reaches the HTML: ours must be safe


def render(text: str) -> str:
    return _MD.render(text)


# What Markdown itself produces; anything else came from raw HTML.
_TAGS = {
    "p", "em", "strong", "code", "pre", "a", "img", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li",
    "blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "s",
}  # fmt: skip
_ATTRIBUTES = {"href", "src", "alt", "title", "class", "start", "style"}
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")


def url_is_safe(url: str) -> bool:
    # What a browser takes for the scheme: tabs and newlines dropped anywhere,
    # control characters and spaces trimmed.
    cleaned = "".join(c for c in url if c not in "\t\n\r").strip("".join(map(chr, range(0x21))))
    m = _SCHEME.match(cleaned)
    return m is None or m.group(1).lower() in {"http", "https", "mailto"}


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            self.problems.append(f"element <{tag}>")
        for name, value in attrs:
            if name not in _ATTRIBUTES:
                self.problems.append(f"attribute {name} on <{tag}>")
            if name in ("href", "src") and value is not None and not url_is_safe(value):
                self.problems.append(f"{name}={value!r}")
            if name == "style" and not re.fullmatch(r"text-align:(left|right|center)", value or ""):
                self.problems.append(f"style={value!r}")

    handle_startendtag = handle_starttag

    def handle_comment(self, data: str) -> None:
        self.problems.append("comment")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("declaration")

    def handle_pi(self, data: str) -> None:
        self.problems.append("processing instruction")

    def unknown_decl(self, data: str) -> None:
        self.problems.append("declaration")


def problems(rendered: str) -> list[str]:
    checker = _Checker()
    checker.feed(rendered)
    checker.close()
    found = checker.problems
    # The same, as plain patterns over the HTML, in case the parser is lenient.
    for pattern in (r"<script", r"<iframe", r"<svg", r"<object", r"<embed", r"<details", r"<style", r"<math"):
        if re.search(pattern, rendered, re.IGNORECASE):
            found.append(pattern)
    for tag in re.findall(r"<[^>]*>", rendered):
        if re.search(r"\son\w+\s*=", tag, re.IGNORECASE):
            found.append(f"event handler in {tag}")
        if re.search(r"""(?:href|src)\s*=\s*["']?\s*(?:javascript|vbscript|data|file):""", tag, re.IGNORECASE):
            found.append(f"script URL in {tag}")
        if tag.lower().startswith("<img") and not re.fullmatch(
            r'<img src="[^"]*" alt="[^"]*"(?: title="[^"]*")? />', tag
        ):
            found.append(f"not a Markdown image: {tag}")
    return found


def assert_inert(text: str) -> str:
    out = safe_markdown(text)
    rendered = render(out)
    assert problems(rendered) == [], (text, out, rendered)
    return rendered


def code_texts(rendered: str) -> list[str]:
    return [html.unescape(c) for c in re.findall(r"<code[^>]*>(.*?)</code>", rendered, re.DOTALL)]


# Hostile input ------------------------------------------------------------------

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x OnError=alert(1)>",
    "<img\nsrc=x\nonerror=alert(1)>",
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<a href="javascript:alert(1)">x</a>',
    "<a href=javascript:alert(1)>x</a>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x]( javascript:alert(1))",
    "[x](\njavascript:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](<java\tscript:alert(1)>)",
    "[x](<javascript:alert(1)>)",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript&#x3A;alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](jav&#x09;ascript:alert(1))",
    "[x](jav&Tab;ascript:alert(1))",
    "[x](&amp;#106;avascript:alert(1))",
    "[x](java\\script:alert(1))",
    "[x](javascript:alert((1)))",
    '[x](javascript:alert(1) "title")',
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](file:///etc/passwd)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[x][r]\n\n[r]: javascript:alert(1)",
    "[r]\n\n[r]:\n  javascript:alert(1)",
    "[r]\n\n[r]: <javascript:alert(1)>",
    "- [r]\n\n  [r]: javascript:alert(1)",
    "> [r]\n>\n> [r]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<iframe srcdoc='<script>alert(1)</script>'>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<!-- <img src=x onerror=alert(1)> -->",
    "<![CDATA[<img src=x onerror=alert(1)>]]>",
    "<?php echo 1 ?>",
    "<div\nonclick=alert(1)>x</div>",
    "&lt;img src=x onerror=alert(1)&gt;",
    "\\<img src=x onerror=alert(1)>",
    "**<img src=x onerror=alert(1)>**",
    "# <svg onload=alert(1)>",
    "> <img src=x onerror=alert(1)>",
    "- <img src=x onerror=alert(1)>",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    # code that is not certainly code must not smuggle HTML out
    "`x\n<img src=x onerror=alert(1)>`",
    "a `x\nb` <img src=x onerror=alert(1)> `",
    "[a](/u '\n`') <img src=x onerror=alert(1)> `",
    "[a](`x) <img src=x onerror=alert(1)> `",
    "[a][`b] <img src=x onerror=alert(1)> `\n\n[`b]: /u",
    "[`]: javascript:alert(1)`\n\n[`]",
    "| a | b |\n|---|---|\n| `x | <img src=x onerror=alert(1)> | y` |",
    "http://x.example/`<img src=x onerror=alert(1)>`",
    "~`<img src=x onerror=alert(1)>`",
    "- ```\n  x\n  ```\n  <img src=x onerror=alert(1)>",
    "- a\n  ```\nx\n<img src=x onerror=alert(1)>\n  ```",
    "```\na\n    ```\n```\n<img src=x onerror=alert(1)>",
    "para\n    ~~~\n    <img src=x onerror=alert(1)>",
    "para\n    ~~~\n<img src=x onerror=alert(1)>",
    "> ```\n> x\n\n<img src=x onerror=alert(1)>\n```",
    "1. a\n    ```\n   ```\n   <img src=x onerror=alert(1)>",
    "-    a\n  ~~~\n\n   <img src=x onerror=alert(1)>",
    "```\tx\n<img src=x onerror=alert(1)>\n```\t\n<img src=x onerror=alert(1)>",
    "~~~\n<img src=x onerror=alert(1)>\n~~~\r<script>alert(1)</script>",
    "```\r\n<b>ok</b>\r\n```\r\n<img src=x onerror=alert(1)>",
]


# Layouts that markdown-it reads as code but another renderer does not: marked
# (JupyterLab), mistune (nbconvert) or markdown-it itself where GFM tables win over
# fences. The payload must come out escaped, whatever markdown-it makes of it.
OTHER_RENDERERS = [
    "[a]: /u '\n```\n'\n<img src=x onerror=alert(1)>",  # mistune: a title over lines
    "[a]: /u (\n```\n)\n<img src=x onerror=alert(1)>",
    "[\n\nx]:\n```\n<img src=x onerror=alert(1)>",  # mistune: a label over a blank line
    "~~~|x\n|---|\n<img src=x onerror=alert(1)>",  # markdown-it: a table, not a fence
    "- ```|x\n|---|\n  <img src=x onerror=alert(1)>",
    "1)  ```\n[r]: /u\n   ```\n   <img src=x onerror=alert(1)>",  # mistune: lazy fence lines
    "-    a\n  ~~~\n\n   <img src=x onerror=alert(1)>",
    "1.  `x`\n    ```\n   ```\n   <img src=x onerror=alert(1)>",
    "~`<img src=x onerror=alert(1)>`",  # marked: "~`" is text
    "http://x.example/`<img src=x onerror=alert(1)>`",  # marked: the URL takes the "`"
    "www.x.example`<img src=x onerror=alert(1)>`",
    "[a](/u '`') <img src=x onerror=alert(1)> `'",
    "```\ta\n<b>\n```\t\n<img src=x onerror=alert(1)>",  # marked: no tab after a closing fence
    "```\n<b>\n```~~\n<img src=x onerror=alert(1)>",  # marked: "```~~" closes
    "- a\n\t```\n\t<b>\n  \t```\n  <img src=x onerror=alert(1)>",
]


@pytest.mark.parametrize("text", OTHER_RENDERERS)
def test_layouts_other_renderers_read_differently_are_escaped(text: str) -> None:
    out = safe_markdown(text)
    assert "<img" not in out, out
    assert_inert(text)


def test_definition_label_over_a_blank_line() -> None:
    # marked and mistune read this as a definition; CommonMark does not.
    assert safe_markdown("[\n\nx]: javascript:alert(1)\n\n[x]") == "[\n\nx]: #\n\n[x]"
    assert safe_markdown("Note [1]: Warning: x") == "Note [1]: Warning: x"  # prose stays


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_is_inert(text: str) -> None:
    rendered = assert_inert(text)
    for tag in re.findall(r"<[^>]*>", rendered):
        assert "alert" not in tag, rendered


@pytest.mark.parametrize(
    "text",
    [t for t in HOSTILE if t.startswith(("[x](", "![x](", "[x][r]", "[r]\n"))],
)
def test_unsafe_destinations_become_hash(text: str) -> None:
    rendered = render(safe_markdown(text))
    assert re.search(r'(?:href|src)="#"', rendered), rendered


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a_(b)?q=1&r=2#f",
        "https://example.com",
        "HTTPS://EXAMPLE.COM",
        "mailto:a@example.com",
        "/relative/path",
        "#anchor",
        "relative.html",
        "../up",
        "//example.com/x",
        "?q=1",
    ],
)
def test_safe_destinations_are_kept(url: str) -> None:
    rendered = assert_inert(f"[link]({url}) and ![img]({url})\n\n[ref]\n\n[ref]: {url}")
    expected = html.escape(_MD.normalizeLink(url))
    assert rendered.count(f'href="{expected}"') == 2, rendered
    assert f'src="{expected}"' in rendered, rendered


def test_html_is_shown_as_text() -> None:
    assert safe_markdown("a < b & c > d") == "a &lt; b &amp; c &gt; d"
    assert render(safe_markdown("<b>bold</b>")) == "<p>&lt;b&gt;bold&lt;/b&gt;</p>\n"
    assert render(safe_markdown("Tom &amp; Jerry")) == "<p>Tom &amp;amp; Jerry</p>\n"  # shown as typed
    assert render(safe_markdown("\\<b>")) == "<p>&lt;b&gt;</p>\n"


# Code stays verbatim ---------------------------------------------------------------

CODE = "if a < b && c > d:\n    print('<b>&amp;</b>')"


@pytest.mark.parametrize(
    "text",
    [
        f"```\n{CODE}\n```",
        f"```python\n{CODE}\n```",
        f"~~~\n{CODE}\n~~~",
        f"````md\n{CODE}\n```\n````",  # a shorter fence inside does not close it
        f"Intro:\n\n```html\n{CODE}\n```\n\nAfter: a < b",
        "1. Install:\n   ```bash\n   " + CODE.replace("\n", "\n   ") + "\n   ```\n2. Next",
        "- Run:\n  ```\n  " + CODE.replace("\n", "\n  ") + "\n  ```",
        "* Step one\n    ```sh\n    " + CODE.replace("\n", "\n    ") + "\n    ```",
        "1. Step\n\n    ```\n    " + CODE.replace("\n", "\n    ") + "\n    ```",
        "- ```\n  " + CODE.replace("\n", "\n  ") + "\n  ```\n- next",
        "1. ~~~py\n   " + CODE.replace("\n", "\n   ") + "\n   ~~~",
        "1. Step\n   - Run:\n     ```sh\n     " + CODE.replace("\n", "\n     ") + "\n     ```\n   - next",
        "- a\n  - ```\n    " + CODE.replace("\n", "\n    ") + "\n    ```",
        "- a\n\n    - b\n\n      ```\n      " + CODE.replace("\n", "\n      ") + "\n      ```",
        f"```\n{CODE}",  # unclosed: code to the end
    ],
)
def test_fenced_code_is_verbatim(text: str) -> None:
    rendered = assert_inert(text)
    assert any(CODE in t for t in code_texts(rendered)), rendered


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Compare `a < b && c > d` here.", "a < b && c > d"),
        ("Use ``a ` <b>`` then.", "a ` <b>"),
        ("`<img src=x onerror=alert(1)>`", "<img src=x onerror=alert(1)>"),
        ("`&amp;` is an entity", "&amp;"),
        ('See [docs](https://example.com "Docs") and `List<int>`.', "List<int>"),
        ("[`Vec<T>`](https://doc.rust-lang.org/std/vec/struct.Vec.html)", "Vec<T>"),
        ("# Heading with `<h1>`", "<h1>"),
        ("> quote with `a && b`", "a && b"),
        ("- item `x<y>`", "x<y>"),
        ("| op |\n|----|\n| `<` |\n| `&&` |", "<"),
        ("A paragraph\nover lines with `<tag>` in it", "<tag>"),
        ("\\`not code\\` but `<this>` is", "<this>"),
        ("\\`not code` but `<this>` is", "but"),  # as CommonMark pairs them
        ("see http://x.example/a `<b>` then", "<b>"),
    ],
)
def test_inline_code_is_verbatim(text: str, code: str) -> None:
    rendered = assert_inert(text)
    assert code in code_texts(rendered), rendered


def test_fence_info_string_is_escaped() -> None:
    rendered = assert_inert('```"><img src=x onerror=alert(1)>\ncode\n```')
    assert code_texts(rendered) == ["code\n"]


@pytest.mark.parametrize(
    "text",
    [
        "> ```\n> <b>\n> ```\n\nafter `<i>`",  # a fence in a block quote
        "- a\n      - ```\n        <b>\n        ```\n\nafter `<i>`",  # no list item: text of "a"
        "1. a\n   2. ```\n   <b>\n\nafter `<i>`",  # "2." cannot interrupt "a": text
        "para\n    ```\n    <b>\n    ```\n\nafter `<i>`",  # no fence: paragraph text
    ],
)
def test_uncertain_code_is_escaped_not_raw(text: str) -> None:
    # A fence this module cannot be sure every renderer sees is not followed: its
    # lines are escaped (a renderer may then show "&lt;" in the code), which is safe.
    out = safe_markdown(text)
    assert "&lt;b&gt;" in out
    assert out.endswith("after `<i>`")  # a blank line, then a line in column 0, end the doubt
    assert_inert(text)


# Ordinary Markdown still works ----------------------------------------------------


def test_ordinary_markdown_renders() -> None:
    text = (
        "# Title\n\n## Sub\n\nSome *emphasis*, **strong**, ~~gone~~ and a [link](https://example.com).\n\n"
        "- one\n- two\n  - nested\n\n1. first\n2. second\n\n> a quote\n> > nested quote\n\n"
        '| a | b |\n|:--|--:|\n| 1 | 2 |\n\n---\n\n![alt](https://example.com/i.png "t")\n'
    )
    rendered = assert_inert(text)
    for fragment in [
        "<h1>Title</h1>",
        "<h2>Sub</h2>",
        "<em>emphasis</em>",
        "<strong>strong</strong>",
        "<s>gone</s>",
        '<a href="https://example.com">link</a>',
        "<ul>",
        "<li>nested</li>",
        "<ol>",
        "<blockquote>\n<p>a quote</p>\n<blockquote>\n<p>nested quote</p>",
        "<table>",
        '<th style="text-align:left">a</th>',
        "<hr />",
        '<img src="https://example.com/i.png" alt="alt" title="t" />',
    ]:
        assert fragment in rendered, (fragment, rendered)


def test_text_without_special_characters_is_unchanged() -> None:
    text = "# T\n\n- a *b* [c](https://x.example) `d`\n\n```py\nprint(1)\n```\n"
    assert safe_markdown(text) == text


def test_a_bug_falls_back_to_escaping_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    from vel_jupyter.jupyter import safe_markdown as module

    def broken(text: str) -> str:
        raise IndexError("bug")

    monkeypatch.setattr(module, "_safe_markdown", broken)
    out = safe_markdown("<img src=x onerror=alert(1)> [x](javascript:alert(1)) `a<b`")
    assert out == "&lt;img src=x onerror=alert(1)&gt; \\[x](javascript:alert(1)) `a&lt;b`"
    assert_inert("<img src=x onerror=alert(1)> [x](javascript:alert(1))")


def test_line_endings_are_normalized() -> None:
    assert safe_markdown("a\r\nb\rc\n") == "a\nb\nc\n"


# Properties ---------------------------------------------------------------------

_PAYLOADS = [
    "<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "<svg onload=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>", "<!--", "<x", "<details open ontoggle=alert(1)>",
]  # fmt: skip
_PIECES = [
    "`", "``", "```", "````", "~~~", "~", "\n", "\n\n", " ", "   ", "    ", "\t", "> ", ">", "- ", "* ", "1. ",
    "2) ", "|", "\\", "[", "]", "(", ")", "](", "]:", "][", "<", ">", "&", "&#106;", "&#x3a;", "javascript:",
    "alert(1)", "http://x.example/", "www.x.example", "'", '"', "a", "#", "---", "![", "\r", "\x00", "$",
    "```py", "~~~ x", "[l]: ", "[l]", "| a | b |", "|---|---|", "*", "_", "java\tscript:",
]  # fmt: skip
_MARKDOWNISH = st.lists(st.sampled_from(_PIECES + _PAYLOADS), max_size=40).map("".join)
_LINES = st.lists(
    st.tuples(
        st.sampled_from(
            ["", "", " ", "  ", "   ", "    ", "      ", "\t", "> ", "- ", "  - ", "1. ", "   1. ", "* ", "-    "]
        ),
        st.lists(st.sampled_from(_PIECES + _PAYLOADS), max_size=6).map("".join),
    ).map("".join),
    max_size=14,
).map("\n".join)


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.text(), _MARKDOWNISH, _LINES))
def test_rendered_output_is_always_inert(text: str) -> None:
    out = safe_markdown(text)
    rendered = render(out)
    assert problems(rendered) == [], (text, out, rendered)
    lowered = rendered.lower()
    for marker in ("<script", "<iframe", "<svg"):
        assert marker not in lowered
    for tag in re.findall(r"<[^>]*>", lowered):
        assert not re.search(r"""(?:href|src)=["']?javascript:""", tag), tag


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="`~<>&[]\\\r*_#-+=|!:")))
def test_plain_text_passes_through(text: str) -> None:
    # No character with a Markdown or HTML meaning that this module touches: unchanged.
    assert safe_markdown(text) == text


def test_linear_time_on_a_megabyte() -> None:
    cases = [
        "`a" * 500_000,
        "](" * 500_000,
        "](a" * 330_000,
        "[a]: javascript:x\n" * 55_000,
        "<" * 1_000_000,
        "```\n<x>\n" * 150_000,
        "- ```\n<x>\n" * 150_000,
        "~`a` " * 200_000,
        "http://x" + "`a`" * 300_000,
        '[a](b "' * 150_000,
        "](" + "a" * 1_000_000,
        "".join("`" * k + "x" for k in range(1, 1400)),
        ('# T\n\nSome `code <x>` and [l](http://x.example "t").\n\n```py\nx < y\n```\n\n') * 15_000,
    ]
    for text in cases:
        # No wall-clock assert (shared machines): backtracking blow-ups hit pytest's timeout.
        assert isinstance(safe_markdown(text), str)
