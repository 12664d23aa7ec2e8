"""One rule for text that some stores refuse.

PostgreSQL's ``jsonb`` refuses NUL (``\\u0000``) and no UTF-8 encoder takes a lone surrogate
(``\\ud800`` alone: what a broken JSON escape or a bad byte slice leaves), while memory,
SQLite and Redis keep both. So before a turn commits and when data is read, both become
U+FFFD REPLACEMENT CHARACTER, the character Unicode reserves for text that could not be
represented: a conversation that works on one store works on every store, and renders.

Data from outside that holds a lone surrogate (which no vel_jupyter ever stored) is refused by
the validator in one line: it could not be encoded to UTF-8 anywhere further on.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
# A surrogate code point in a Python str is always lone: valid pairs are decoded into one
# code point by every codec and by json.loads.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD (the same object when it has none)."""
    if text.isascii():
        return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
    # (every message passes here: a search allocates nothing when, as almost always, there is nothing)
    return _UNSTORABLE.sub(REPLACEMENT, text) if _UNSTORABLE.search(text) else text
