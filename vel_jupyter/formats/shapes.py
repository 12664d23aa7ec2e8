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


ADAPTERS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(shape)
    for name, shape in {
        "message": MessageShape,
        "header": HeaderShape,
        "record": RecordShape,
        "turn": TurnShape,
    }.items()
}
