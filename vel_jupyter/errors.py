"""Every error vel_jupyter raises, in one tree.

::

    AgentError                      root: ``except AgentError`` catches all of ours
    ├── ConfigurationError          bad arguments; also a ValueError
    │   ├── UnknownProviderError    a provider name nobody registered
    │   ├── InvalidSessionIdError   an id that cannot be stored safely
    │   ├── UnconfirmedServerError  a server URL read from data, not yet named in this process
    │   └── SchemaError             json(schema=...) given something that is not a pydantic model
    ├── SessionNotFoundError        no session with that id; also a KeyError
    ├── SessionDataError            corrupt or foreign serialized data (names the session)
    ├── StoreError                  a store failed; the turn was not committed (names the session)
    ├── ToolDefinitionError         a function that cannot become a tool
    ├── TurnError                   a turn failed; history is unchanged; ``partial_text`` kept
    │   ├── ProviderError           the model server failed or refused the request
    │   │   ├── AuthenticationError     401/403, or no key: names the variable to set
    │   │   ├── ModelNotFoundError      404: the model or URL does not exist
    │   │   ├── RateLimitError          429: wait and retry
    │   │   ├── ProviderUnavailableError 5xx or the server cannot be reached
    │   │   ├── ProviderTimeoutError    no answer in time
    │   │   ├── BadRequestError         400/422: the server rejected the request
    │   │   └── StreamError             error mid-stream, dropped stream, no finish reason
    │   ├── IncompleteResponseError finish_reason length/content_filter, not accepted
    │   ├── RefusalError            the model refused
    │   ├── StructuredOutputError   the answer is not valid for the schema
    │   └── MaxStepsError           the tool loop did not finish within max_steps
    └── (TurnInterrupted is a KeyboardInterrupt, so Ctrl-C still stops loops;
         it carries ``partial_text`` like a TurnError, and ``response``: the answer
         so far, kept as a turn marked "stopped", when the turn asked ``keep_stopped=True``)

Every message says what to do next. No message ever contains an API key: provider
errors are built from our own text plus the server's message with secrets redacted.
"""

from __future__ import annotations

import typing

__all__ = [
    "AgentError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "IncompleteResponseError",
    "InvalidSessionIdError",
    "MaxStepsError",
    "ModelNotFoundError",
    "ProviderError",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "RateLimitError",
    "RefusalError",
    "SchemaError",
    "SessionDataError",
    "SessionNotFoundError",
    "StoreError",
    "StreamError",
    "StructuredOutputError",
    "ToolDefinitionError",
    "TurnError",
    "TurnInterrupted",
    "UnconfirmedServerError",
    "UnknownProviderError",
]


class AgentError(Exception):
    """Root of every vel_jupyter error."""


class ConfigurationError(AgentError, ValueError):
    """An argument or setting is wrong; the message says which and how to fix it."""


class UnknownProviderError(ConfigurationError):
    """No provider is registered under that name."""


class InvalidSessionIdError(ConfigurationError):
    """A session id that is empty, too long or has characters we do not store."""


class UnconfirmedServerError(ConfigurationError):
    """A session's server URL came from data (a notebook, a store, ``from_dict``) and the
    user has not named it in this process: nothing is sent to it until they do.

    ``session_id`` and ``url`` (redacted) say which, so a front end can print its own command.
    """

    def __init__(self, message: str, *, session_id: str | None = None, url: str = "") -> None:
        super().__init__(message)
        self.session_id = session_id
        self.url = url


class SchemaError(ConfigurationError):
    """``json(schema=...)`` needs a pydantic ``BaseModel`` subclass."""


class SessionNotFoundError(AgentError, KeyError):
    """No session with that id exists."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class SessionDataError(AgentError):
    """Serialized session data is corrupt, foreign or from a newer version."""


class StoreError(AgentError):
    """A store could not read or write; nothing was half-written."""


class ToolDefinitionError(AgentError, TypeError):
    """A function cannot be turned into a tool."""


class TurnError(AgentError):
    """A turn failed and was not added to the history.

    ``partial_text`` holds whatever text streamed before the failure.
    """

    def __init__(self, message: str, *, partial_text: str = "") -> None:
        super().__init__(message)
        self.partial_text = partial_text


class ProviderError(TurnError):
    """The model server failed or refused the request."""

    def __init__(
        self,
        message: str,
        *,
        partial_text: str = "",
        status_code: int | None = None,
        provider: str = "",
        hint: str = "",
    ) -> None:
        # ``hint``: the generic "what to do" sentence, kept apart so a caller that knows
        # better (a notebook cell knows where its URL came from) can say that instead.
        super().__init__(f"{message} {hint}".strip(), partial_text=partial_text)
        self.reason = message
        self.hint = hint
        self.status_code = status_code
        self.provider = provider


class AuthenticationError(ProviderError):
    """The server rejected our credentials (or we had none)."""


class ModelNotFoundError(ProviderError):
    """The model or endpoint does not exist on that server."""


class RateLimitError(ProviderError):
    """Too many requests or no quota left."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ProviderUnavailableError(ProviderError):
    """A 5xx answer, or the server could not be reached."""


class ProviderTimeoutError(ProviderError):
    """The server did not answer in time."""


class BadRequestError(ProviderError):
    """The server rejected the request as malformed."""


class StreamError(ProviderError):
    """The stream broke: an error event, a dropped connection, or no finish reason."""


class IncompleteResponseError(TurnError):
    """The answer was cut off (``length``) or filtered (``content_filter``)."""

    def __init__(self, message: str, *, finish_reason: str, partial_text: str = "") -> None:
        super().__init__(message, partial_text=partial_text)
        self.finish_reason = finish_reason


class RefusalError(TurnError):
    """The model refused to answer; ``refusal`` holds its explanation."""

    def __init__(self, message: str, *, refusal: str, partial_text: str = "") -> None:
        super().__init__(message, partial_text=partial_text)
        self.refusal = refusal


class StructuredOutputError(TurnError):
    """The model's answer does not validate against the requested schema."""


class MaxStepsError(TurnError):
    """The model kept calling tools past ``max_steps``."""


class TurnInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a kernel interrupt) during a turn: the history is unchanged, or, when the turn
    was asked to ``keep_stopped``, ``response`` is the answer so far, kept as a stopped turn."""

    def __init__(self, partial_text: str = "", *, response: typing.Any = None) -> None:
        if response is None:
            super().__init__("turn interrupted; the session is unchanged")
        else:
            super().__init__(
                "turn stopped; the answer so far is kept as a turn marked 'stopped' (this error's "
                ".response); run the prompt again for a whole answer"
            )
        self.partial_text = partial_text
        self.response = response
