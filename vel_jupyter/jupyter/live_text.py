"""The text of a streaming answer: appended in O(1), and the tail a live frame shows.

A live frame must not carry the whole answer (frames x answer is quadratic), so it shows the
last ``limit`` characters, cut where a top-level Markdown block starts: the tail then renders
as it will in the final output. Where no block starts near the cut (one long code block), the
tail starts at a line and, inside a fenced code block, with that block's opening fence again.
Block starts are found by one incremental pass over complete lines, not by re-parsing.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right

_HEADING = re.compile(r"#{1,6}(?:[ \t]|$)")  # an ATX heading, which needs no blank line before it


class LiveText:
    """Streamed text: ``append`` is O(1); ``str()`` joins once; ``tail`` and ``slice`` copy only what they return."""

    def __init__(self, text: str = "") -> None:
        self._blocks: list[str] = []  # joined runs of chunks, in order
        self._starts: list[int] = []  # where each block starts
        self._pending: list[str] = []  # chunks appended since the last join
        self._size = 0
        self._line_end = 0  # just past the last "\n" seen: lines before it are complete
        # The scan of complete lines for block starts (see _scan).
        self._scanned = 0
        self._blank = True  # the previous line was blank (or there was none)
        self._after_fence = False  # the previous line closed a fenced code block
        self._fence: tuple[str, int] | None = None  # the open fence's character and length
        self._cuts: list[int] = []  # line starts where a top-level block starts, outside fences
        self._fence_at: list[int] = []  # where each fenced block's content starts
        self._fence_end: list[int | None] = []  # ... and its closing line (None: still open)
        self._fence_open: list[str] = []  # ... and its opening line
        self.append(text)

    def __len__(self) -> int:
        return self._size

    def __str__(self) -> str:
        self._join()
        if len(self._blocks) > 1:  # once: later calls (and slices) reuse the one block
            self._blocks, self._starts = ["".join(self._blocks)], [0]
        return self._blocks[0] if self._blocks else ""

    def append(self, chunk: str) -> None:
        if not chunk:
            return
        self._pending.append(chunk)
        newline = chunk.rfind("\n")
        if newline >= 0:
            self._line_end = self._size + newline + 1
        self._size += len(chunk)

    def slice(self, start: int, end: int | None = None) -> str:
        """``str(self)[start:end]``, copying only that part."""
        end = self._size if end is None else min(end, self._size)
        if start >= end:
            return ""
        self._join()
        first = bisect_right(self._starts, start) - 1
        parts = []
        for index in range(first, len(self._blocks)):
            at = self._starts[index]
            if at >= end:
                break
            parts.append(self._blocks[index][max(0, start - at) : end - at])
        return "".join(parts)

    def tail(self, limit: int) -> tuple[int, str]:
        """Where a frame of at most ~``limit`` characters starts (0: the whole text), and
        what must precede it to render as it does in place (a reopened fence, or '')."""
        if self._size <= limit:
            return 0, ""
        self._scan()
        low = self._size - limit
        index = bisect_left(self._cuts, low)
        if index < len(self._cuts) and self._cuts[index] <= low + limit // 2:
            return self._cuts[index], ""
        # No block starts in the first half of the window: start at a line (else mid-line).
        newline = self.slice(low, low + limit // 2).find("\n")
        start = low + newline + 1 if newline >= 0 else low
        fence = bisect_right(self._fence_at, start) - 1
        if fence >= 0:
            closed = self._fence_end[fence]
            if closed is None or start < closed:
                return start, self._fence_open[fence] + "\n"
        return start, ""

    def _join(self) -> None:
        if self._pending:
            block = "".join(self._pending)
            self._pending.clear()
            self._starts.append(self._size - len(block))
            self._blocks.append(block)

    def _scan(self) -> None:
        """Read the complete lines not read yet: note block starts and fenced blocks."""
        if self._line_end <= self._scanned:
            return
        offset = self._scanned
        for line in self.slice(self._scanned, self._line_end).split("\n")[:-1]:
            self._line(line, offset)
            offset += len(line) + 1
        self._scanned = self._line_end

    def _line(self, line: str, offset: int) -> None:
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        marker = _fence_marker(stripped) if indent < 4 else None
        if self._fence is not None:
            char, length = self._fence
            if marker is not None and marker[0] == char and marker[1] >= length and not stripped.strip(char).strip():
                self._fence = None
                self._fence_end[-1] = offset
                self._after_fence, self._blank = True, False
            return
        if not stripped.strip():
            self._blank = True
            return
        starts = self._blank or self._after_fence or _HEADING.match(stripped) is not None
        if marker is not None and (marker[0] == "~" or "`" not in stripped.lstrip("`")):
            self._fence = marker
            self._fence_at.append(offset + len(line) + 1)
            self._fence_end.append(None)
            self._fence_open.append(stripped.rstrip())
            starts = True
        if starts and indent == 0:
            self._cuts.append(offset)
        self._blank = self._after_fence = False


def _fence_marker(stripped: str) -> tuple[str, int] | None:
    """The fence character and run length a line starts with (three or more), else None."""
    char = stripped[:1]
    if char not in ("`", "~"):
        return None
    length = len(stripped) - len(stripped.lstrip(char))
    return (char, length) if length >= 3 else None


def elided_note(count: int) -> str:
    """The line over a live frame that starts after ``count`` characters of the answer."""
    return f"… {count:,} characters above: the whole answer shows when it is complete"
