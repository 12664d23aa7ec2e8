"""interpolate(): {references} from the namespace, everything else exactly as written."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vel_jupyter.jupyter.interpolate import interpolate, references


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y
        self.tags = ["a", "b"]
        self.meta = {"name": "p", "a key": [10, 20]}

    def __str__(self) -> str:
        return f"Point({self.x}, {self.y})"


class Explosive:
    """Every way a lookup can fail with an exception that is not a LookupError."""

    @property
    def boom(self) -> str:
        raise RuntimeError("property failed")

    def __getitem__(self, key: object) -> str:
        raise ValueError("getitem failed")

    def __str__(self) -> str:
        raise TypeError("str failed")


class BadContains(dict):  # type: ignore[type-arg]
    def __contains__(self, key: object) -> bool:
        raise RuntimeError("contains failed")


NS: dict[str, Any] = {
    "x": 42,
    "name": "Ada",
    "text": "{not a reference}",
    "p": Point(1, 2),
    "items": [1, 2, 3],
    "nested": {"a": {"b": [{"c": "deep"}]}},
    "d": {"k": "value-k", "a key": "spaced", 1: "int-one", "1": "str-one", "-1": "str-minus-one", "x.y": "dotted"},
    "In": ["", "first input", "second input", "third input"],  # as IPython keeps them
    "Out": {3: "third output", 7: [1, 2]},
    "empty": "",
    "none": None,
    "boom": Explosive(),
    "_private": "underscore",
    "café": "unicode name",
}

REPLACED = [
    ("{x}", "42"),
    ("Hello {name}!", "Hello Ada!"),
    ("{x}{x}", "4242"),
    ("{x} and {name}", "42 and Ada"),
    ("{p}", "Point(1, 2)"),
    ("{p.x},{p.y}", "1,2"),
    ("{p.tags[0]}", "a"),
    ("{p.tags[-1]}", "b"),
    ("{p.meta[name]}", "p"),
    ("{p.meta['a key'][1]}", "20"),
    ('{p.meta["a key"][-2]}', "10"),
    ("{items[0]}", "1"),
    ("{items[-1]}", "3"),
    ("{items[-3]}", "1"),
    ("{nested[a][b][0][c]}", "deep"),
    ("{nested['a']['b'][0]['c']}", "deep"),
    ("{d[k]}", "value-k"),
    ("{d['k']}", "value-k"),
    ('{d["k"]}', "value-k"),
    ("{d['a key']}", "spaced"),
    ('{d["a key"]}', "spaced"),
    ("{d[1]}", "int-one"),  # an integer literal is an int key
    ("{d['1']}", "str-one"),  # a quoted one is a str
    ("{d['-1']}", "str-minus-one"),
    ("{d[x.y]}", "dotted"),  # a bare word is a str, dots and all
    ("{In[3]}", "third input"),
    ("{In[-1]}", "third input"),
    ("{Out[3]}", "third output"),
    ("{Out[7][1]}", "2"),
    ("{empty}", ""),
    ("{none}", "None"),
    ("{_private}", "underscore"),
    ("{café}", "unicode name"),
    ("{text}", "{not a reference}"),  # values are not scanned again
    ("{x.real}", "42"),
    ("{name.upper}", str(NS["name"].upper)),  # an attribute, not a call
    # doubled braces are literal braces, as in str.format
    ("{{x}}", "{x}"),
    ("{{{x}}}", "{42}"),
    ("{{", "{"),
    ("}}", "}"),
    ("a {{ b }} c", "a { b } c"),
    ("{{}}", "{}"),
    ('{{"a": {x}}}', '{"a": 42}'),
    ("{x}}}", "42}"),
    # a reference inside braces that are kept
    ('{"count": {x}}', '{"count": 42}'),
    ("[{x}, {items[1]}]", "[42, 2]"),
    ("{ {x} }", "{ 42 }"),
    ('{"x": "{x}"}', '{"x": "42"}'),
]

KEPT = [
    # unknown names and failing lookups
    "{unknown}",
    "{unknown.attr}",
    "{p.z}",
    "{p.tags[5]}",
    "{items[3]}",
    "{items[-4]}",
    "{items[a]}",  # a str key into a list: TypeError
    "{d[missing]}",
    "{d['missing']}",
    "{d[2]}",
    "{x.nope}",
    "{x[0]}",  # int is not subscriptable
    "{none.attr}",
    "{boom.boom}",  # a property raising RuntimeError
    "{boom[0]}",  # __getitem__ raising ValueError
    "{boom}",  # __str__ raising TypeError
    "{Out[4]}",
    "{In[10]}",
    # format specs, conversions, whitespace, calls: not references
    "{x:>10}",
    "{x:}",
    "{x!r}",
    "{x!s:>3}",
    "{ x }",
    "{x }",
    "{ x}",
    "{p. x}",
    "{p .x}",
    "{items[ 0 ]}",
    "{name.upper()}",
    "{x+1}",
    "{x*2}",
    "{-x}",
    "{1}",
    "{0}",
    "{1x}",
    "{x..y}",
    "{x.}",
    "{x[}",
    "{x[]}",
    "{x]}",
    "{x[0]",
    "{d['k]}",
    "{d['k\"]}",
    "{d[\"k']}",
    "{$x}",
    "{@x}",
    # empty, unbalanced, nested
    "{}",
    "{",
    "}",
    "{a",
    "a}",
    "}{",
    "}x{",
    "{x{y}}",
    # JSON of various shapes
    '{"a": 1}',
    '{"a":1}',
    '{"a": {"b": {"c": [1, 2, {"d": null}]}}}',
    '{"a":{"b":{"c":[1,2,{"d":null}]}}}',
    '[{"x": 1}, {"name": "y"}]',
    '[{"x":1},{"name":"y"}]',
    "{}\n[]\n{\n}",
    '{\n  "name": "value",\n  "nested": {\n    "x": [1, 2, 3]\n  }\n}',
    '{"emptyobj":{},"emptylist":[]}',
    '{"k": "}}"}',
    # code
    "def f(): return {x: 1 for x in y}",
    "s = {1, 2, 3}",
    "d = {'a': 1, **other}",
    'f"{x!r:>{width}}"',
    "for (i = 0; i < n; i++) { a[i] = 0; }",
    "function f() { return {a: 1}; }",
    "\\begin{equation} x^{2} \\end{equation}",
    "${HOME} and $x",
    "{% block content %}{% endblock %}",
    "<style>p {color: red}</style>",
    "",
]


@pytest.mark.parametrize(("text", "expected"), REPLACED)
def test_replaced(text: str, expected: str) -> None:
    assert interpolate(text, NS) == expected


@pytest.mark.parametrize("text", KEPT)
def test_kept_as_written(text: str) -> None:
    assert interpolate(text, NS) == text


ESCAPES = [
    # "{{" is an escape wherever it is; "}}" is one unless it closes a kept "{"
    ("{{x}", "{x}"),
    ("{{x}{y}}", "{x}{y}}"),
    ("{{{", "{{"),
    ("}}}", "}}"),
    ("{{{{x}}}}", "{{x}}"),
    ("}}{{", "}{"),
    ("{unknown}}", "{unknown}}"),  # the first "}" closes the kept "{"
    ('{"a":{"b":1}}', '{"a":{"b":1}}'),
    ('{"k":"{{"}', '{"k":"{"}'),
]


@pytest.mark.parametrize(("text", "expected"), ESCAPES)
def test_escapes(text: str, expected: str) -> None:
    assert interpolate(text, NS) == expected


def test_minified_json_with_doubled_closing_braces_is_intact() -> None:
    payload = '{"user":{"name":"Ada","roles":[{"id":1,"tags":{"a":{}}}]}}'
    assert interpolate(payload, NS) == payload
    assert interpolate("Parse this: " + payload + "\nThen {{x}} is {x}.", NS) == (
        "Parse this: " + payload + "\nThen {x} is 42."
    )


def test_a_whole_prompt() -> None:
    prompt = (
        "You are given {name}'s data: {p.meta[name]} at ({p.x}, {p.y}).\n"
        'Return JSON like {"ok": true, "items": [1, 2]} and nothing else.\n'
        "Code: `def f(): return {k: v for k, v in d.items()}`\n"
        "Previous answer: {Out[3]}; literal {{braces}}; unknown {missing}."
    )
    assert interpolate(prompt, NS) == (
        "You are given Ada's data: p at (1, 2).\n"
        'Return JSON like {"ok": true, "items": [1, 2]} and nothing else.\n'
        "Code: `def f(): return {k: v for k, v in d.items()}`\n"
        "Previous answer: third output; literal {braces}; unknown {missing}."
    )


def test_namespace_is_any_mapping_and_lookups_never_escape() -> None:
    assert interpolate("{x} {y}", BadContains(x=1)) == "{x} {y}"
    assert interpolate("{x}", {}) == "{x}"


def test_nothing_is_executed() -> None:
    calls: list[str] = []

    class Spy:
        def __getattr__(self, name: str) -> str:
            calls.append(name)
            return "attr"

    ns = {"spy": Spy(), "__import__": __import__}
    assert interpolate("{spy.x} {__import__('os').system('echo hi')}", ns) == (
        "attr {__import__('os').system('echo hi')}"
    )
    assert calls == ["x"]


def test_references() -> None:
    assert references("{a} {{b}} {c.d[0]} {e:1} { f } {g[h]['i j']} {}") == ["a", "c.d[0]", "g[h]['i j']"]
    assert references('{"json": 1}') == []
    assert references("") == []


def test_linear_time_on_a_megabyte() -> None:
    chunks = [
        "{x} {unknown} {{ }} {" + "a." * 50 + "b" + " " + '{"k":{"v":[1,2,{"z":{}}]}}' + "\n",
        "{" * 1000 + "}" * 1000,
        "{d['" + "x" * 500,
        "{a[" * 300 + "]",
        "{a" + ".a" * 2000 + " ",
    ]
    for chunk in chunks:
        text = chunk * (1_000_000 // len(chunk) + 1)
        # No wall-clock assert (shared machines): a quadratic scanner would hit pytest's timeout.
        assert isinstance(interpolate(text, NS), str)
        assert isinstance(references(text), list)


# Properties ---------------------------------------------------------------------

_PIECES = st.sampled_from(
    ["{", "}", "{{", "}}", "x", "name", "p", "items", "d", "In", "Out", "nope", ".", "[", "]", "'", '"', "0", "-1",
     "k", " ", ":", "!", "a key", "\n", "tags", "meta", "\\", "{x}", "{p.x}", "{d['k']}", "{items[-1]}"]
)  # fmt: skip
_BRACEY = st.lists(_PIECES, max_size=40).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_empty_namespace_never_raises_and_changes_only_escapes(text: str) -> None:
    out = interpolate(text, {})
    if "{{" not in text and "}}" not in text:
        assert out == text


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), _BRACEY))
def test_never_raises_with_a_namespace(text: str) -> None:
    out = interpolate(text, NS)
    assert isinstance(out, str)
    references(text)


@settings(max_examples=500, deadline=None)
@given(_BRACEY)
def test_without_escapes_only_references_change(text: str) -> None:
    if "{{" in text or "}}" in text:
        return
    # Every reference that does not resolve, and every other brace, stays.
    assert interpolate(text, {}) == text


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="ab {}\n")))
def test_escaping_round_trip(text: str) -> None:
    plain = text.replace("{", "").replace("}", "")
    escaped = plain.replace("{", "{{").replace("}", "}}")
    assert interpolate(escaped, NS) == plain
    doubled = text.replace("{", "{{").replace("}", "}}")
    assert interpolate(doubled, NS) == text  # any braces at all, once escaped
