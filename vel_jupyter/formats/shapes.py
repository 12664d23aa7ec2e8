"""The shapes of saved data, as pydantic TypedDicts in strict mode (``validate`` is the API).

Imported on first validation: pydantic costs ~0.2 s to import, and ``%load_ext`` must not pay it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, Strict, StringConstraints, TypeAdapter
from typing_extensions import NotRequired, TypedDict

from .limits import LIMITS, SESSION_ID, check_json_size


def _http_url(value: str) -> str:
    if not re.match(r"https?://[^/?#\s]+", value, re.IGNORECASE):
        raise ValueError("must be an http(s) URL")
    return value


def _json_bounded(value: Any) -> Any:
    check_json_size(value)
    return value


# Every constraint that can be is pydantic-core's (Rust), not a Python callback: a message
# costs a few microseconds.
Id = Annotated[str, StringConstraints(min_length=1, max_length=LIMITS.id_chars)]
SessionId = Annotated[str, StringConstraints(pattern=f"^{SESSION_ID.pattern}$")]
Name = Annotated[str, StringConstraints(max_length=LIMITS.id_chars)]
Text = Annotated[str, StringConstraints(max_length=LIMITS.text_chars)]
Timestamp = Annotated[datetime, Strict(False)]  # ISO text, parsed
Count = Annotated[int, Field(ge=0, le=LIMITS.count)]
Millis = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Json = Annotated[Any, AfterValidator(_json_bounded)]
_STRICT = ConfigDict(strict=True, extra="allow")  # unknown keys: what a newer version may add


class ToolCallShape(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    id: Id
    name: Name
    arguments: NotRequired[Text | None]


class MetaShape(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    model: Name | None
    provider: Name | None
    prompt_tokens: Count | None
    completion_tokens: Count | None
    latency_ms: Millis | None
    ttft_ms: Millis | None
    finish_reason: Name | None
    refusal: Text | None


class MessageShape(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    id: Id
    role: Literal["system", "user", "assistant", "tool"]
    parent_id: NotRequired[Id | None]
    content: NotRequired[Text | None]
    tool_calls: NotRequired[Annotated[list[ToolCallShape], Field(max_length=LIMITS.tool_calls)] | None]
    tool_call_id: NotRequired[Id | None]
    name: NotRequired[Name | None]
    meta: NotRequired[MetaShape | None]
    session_id: NotRequired[SessionId | None]
    created_at: NotRequired[Timestamp | None]
    cell_id: NotRequired[Name | None]


class SettingsShape(TypedDict, total=False):
    __pydantic_config__ = ConfigDict(strict=True, extra="forbid")  # type: ignore[misc]
    model: Name | None
    provider: Name | None
    base_url: Annotated[str, StringConstraints(max_length=4096), AfterValidator(_http_url)] | None
    params: dict[str, Json] | None
    ttl: Annotated[float, Field(gt=0, le=LIMITS.ttl_seconds, allow_inf_nan=False)] | None


class SummaryShape(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    covers: Id
    text: Text
    model: NotRequired[Name | None]
    prompt_tokens: NotRequired[Count | None]
    completion_tokens: NotRequired[Count | None]


class ForkedFromShape(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    session_id: SessionId
    message_id: NotRequired[Id | None]


class StatsShape(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    messages: Count
    tokens: Count


class HeaderShape(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    version: Annotated[int, Field(ge=1)]
    session_id: SessionId
    kind: NotRequired[Literal["vel_jupyter.session"] | None]
    tree: NotRequired[Id | None]
    system: NotRequired[Text | None]
    head: NotRequired[Id | None]
    heads: NotRequired[Annotated[list[Id | None], Field(max_length=LIMITS.branches)] | None]
    current: NotRequired[Annotated[int, Field(ge=0)] | None]
    settings: NotRequired[SettingsShape | None]
    summaries: NotRequired[Annotated[list[SummaryShape], Field(max_length=LIMITS.summaries)] | None]
    forked_from: NotRequired[ForkedFromShape | None]
    lineage: NotRequired[Annotated[list[SessionId], Field(max_length=LIMITS.lineage)] | None]
    stats: NotRequired[StatsShape | None]
    rev: NotRequired[Count | None]
    created_at: NotRequired[Timestamp | None]
    updated_at: NotRequired[Timestamp | None]


class RecordShape(HeaderShape):
    messages: NotRequired[Annotated[list[MessageShape], Field(max_length=LIMITS.messages)]]


class TurnShape(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    version: Annotated[int, Field(ge=1)]
    kind: Literal["vel_jupyter.turn"]
    session_id: SessionId
    head: Id
    branch: Annotated[int, Field(ge=0)] | None
    branches: Annotated[int, Field(ge=1, le=LIMITS.branches)]
    messages: Annotated[list[MessageShape], Field(min_length=1, max_length=LIMITS.messages)]
    live: NotRequired[bool | None]


# -- what the views read ------------------------------------------------------------------
# The payloads our outputs carry, as the JupyterLab extension reads them: its TypeScript types
# are generated from these (``schema``). Restoring a notebook checks only ``TurnShape``; the
# rest is for showing, which reads each field defensively.


class UsageShape(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    prompt_tokens: Count | None
    completion_tokens: Count | None


class TurnTextsShape(TypedDict, total=False):
    """The words a view shows of one answer (``jupyter.texts``): computed once, in Python."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    usage_line: Text
    finish_note: Text  # '' when the answer is whole
    echo_note: Text  # only when the offline echo provider answered


class AlternativeShape(TurnTextsShape):
    """One answer a cell has had (its re-runs), for the output's switcher."""

    head: Id
    current: bool
    messages: list[MessageShape]


class TurnPayloadShape(TurnShape, total=False):
    """A ``%%chat`` output's payload (``jupyter.turn_payload``), or a live frame of it (``live``)."""

    model: Name | None
    provider: Name | None
    usage: UsageShape | None
    latency_ms: Millis | None
    ttft_ms: Millis | None
    prompt: Text | None  # the prompt as sent, when interpolation changed the cell body
    format: Literal["markdown", "text", "code", "json"]
    note: Text  # the last live frame of a turn that failed or was interrupted
    current: bool  # False once the session's current path no longer goes through this turn
    alternatives: list[AlternativeShape]
    elsewhere: list[AlternativeShape]  # the cell's turns under other parents (not shown; restore places them)
    showing: Id  # the alternative's head the session continues from
    default_cap: Count  # the notebook's answer cap the turn ran under
    usage_line: Text
    finish_note: Text
    echo_note: Text


class TreeTurnShape(TypedDict):
    """A turn of the fork tree (``formats.turns.group_turns``) with what its row shows."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    id: Id
    parent: Id | None
    number: Count
    messages: list[MessageShape]
    last: Id
    tokens: Count
    question: NotRequired[Text]
    answer: NotRequired[Text]
    preview: NotRequired[Text]
    cell_id: NotRequired[Name | None]


class TreeHeadShape(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    session_id: SessionId
    branch: Annotated[int, Field(ge=0)] | None
    turn: Id  # the turn the head is in
    message: Id  # the head message itself
    current: bool
    label: NotRequired[Text]


class TreeSessionShape(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    session_id: SessionId
    head: Id | None
    forked_from: NotRequired[ForkedFromShape | None]
    system: NotRequired[Text | None]


class ForkLabelsShape(TypedDict):
    """Templates of a folded branch's label ({number}, {question}, {answer}: ``jupyter.texts``)."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    answer: Text
    answer_quoted: Text
    rerun: Text
    continues: Text
    question: Text


class TreeTextsShape(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    stats: Text
    fork_labels: ForkLabelsShape


class TreePayloadShape(TypedDict):
    """A ``%chat tree`` output's or the tree widget's payload (``jupyter.tree_data``)."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    version: Annotated[int, Field(ge=1)]
    kind: Literal["vel_jupyter.tree"]
    focus: SessionId
    commands: NotRequired[Literal["%chat"]]  # its actions may run %chat commands in the kernel
    sessions: list[TreeSessionShape]
    turns: list[TreeTurnShape]
    heads: list[TreeHeadShape]
    texts: NotRequired[TreeTextsShape]


class PayloadsShape(TypedDict):
    """Every payload the extension reads, for its generated types (``schema``)."""

    turn: TurnPayloadShape
    session: RecordShape
    tree: TreePayloadShape


ADAPTERS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(shape)
    for name, shape in {
        "message": MessageShape,
        "header": HeaderShape,
        "record": RecordShape,
        "turn": TurnShape,
    }.items()
}
