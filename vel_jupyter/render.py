"""Untrusted text -> sanitized HTML: the one way model text, tool calls and prompts reach a notebook.

Three kept libraries, in this order, and nothing hand-made in between:

1. **markdown-it-py**, CommonMark preset, raw HTML **off** (``<b>`` in the text is shown as
   ``<b>``), plus its ``table`` and ``strikethrough`` rules; linkify off (a bare URL stays
   text). Its own link check already refuses ``javascript:``, ``vbscript:``, ``file:`` and
   ``data:`` destinations, in any spelling.
2. **Pygments** highlights fenced code. The colours are inline ``style`` attributes
   (``HtmlFormatter(noclasses=True)``), so code looks highlighted wherever the HTML is shown
   without our stylesheet: JupyterLab without our extension, classic Notebook, VS Code,
   nbconvert. The code box has its own light background and text colour, so it stays
   readable under a dark theme too.
3. **nh3** (Rust's ammonia) cleans the result against ``ALLOWED_TAGS`` / ``ALLOWED_ATTRIBUTES``:
   no event handlers, ``style`` only on the tags that get one and only with the properties
   in ``ALLOWED_STYLE_PROPERTIES`` (colours, fonts, alignment, spacing), ``class`` only with
   our own ``vel-*`` names, link URLs only ``http``, ``https`` or ``mailto`` and never
   relative (a relative link would point into the Jupyter server the user is logged in to).

Decisions: a Markdown **image** in model output becomes a link to it (``image: alt``): a
model must not make the browser fetch a URL of its choosing. Wrapper markup (the turn's
parts, tool lines, the usage line) is a fixed template around fragments that were already
sanitized, and the assembled HTML is cleaned once more (``assemble``), so a join can never
create markup.

The libraries are imported on first use: ``%load_ext vel_jupyter`` does not load them.
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

from .formats.text import clean_text

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_CLASSES",
    "ALLOWED_STYLE_PROPERTIES",
    "ALLOWED_TAGS",
    "INSTALL_HINT",
    "URL_SCHEMES",
    "assemble",
    "code_to_html",
    "first_code_block",
    "inline_code",
    "markdown_to_html",
    "markdown_to_text",
    "sanitize",
    "text_to_html",
]

ALLOWED_TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "li", "ol", "p", "pre", "s", "small", "span", "strong", "summary", "table", "tbody", "td",
        "th", "thead", "tr", "ul",
    }
)  # fmt: skip
# ``class`` is not listed here: ammonia checks it against ALLOWED_CLASSES instead.
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "ol": frozenset({"start"}),
    "table": frozenset({"style"}),  # our own table layout (_style_blocks)
    "td": frozenset({"style"}),  # text-align, from a table's alignment row
    "th": frozenset({"style"}),
    "pre": frozenset({"style"}),  # Pygments' code box
    "span": frozenset({"style"}),  # Pygments' token colours
    "div": frozenset({"style"}),
    "p": frozenset({"style"}),
    "details": frozenset({"style"}),
    "summary": frozenset({"style"}),
    "blockquote": frozenset({"style"}),
    "code": frozenset({"style"}),  # inline code's tint (_style_blocks)
}
ALLOWED_STYLE_PROPERTIES = frozenset(
    {
        "background-color", "border", "border-bottom", "border-collapse", "border-left", "border-radius",
        "color", "font-size", "font-style", "font-weight", "line-height", "margin", "margin-top", "margin-bottom", "overflow-x", "padding",
        "text-align", "text-decoration", "text-transform", "white-space",
    }
)  # fmt: skip
ALLOWED_CLASSES: dict[str, frozenset[str]] = {
    "div": frozenset(
        {"vel-turn", "vel-answer", "vel-tools", "vel-show", "vel-msg", "vel-export", "vel-tree", "vel-tree-row"}
    ),
    "p": frozenset(
        {
            "vel-note",
            "vel-usage",
            "vel-role",
            "vel-tool",
            "vel-stale",
            "vel-tree-title",
            "vel-tree-sessions",
            "vel-tree-note",
        }
    ),
    "details": frozenset({"vel-prompt", "vel-tree-fork"}),
    "pre": frozenset({"vel-code", "vel-text"}),
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
INSTALL_HINT = "notebook output needs markdown-it-py, nh3 and pygments, which vel-jupyter depends on: reinstall it (pip install vel-jupyter)"

# Pygments' own light style; its colours are inline, on a box that keeps its light background.
PYGMENTS_STYLE = "default"
_CODE_BOX = (
    "background-color: #f6f8fa; color: #1f2328; padding: 8px 12px; border-radius: 4px; "
    "overflow-x: auto; line-height: 1.4; font-size: 0.92em"
)
_TEXT_BOX = "white-space: pre-wrap; margin: 0"


def sanitize(fragment: str) -> str:
    """``fragment`` cleaned against the allowlist (tags, attributes, classes, styles, URL schemes)."""
    try:
        import nh3
    except ImportError:
        raise _missing() from None
    return nh3.clean(
        clean_text(fragment),  # (nh3 cannot encode a lone surrogate: the one text rule first)
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        allowed_classes={tag: set(names) for tag, names in ALLOWED_CLASSES.items()},
        filter_style_properties=set(ALLOWED_STYLE_PROPERTIES),
        url_schemes=set(URL_SCHEMES),
        url_relative="deny",
        clean_content_tags={"script", "style"},
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
    )


def markdown_to_html(text: str) -> str:
    """Untrusted Markdown (a model's answer) as sanitized HTML; raw HTML in it is shown as text."""
    return sanitize(_parser().render(text))


PREVIEW_SOURCE = 2000  # characters of Markdown a one-line preview is read from


def markdown_to_text(text: str, limit: int | None = None) -> str:
    """The words a reader sees once ``text`` is rendered, on one line: a preview without
    Markdown's marks (``## Title``, ``**bold**``, fences, pipes, link targets).

    Read from markdown-it-py's tokens, never by pattern; only the first ``PREVIEW_SOURCE``
    characters are parsed (a preview shows far fewer). Clipped to ``limit`` with an ellipsis.
    Plain text: whoever shows it must still escape it.
    """
    words: list[str] = []
    for token in _parser().parse(text[:PREVIEW_SOURCE]):
        if token.type == "inline":
            for child in token.children or []:
                if child.type in ("text", "code_inline"):
                    words.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    words.append(" ")
        elif token.type in ("fence", "code_block"):
            words.append(f" {token.content} ")
        elif token.nesting == -1 and token.block:  # the end of a paragraph, heading, cell, item
            words.append(" ")
    flat = " ".join("".join(words).split())
    if limit is not None and len(flat) > limit:
        return flat[: max(0, limit - 1)].rstrip() + "…"
    return flat


def first_code_block(text: str) -> tuple[str, str] | None:
    """The first fenced code block of Markdown ``text`` as ``(code, language)``, read from
    markdown-it-py's fence tokens (``` or ~~~, any length, unclosed at the end); None when it has none."""
    for token in _parser().parse(text):
        if token.type == "fence":
            return token.content.rstrip("\n"), token.info.strip().split(" ")[0]
    return None


def text_to_html(text: str) -> str:
    """Untrusted text shown exactly as written (never as markup), in a wrapping ``<pre>``."""
    return sanitize(f'<pre class="vel-text" style="{_TEXT_BOX}">{html.escape(text, quote=False)}</pre>')


def inline_code(text: str) -> str:
    """Untrusted text as one inline ``<code>`` (a tool name, its arguments)."""
    return sanitize(f"<code>{html.escape(text, quote=False)}</code>")


def code_to_html(code: str, lang: str = "") -> str:
    """``code`` highlighted by Pygments as ``lang`` (plain when unknown), sanitized."""
    return sanitize(_highlight(code, lang))


def assemble(template: str, **fragments: str) -> str:
    """A fixed ``template`` (our markup, ``{name}`` slots) filled with already-sanitized
    ``fragments``, and cleaned once more: joining can never create markup."""
    return sanitize(template.format(**fragments))


def _missing() -> Exception:
    from .errors import ConfigurationError

    return ConfigurationError(INSTALL_HINT)


def _highlight(code: str, lang: str) -> str:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import TextLexer, get_lexer_by_name
        from pygments.util import ClassNotFound
    except ImportError:
        raise _missing() from None

    name = (lang or "").strip().split()[0].lower() if (lang or "").strip() else ""
    lexer: Any
    try:
        lexer = get_lexer_by_name(name, stripnl=False, ensurenl=False) if name else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    formatter = HtmlFormatter(noclasses=True, nowrap=True, style=PYGMENTS_STYLE)
    body = highlight(code, lexer, formatter)
    return f'<pre class="vel-code" style="{_CODE_BOX}"><code>{body}</code></pre>'


@lru_cache(maxsize=1)
def _parser() -> Any:
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        raise _missing() from None

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.options["highlight"] = lambda code, lang, attrs: _highlight(code, lang)
    md.core.ruler.push("vel_images_to_links", _images_to_links)
    md.core.ruler.push("vel_style_blocks", _style_blocks)
    return md


_TABLE_STYLE = "border-collapse: collapse; margin: 8px 0"
_CELL_STYLE = "padding: 4px 12px; border-bottom: 1px solid #d0d7de"


_QUOTE_STYLE = "margin: 8px 0; padding: 0 12px; border-left: 3px solid #d0d7de; color: #57606a"
_INLINE_CODE_STYLE = "background-color: rgba(127, 127, 127, 0.15); padding: 1px 4px; border-radius: 4px"


def _style_blocks(state: Any) -> None:
    """Tables, quotes and inline code get inline styles of their own (fixed strings, never text
    from the answer), so they read well where no stylesheet styles them."""
    for token in state.tokens:
        if token.type == "inline":
            for child in token.children or []:
                if child.type == "code_inline":
                    child.attrSet("style", _INLINE_CODE_STYLE)
        elif token.type == "blockquote_open":
            token.attrSet("style", _QUOTE_STYLE)
        elif token.type == "table_open":
            token.attrSet("style", _TABLE_STYLE)
        elif token.type in ("th_open", "td_open"):
            align = token.attrGet("style")
            token.attrSet("style", f"{align}; {_CELL_STYLE}" if align else _CELL_STYLE)


def _images_to_links(state: Any) -> None:
    """Every image token becomes a link to the image (text ``image: alt``): nothing is fetched."""
    from markdown_it.token import Token

    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Any] = []
        for token in block.children:
            if token.type != "image":
                children.append(token)
                continue
            src = str(token.attrGet("src") or "")
            alt = "".join(child.content for child in token.children or []) or src
            opening = Token("link_open", "a", 1)
            opening.attrSet("href", src)
            text = Token("text", "", 0)
            text.content = f"image: {alt}"
            children += [opening, text, Token("link_close", "a", -1)]
        block.children = children
