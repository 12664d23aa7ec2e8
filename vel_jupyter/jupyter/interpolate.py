"""``{name}`` references in a ``%%chat`` cell body, filled from the user's namespace.

::

    interpolate("Summarize {df.shape} rows of {path}", user_ns)

Only *references* are replaced: a name, then any chain of ``.attr`` and ``[key]``
steps (``{a.b[0].c}``, ``{In[3]}``, ``{Out[3]}``, ``{d['k']}``, ``{d["a key"]}``,
``{d[k]}``), with no whitespace except inside a quoted key. A key that is an
integer literal (``-1`` too) is an ``int``, a quoted key or a bare word is a
``str``. The reference becomes ``str(value)`` when the name is in the namespace
and every step resolves; ``{{`` and ``}}`` are literal braces, as in
``str.format``.

Everything else is left exactly as written, because prompts are full of braces
that are not ours: JSON (``{"a": {"b": 1}}``), dict and set literals, code,
format specs (``{x:>10}``), ``{ x }``, empty ``{}``, unbalanced braces, unknown
names and lookups that fail. A ``}}`` that closes braces which were left as
written (minified JSON such as ``{"a":{"b":1}}``) stays too: only a ``}}`` that
closes a ``{{``, or that closes nothing, is an escape.

This is a small scanner, not ``eval``/``str.format``/``string.Formatter``:
nothing in the text is executed, only ``getattr`` and ``[]`` on values the user
already has. It never raises, and runs in time linear in the length of the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["interpolate", "references"]

_NAME = r"[^\W\d]\w*"
# A key in brackets: an int literal, a quoted string (spaces allowed, no braces or
# newlines, no escapes) or a bare word (no whitespace, quotes, brackets or braces).
_KEY = r"""-?[0-9]+|'[^'{}\n]*'|"[^"{}\n]*"|[^\[\]{}'"\s]+"""
_TRAILER = rf"\.{_NAME}|\[(?:{_KEY})\]"
# No part of a reference can contain a brace, so a match never scans past the next
# brace: matching at every "{" costs linear time in total.
_REFERENCE_RE = re.compile(rf"\{{({_NAME}(?:{_TRAILER})*)\}}")
_NAME_RE = re.compile(_NAME)
_TRAILER_RE = re.compile(rf"\.({_NAME})|\[({_KEY})\]")
_INT_RE = re.compile(r"-?[0-9]+")
_BRACE_RE = re.compile(r"[{}]")


def interpolate(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace the ``{reference}``s in ``text`` that resolve in ``namespace``; keep the rest.

    ``{{``/``}}`` become ``{``/``}``. Never raises: a lookup that fails in any way
    (unknown name, missing attribute or key, an exception from a property,
    ``__getitem__`` or ``__str__``) leaves that reference as written.
    """

    def resolve(expression: str) -> str | None:
        return _resolve(expression, namespace)

    return _scan(text, resolve)


def references(text: str) -> list[str]:
    """The reference expressions in ``text`` (``"df.shape"`` for ``{df.shape}``), in order.

    Escaped braces (``{{df}}``) are not references. For diagnostics, such as naming
    the references that :func:`interpolate` could not resolve.
    """
    found: list[str] = []

    def record(expression: str) -> None:
        found.append(expression)

    _scan(text, record)
    return found


def _scan(text: str, resolve: Callable[[str], str | None]) -> str:
    out: list[str] = []
    # One entry per "{" still open: True for a single "{" that was kept as written,
    # False for an escaped "{{". A "}" closes a kept "{" as written; "}}" is an escape
    # only when it does not.
    open_braces: list[bool] = []
    i = 0
    n = len(text)
    while i < n:
        m = _BRACE_RE.search(text, i)
        if m is None:
            out.append(text[i:])
            break
        j = m.start()
        if j > i:
            out.append(text[i:j])
        i = j
        if text[i] == "{":
            if text.startswith("{{", i):
                out.append("{")
                open_braces.append(False)
                i += 2
                continue
            ref = _REFERENCE_RE.match(text, i)
            if ref is not None:
                value = resolve(ref.group(1))
                if value is not None:
                    out.append(value)
                    i = ref.end()
                    continue
            out.append("{")
            open_braces.append(True)
            i += 1
        else:
            if open_braces and open_braces[-1]:
                open_braces.pop()
                out.append("}")
                i += 1
            elif text.startswith("}}", i):
                if open_braces:
                    open_braces.pop()
                out.append("}")
                i += 2
            else:
                out.append("}")
                i += 1
    return "".join(out)


def _resolve(expression: str, namespace: Mapping[str, Any]) -> str | None:
    name = _NAME_RE.match(expression)
    if name is None:  # cannot happen: _REFERENCE_RE starts with a name
        return None
    try:
        if name.group() not in namespace:
            return None
        value = namespace[name.group()]
        for step in _TRAILER_RE.finditer(expression, name.end()):
            attribute, key = step.group(1), step.group(2)
            value = getattr(value, attribute) if attribute is not None else value[_key(key)]
        return str(value)
    except Exception:
        return None


def _key(literal: str) -> int | str:
    if _INT_RE.fullmatch(literal):
        return int(literal)
    if len(literal) >= 2 and literal[0] == literal[-1] and literal[0] in "'\"":
        return literal[1:-1]
    return literal
