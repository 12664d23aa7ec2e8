"""Make untrusted model output inert before it is displayed as ``text/markdown``.

``safe_markdown(text)`` keeps Markdown working (headings, lists, emphasis, tables,
block quotes, code, http/https/mailto links and images) and makes sure that no
CommonMark renderer can turn the result into an HTML element or attribute the
text did not ask for as Markdown. It is written against the CommonMark spec and
the places where markdown-it, marked (JupyterLab) and mistune (nbconvert) read
Markdown differently from it:

* Outside code, ``&``, ``<`` and ``>`` become ``&amp;``, ``&lt;`` and ``&gt;``, so raw
  HTML (``<img onerror=...>``, ``<script>``, ``<iframe>``, ...) and autolinks are shown
  as text. A ``>`` in the container prefix of a line (``> quote``, ``- > x``) stays:
  it is a block quote marker and cannot start markup.
* The destination of an inline link or image ``[t](url)`` / ``![a](url)`` and of a
  reference definition ``[id]: url`` is replaced by ``#`` unless it is relative
  (``/x``, ``#x``, ``x.html``) or its scheme is ``http``, ``https`` or ``mailto``. The
  scheme is read the way a browser would after the renderer decoded it: entities
  decoded, backslashes, whitespace and control characters removed, any case
  (``JaVaScRiPt:``, ``java&#9;script:``, ``&#106;avascript:``).
* Code is left byte for byte (entities are not decoded in code, so escaping there
  would show ``&lt;``): fenced code blocks and inline code spans. Leaving text raw
  is only safe where *every* renderer agrees that it is code, so this module
  leaves it raw only where that is certain and escapes everywhere else; an odd
  layout costs at worst a visible ``&lt;`` inside some code, never markup:

  - a fence is followed when nothing but up to 3 spaces comes before it, or when
    it is in a list item every renderer sees: on the item's first line
    (``- ````) or on a later line indented like the item's text (up to 3 more
    spaces). It ends at a closing fence every renderer accepts (same character,
    at least as long, spaces only), or where its list item certainly ends (a
    blank line, then a line indented less than the item's text). A line on which
    renderers could disagree (a tab in the indentation that matters, a line
    indented less than the fence with no blank line before it, a closing fence
    only some renderers accept, a fence line that mistune could read into a link
    definition or markdown-it into a table) ends following: everything after it
    is escaped.
  - a fence after a ``>``, or indented 4 or more with no list item to explain it,
    is not followed: the lines after it are escaped until a blank line followed
    by a line that starts in column 0 with neither whitespace nor ``>``, which
    ends any such fence in every renderer.
  - an inline code span is left raw when its backtick runs match on one line (per
    CommonMark: equal-length runs), it contains no ``|`` (a table cell boundary),
    and nothing earlier in its paragraph could make a renderer read its opening
    backticks as something else (a link destination, title or label with
    backticks or spaces, a code span over several lines, a URL running into it,
    a ``~`` right before it).

Indented code blocks are escaped (they then show ``&lt;`` for ``<``): telling them
from list item continuations needs a full block parser.

Markdown images with an http(s) URL are kept, as Markdown: the notebook then loads
them, so the model can make the browser fetch a URL of its choosing.

``safe_markdown`` never raises and runs in time about linear in the length of the
text. Line endings are normalized to ``\\n``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_left

__all__ = ["safe_markdown"]

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
# How much of a destination is read to find its scheme; a destination that still
# looks like the start of a scheme after that many characters is treated as unsafe.
_SCHEME_WINDOW = 256

# A fence: indentation, then ``` or ~~~ (an info string of a backtick fence cannot
# contain a backtick, else the line is not a fence).
_FENCE_RE = re.compile(r"([ \t]*)(`{3,}|~{3,})(.*)")
# A line that might open a fence in some container: any mix of whitespace, ">" and
# list markers before ``` or ~~~.
_MAYBE_FENCE_RE = re.compile(r"(?:[ \t>]|[-+*][ \t]|[0-9]{1,9}[.)][ \t])*(?:```|~~~)")
# The container prefix of a line: indentation, block quote markers, list markers.
_PREFIX_RE = re.compile(r"(?:[ \t]*(?:>|[-+*](?=[ \t\n]|$)|[0-9]{1,9}[.)](?=[ \t\n]|$)))*[ \t]*")
# The start of a link reference definition: a label of at most 999 characters.
_DEFINITION_RE = re.compile(r"\[((?:[^\[\]\\]|\\.){0,999})\]:", re.DOTALL)
# An inline link tail that holds no backtick and ends where every renderer ends it:
# a destination (balanced parentheses one deep) and an optional quoted title on one
# line (no brackets either, so that matching it at every "](" takes linear time).
_SIMPLE_TAIL_RE = re.compile(
    r"""\([ \t]*(?:[^\s`"'()<>\[\]\\]|\([^\s`"'()<>\[\]\\]*\))*"""
    r"""(?:[ \t]+(?:"[^"`\\\n\[\]]*"|'[^'`\\\n\[\]]*'))?[ \t]*\)"""
)
# A full reference link label that can hold no backtick.
_SIMPLE_LABEL_RE = re.compile(r"\[[^\[\]`\\]*\]")
# Whitespace between "](" or "]:" and the destination (a destination may start on
# the next line).
_DESTINATION_GAP_RE = re.compile(r"[ \t]*(?:\n[ \t>]*)?")
_WINDOW_RE = re.compile(rf"[^()\n\"'<>]{{0,{_SCHEME_WINDOW}}}")
# What may follow a destination in a link or definition: a title or the end.
_LINK_END_RE = re.compile(r"[ \t]*(?:[)\n\"'(]|$)")
_HASH = {False: "#", True: "\\#"}
_BRACKET_RE = re.compile(r"[\\\[\]]")
_SPECIAL_RE = re.compile(r"[\n\\`\]<>&]")
_BACKTICKS_RE = re.compile(r"`+")
_TOKEN_RE = re.compile(r"\S+")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_SCHEME_PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")


def safe_markdown(text: str) -> str:
    """Return ``text`` as Markdown that renders without raw HTML or unsafe links.

    See the module docstring for what is kept and what is escaped. Never raises.
    """
    try:
        return _safe_markdown(text)
    except Exception:  # a bug here must not show untrusted HTML: escape everything
        return _escape_everything(text)


def _escape_everything(text: str) -> str:
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return out.replace("[", "\\[")


# Block structure ---------------------------------------------------------------
#
# States of the line scanner:
#   _TEXT     renderers are certainly not in code;
#   _CODE     renderers are certainly in the fenced code block opened at _TEXT, whose
#             container (a list item, or none) starts at a column known to lie in
#             [container_min, container_max];
#   _MAYBE    renderers may be in a fence opened after a container marker or deep
#             indentation; such a fence, if it is one, is inside a list item or a
#             block quote, so a line starting in column 0 with anything but
#             whitespace or ">" ends it. CommonMark ends it at any such line; some
#             renderers (mistune) read a fence's lines lazily into a list item, and
#             end it only at such a line after a blank line, so that is where
#             _MAYBE ends;
#   _LOST     a followed fence may or may not have ended: escape to the end.

_TEXT, _CODE, _MAYBE, _LOST = range(4)

# A line that may open (or close) a top-level fence.
_TOP_FENCE_RE = re.compile(r" {0,3}(?:```|~~~)")
# A list item that starts with a fence (group 1: indentation, marker and spaces,
# 2: the fence, 3: the info string).
_ITEM_FENCE_RE = re.compile(r"( *(?:[-+*]|[0-9]{1,9}[.)]) {1,4})(`{3,}|~{3,})(.*)")
# A list item with text on its line: its marker, and the spaces (1 to 4) after it,
# which put its text at a known column.
_LIST_ITEM_RE = re.compile(r"(?:[-+*]|[0-9]{1,9}[.)]) {1,4}(?=[^ \t])")
_DIGITS_RE = re.compile(r"[0-9]+")
# Content that opens another container (a nested list item or block quote), whose
# content column would be another one.
_CONTAINER_START_RE = re.compile(r">|[-+*](?:[ \t]|$)|[0-9]{1,9}[.)](?:[ \t]|$)")
# A table's delimiter row, loosely: "|", ":", "-" and whitespace.
_DELIMITER_ROW_RE = re.compile(r"[ \t]*[|:\-][ \t|:\-]*")
_THEMATIC_BREAK_RE = re.compile(r"([-*_])(?:[ \t]*\1){2,}[ \t]*")


def _safe_markdown(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    run: list[str] = []  # consecutive text lines, escaped together (one paragraph or more)
    run_tainted: list[bool] = []
    state = _TEXT
    fence_char = ""
    fence_length = 0
    container_min = container_max = 0
    # Content column of the list item started by the last non-blank line, if any.
    item_column: int | None = None
    # Whether the previous line ended any paragraph (start, blank line, closing fence).
    after_break = True
    # Column where the text of the previous line starts, if it was a text line.
    text_column: int | None = None
    definition = _DefinitionZone()

    # Whether a definition's label, opened in an earlier run, is open as the
    # current run starts (some renderers let a label run over blank lines).
    run_in_label = False
    label_open = False

    def flush() -> None:
        if run:
            out.append(_escape_run(run, run_tainted, run_in_label))
            run.clear()
            run_tainted.clear()

    def add_text(line: str, tainted: bool) -> None:
        nonlocal run_in_label
        if not run:
            run_in_label = label_open
        run.append(line)
        run_tainted.append(tainted)

    def add_raw(line: str) -> None:
        flush()
        out.append(line)

    for number, line in enumerate(lines):
        after_blank = number == 0 or _is_blank(lines[number - 1])
        label_open = definition.label >= 0
        if state == _CODE:
            if _is_blank(line):
                add_raw(line)
                continue
            indent = _indent(line)
            leading = line[: len(line) - len(line.lstrip(" \t"))]
            if "\t" in leading[:container_max]:
                # Renderers count tabs differently when they decide whether a line
                # is still inside a list item (spaces first, then tabs, is fine).
                state = _LOST
                add_text(line, True)
                continue
            if indent < container_min and not after_blank:
                # CommonMark ends the list item, and the fence with it; some renderers
                # take the line as a lazy continuation, still code.
                state = _LOST if _TOP_FENCE_RE.match(line) else _MAYBE
                add_text(line, True)
                continue
            if indent < container_min:
                state = _TEXT  # the list item ended, and the fence with it: read as text
                item_column = text_column = None
                after_break = True
            elif indent < container_max:
                # Either still code or the list item that held the fence ended.
                state = _LOST
                add_text(line, True)
                continue
            else:
                stripped = line[len(leading) :]
                if stripped.startswith(fence_char * fence_length):
                    rest = stripped.lstrip(fence_char)
                    if "\t" not in leading and indent <= container_min + 3 and rest.strip(" ") == "":
                        add_raw(line)  # the closing fence
                        state = _TEXT
                        item_column = text_column = None
                        after_break = True
                        continue
                    if all(c.isspace() or c in "`~" for c in rest) and (
                        indent < container_max + 4 or ("\t" in leading and container_max > 0)
                    ):
                        state = _LOST  # a closing fence for some renderers only
                        add_text(line, True)
                        continue
                add_raw(line)
                continue

        if state == _MAYBE:
            if _TOP_FENCE_RE.match(line):
                # If what opened _MAYBE was no fence, this one is, and it is top level:
                # no line in column 0 would end it.
                state = _LOST
                add_text(line, True)
                continue
            if after_blank and line and not line[0].isspace() and line[0] != ">":
                state = _TEXT  # falls through: this line is read as text
                item_column = None
            else:
                definition.feed(line)
                if _is_blank(line):
                    add_raw(line)
                else:
                    add_text(line, True)
                continue

        if state == _LOST:
            if _is_blank(line):
                add_raw(line)
            else:
                add_text(line, True)
            continue

        # _TEXT
        fence = _FENCE_RE.fullmatch(line)
        if fence is not None and fence.group(2)[0] == "`" and "`" in fence.group(3):
            fence = None  # "```a`b" is inline code, not a fence
        if fence is not None and "\t" in fence.group(1):
            fence = None  # renderers disagree on tabs: left to _MAYBE
        if fence is not None:
            indent = len(fence.group(1))
            if item_column is not None and item_column <= indent <= item_column + 3:
                container_min = container_max = item_column
            elif indent <= 3:
                # In the container whose text starts at a column <= indent (CommonMark).
                # Some renderers also take an indented fence right after a line of
                # text into that line's list item: then any column up to that
                # line's text is possible.
                container_min, container_max = 0, indent
                if indent > 0 and text_column is not None:
                    container_max = max(indent, text_column)
            else:
                fence = None
        if fence is None:
            # A fence right after the marker of a list item: in the item.
            fence = _ITEM_FENCE_RE.fullmatch(line)
            if fence is not None and (
                (fence.group(2)[0] == "`" and "`" in fence.group(3))
                or _list_item_column(line, item_column, after_break) is None
            ):
                fence = None
            if fence is not None:
                container_min = container_max = len(fence.group(1))
        if fence is not None and (
            definition.open
            or ("|" in line and number + 1 < len(lines) and _DELIMITER_ROW_RE.fullmatch(lines[number + 1]))
        ):
            # Some renderers would not open a fence here: mistune may take the line
            # into a link reference definition (label, destination or title), and
            # markdown-it reads a line with "|" over a delimiter row as a table.
            state = _LOST
            add_text(line, True)
            continue
        if fence is None:
            definition.feed(line)
        if fence is not None:
            flush()
            out.append(fence.group(1) + fence.group(2) + _escape_plain(fence.group(3)))
            state = _CODE
            fence_char = fence.group(2)[0]
            fence_length = len(fence.group(2))
        elif _MAYBE_FENCE_RE.match(line):
            # Maybe a fence in a container; if it is a top-level one after all (some
            # renderer's idea of "```a`b"), no line in column 0 would end it.
            state = _LOST if _TOP_FENCE_RE.match(line) else _MAYBE
            add_text(line, True)
        elif _is_blank(line):
            add_raw(line)
            after_break = True
            text_column = None
            continue  # a list item goes on over blank lines: keep item_column
        else:
            add_text(line, False)
            prefix = _PREFIX_RE.match(line)
            text_column = _indent(line, prefix.end() if prefix is not None else 0)
            item_column = _list_item_column(line, item_column, after_break)
            if item_column is not None and _CONTAINER_START_RE.match(line, item_column):
                item_column = None  # "- > x", "- - x": the text is in another container
            after_break = False
            continue
        text_column = None
        after_break = False
    flush()
    return "\n".join(out)


class _DefinitionZone:
    """Whether the next line may be inside a link reference definition as mistune
    reads them: from a ``[`` at the start of a line, a label of up to 999
    characters without brackets (blank lines included), ``]:``, then a
    destination and a title up to the next blank line."""

    def __init__(self) -> None:
        self.label = -1  # characters read into an open label, or -1
        self.title = False  # after "]:", before a blank line

    @property
    def open(self) -> bool:
        return self.label >= 0 or self.title

    def feed(self, line: str) -> None:
        if _is_blank(line):
            self.title = False
        start = 0
        if self.label < 0:
            prefix = _PREFIX_RE.match(line)
            start = prefix.end() if prefix is not None else 0
            if not line.startswith("[", start):
                return
            self.label = 0
            self.title = False
            start += 1
        i = start
        n = len(line)
        while i < n and self.label >= 0:
            c = line[i]
            if c == "\\":
                i += 2
                self.label += 2
                continue
            if c == "[":
                self.label = -1
            elif c == "]":
                self.label = -1
                self.title = line.startswith(":", i + 1)
            else:
                self.label += 1
                if self.label > 999:
                    self.label = -1
            i += 1
        if self.label >= 0:
            self.label += 1  # the line ending


def _list_item_column(line: str, item_column: int | None, after_break: bool) -> int | None:
    """The column where the text of the list item that ``line`` certainly starts
    begins, if it starts one.

    A list marker is one for every renderer when it is indented at most 3 spaces
    (whatever container it is in, it is then at most 3 columns into it), or at
    most 3 spaces more than the text of the item started just before
    (``item_column``: then it is in that item). A bullet always starts an item; a
    number only if it is 1 or nothing before it can be a paragraph it would
    continue. The marker is followed by 1 to 4 spaces and text (5 or more make
    the text an indented code block, at another column).
    """
    spaces = len(line) - len(line.lstrip(" "))
    if spaces > 3 and (item_column is None or not item_column <= spaces <= item_column + 3):
        return None
    item = _LIST_ITEM_RE.match(line, spaces)
    if item is None or _THEMATIC_BREAK_RE.fullmatch(line, spaces):
        return None
    digits = _DIGITS_RE.match(line, spaces)
    if digits is not None and int(digits.group()) != 1 and not after_break:
        return None
    return item.end()


def _is_blank(line: str) -> bool:
    # Only spaces: every renderer agrees such a line is blank.
    return line.strip(" ") == ""


def _indent(line: str, end: int | None = None) -> int:
    """Column of the first character that is not a space or tab (of ``line[:end]``);
    a tab goes to the next multiple of 4, other characters count 1."""
    column = 0
    for ch in line if end is None else line[:end]:
        if ch == " ":
            column += 1
        elif ch == "\t":
            column += 4 - column % 4
        elif end is None:
            break
        else:
            column += 1
    return column


# Inline text -------------------------------------------------------------------


def _escape_run(lines: list[str], tainted: list[bool], in_label: bool = False) -> str:
    """Escape consecutive non-blank text lines; keep certain code spans raw.

    ``in_label``: the run may start inside the label of a link reference
    definition, so a first ``]:`` before any other bracket ends one.

    ``taint`` is the offset from which no code span is certain any more: the first
    line a renderer may read as code, or the first construct that may make a
    renderer pair backticks differently from here on. Renderers' paragraphs lie
    within a run (runs end at blank lines and at fences), and a certain span lies
    within one line, so the pairing here matches theirs until the taint.
    """
    text = "\n".join(lines)
    n = len(text)
    taint = n + 1
    offset = 0
    for line, bad in zip(lines, tainted, strict=True):
        if bad:
            taint = offset
            break
        offset += len(line) + 1

    runs_by_length: dict[int, list[int]] = {}
    url_tokens: list[tuple[int, int]] | None = None
    if "`" in text[:taint]:
        for m in _BACKTICKS_RE.finditer(text):
            runs_by_length.setdefault(m.end() - m.start(), []).append(m.start())

    label_end = -1  # where a "]:" ends a label opened before this run
    if in_label:
        bracket = _first_bracket(text)
        if bracket >= 0 and text.startswith("]:", bracket):
            label_end = bracket

    out: list[str] = []
    i = 0
    at_line_start = True
    while i < n:
        if at_line_start:
            at_line_start = False
            prefix_end = _PREFIX_RE.match(text, i)
            p = prefix_end.end() if prefix_end is not None else i
            out.append(text[i:p])  # whitespace, ">" and list markers only
            i = p
            if i < n and text[i] == "[":
                definition = _DEFINITION_RE.match(text, i)
                if definition is not None:
                    label = definition.group(1)
                    line_end = text.find("\n", definition.end())
                    if line_end < 0:
                        line_end = n
                    if "`" in label or "`" in text[definition.end() : line_end]:
                        taint = min(taint, i)
                    out.append("[" + _escape_plain(label) + "]:")
                    i = _destination(text, definition.end(), out)
            continue

        special = _SPECIAL_RE.search(text, i)
        if special is None:
            out.append(text[i:])
            break
        j = special.start()
        if j > i:
            out.append(text[i:j])
        i = j
        ch = text[i]
        if ch == "\n":
            out.append("\n")
            i += 1
            at_line_start = True
        elif ch == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])  # \< shows "<", and so does &lt;
                i += 2
            elif nxt and nxt in _ASCII_PUNCTUATION:
                out.append(text[i : i + 2])
                i += 2
            else:
                out.append("\\")
                i += 1
        elif ch == "`":
            end = i
            while end < n and text[end] == "`":
                end += 1
            if i < taint:
                length = end - i
                starts = runs_by_length.get(length, [])
                k = bisect_left(starts, end)
                if k < len(starts):
                    close = starts[k]
                    content = text[end:close]
                    if url_tokens is None:
                        url_tokens = _url_tokens(text)
                    if (
                        "\n" not in content
                        and "|" not in content
                        and "](" not in content
                        and "][" not in content
                        and "]:" not in content
                        and (i == 0 or text[i - 1] != "~")
                        and not _inside(url_tokens, i)
                    ):
                        out.append(text[i : close + length])
                        i = close + length
                        continue
                    taint = i
            out.append(text[i:end])
            i = end
        elif ch == "]":
            nxt = text[i + 1 : i + 2]
            if i == label_end:
                out.append("]:")
                i = _destination(text, i + 2, out)
            elif nxt == "(":
                if _SIMPLE_TAIL_RE.match(text, i + 1) is None:
                    taint = min(taint, i)
                out.append("](")
                i = _destination(text, i + 2, out)
            elif nxt == "[":
                if _SIMPLE_LABEL_RE.match(text, i + 1) is None:
                    taint = min(taint, i)
                out.append("]")
                i += 1
            else:
                out.append("]")
                i += 1
        else:
            out.append(_ESCAPES[ch])
            i += 1
    return "".join(out)


def _first_bracket(text: str) -> int:
    """Offset of the first square bracket not escaped by a backslash, or -1."""
    i = 0
    while True:
        m = _BRACKET_RE.search(text, i)
        if m is None:
            return -1
        if m.group() != "\\":
            return m.start()
        i = m.start() + 2


def _destination(text: str, start: int, out: list[str]) -> int:
    """Handle a link destination after ``](`` or ``]:``; return where scanning goes on.

    An unsafe destination is replaced by ``#`` (what follows it, up to the end of
    the destination, is dropped). A safe one is left to the caller's scanning, which
    escapes it like any text (entities are decoded in destinations, so ``&amp;`` is
    still ``&``), except that a safe ``<...>`` destination loses its brackets, which
    escaping would otherwise turn into part of the URL.
    """
    gap = _DESTINATION_GAP_RE.match(text, start)
    d = gap.end() if gap is not None else start
    gap_has_newline = "\n" in text[start:d]  # then "#" would start a heading: "\#"
    n = len(text)
    if d < n and text[d] == "<":
        close = _pointy_end(text, d + 1)
        if close < 0:
            return start  # not a destination: "<" is escaped as text
        inner = text[d + 1 : close]
        if _LINK_END_RE.match(text, close + 1) is None:
            return start  # not a destination ("<a>(x)"): escaped as text
        if _unsafe_url(inner):
            out.append(text[start:d] + _HASH[gap_has_newline])
            return close + 1
        if inner and not any(c.isspace() or c in "()<>\\`" or ord(c) < 0x20 for c in inner):
            out.append(text[start:d] + inner.replace("&", "&amp;"))
            return close + 1
        return start
    # Only the scheme matters, so read a window: up to a parenthesis, quote, angle
    # bracket or line end, whichever is first, and at most _SCHEME_WINDOW characters.
    # Spaces and tabs do not end it: a browser drops tabs, and a destination that
    # holds a space is no link, so the check can only err on the safe side.
    window = _WINDOW_RE.match(text, d)
    w = window.end() if window is not None else d
    if not _unsafe_url(text[d:w], truncated=w - d == _SCHEME_WINDOW):
        return start
    out.append(text[start:d] + _HASH[gap_has_newline])
    return _token_end(text, w, len(text))


def _token_end(text: str, i: int, limit: int) -> int:
    """End of a destination without brackets (at most ``limit``): whitespace, a
    control character or an unbalanced ``)`` ends it (nesting is not counted across
    calls: a later ``)`` ends it early, which is harmless once it starts with ``#``)."""
    n = min(len(text), limit)
    depth = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in _ASCII_PUNCTUATION:
            i += 2
            continue
        if c.isspace() or ord(c) < 0x20 or c == "\x7f":
            break
        if c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                break
            depth -= 1
        i += 1
    return min(i, limit)


def _pointy_end(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] != "\n":
            i += 2
            continue
        if c == ">":
            return i
        if c in "<\n":
            return -1
        i += 1
    return -1


def _unsafe_url(raw: str, truncated: bool = False) -> bool:
    """Whether a destination has a scheme other than http, https or mailto."""
    s = raw
    for _ in range(3):  # entities decoded once by the renderer; be generous
        decoded = html.unescape(s)
        if decoded == s:
            break
        s = decoded
    s = "".join(c for c in s if c != "\\" and not c.isspace() and unicodedata.category(c) not in ("Cc", "Cf"))
    m = _SCHEME_RE.match(s)
    if m is not None:
        return m.group(1).lower() not in _ALLOWED_SCHEMES
    # No scheme yet; unless the window ended while it could still become one.
    return truncated and _SCHEME_PREFIX_RE.fullmatch(s) is not None


def _url_tokens(text: str) -> list[tuple[int, int]]:
    """Where a bare URL may start and end: from the first "://" or "www." in a
    whitespace-delimited token to the token's end (some renderers run a URL into
    backticks and swallow them)."""
    found = []
    for m in _TOKEN_RE.finditer(text):
        token = m.group().lower()
        starts = [k for k in (token.find("://"), token.find("www.")) if k >= 0]
        if starts:
            found.append((m.start() + min(starts), m.end()))
    return found


def _inside(spans: list[tuple[int, int]], i: int) -> bool:
    k = bisect_left(spans, (i,)) - 1
    return k >= 0 and spans[k][0] < i < spans[k][1]


def _escape_plain(s: str) -> str:
    """Escape text that is never code (an info string, a label)."""
    out: list[str] = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] in _ESCAPES:
            out.append(_ESCAPES[s[i + 1]])
            i += 2
            continue
        if c == "\\" and i + 1 < n and s[i + 1] in _ASCII_PUNCTUATION:
            out.append(s[i : i + 2])
            i += 2
            continue
        out.append(_ESCAPES.get(c, c))
        i += 1
    return "".join(out)
