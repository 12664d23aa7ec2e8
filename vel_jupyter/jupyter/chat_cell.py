"""A ``%%chat`` cell's turn: the prompt from the cell, the session with the cell's flags, the answer
streamed and shown, and a failure as one or two lines that say what was put back.

A stop (the stop button, Ctrl-C) is not a failure: with ``%config ChatMagics.keep_stopped`` (the
default) the answer so far is kept as a turn marked stopped and shown like any answer, and the
cell still ends interrupted, in one line, so a Run All stops there."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError

from ..core.secrets import KEYRING
from ..core.session import Session
from ..errors import AgentError, ConfigurationError, ProviderError, SessionNotFoundError, TurnInterrupted
from ..formats.text import clean_text
from .display import LiveView, extract_code, final_bundle, finish_note
from .interpolate import interpolate
from .registry import forked_by, registry, turn_parent
from .running_cell import cell_id, has_frontend, show
from .settings_commands import require_http_url
from .tables import default_cap, from_config
from .texts import stopped_line


def run_turn(
    shell: Any,
    args: argparse.Namespace,
    line: str,
    cell: str,
    *,
    default_session: str,
    allow_incomplete: bool,
    stream_interval: float,
    keep_stopped: bool = True,
) -> None:
    """Send the cell's body as the next turn of its session and show the answer."""
    ns = shell.user_ns
    # The body ends with the cell's newline; leading blank lines are not part of the prompt.
    body = clean_text(cell.lstrip("\n").rstrip())
    # Interpolated values are text from anywhere: the one rule for unstorable characters,
    # and no key this process holds ({os.environ} in a mailed notebook's cell) is ever
    # sent, stored or shown.
    prompt = KEYRING.scrub(body if args.raw else clean_text(interpolate(body, ns)))
    if not prompt.strip():
        raise UsageError("the cell is empty: write the prompt below the %%chat line")
    this_cell = cell_id(shell, line, cell)
    session = _session_for(args, default_session, this_cell)
    rich = has_frontend(shell)
    shown = prompt if prompt != body else None  # the prompt is shown only when interpolation changed it
    replaced: dict[str, Any] = {}  # the settings this cell's flags replaced: put back if the turn fails
    view: LiveView | None = None
    stopped: TurnInterrupted | None = None  # a stop whose answer so far was kept
    try:
        with session.try_settings(
            system=args.system, model=args.model, provider=args.provider, base_url=args.base_url
        ) as replaced:
            params, cap = _turn_params(ns, session, args, allow_incomplete)
            params.update(turn_parent(session, this_cell, args.append))
            schema = _from_namespace(ns, args.schema, "schema", _is_model) if args.schema else None
            stream = session.stream(prompt, schema=schema, cell_id=this_cell, keep_stopped=keep_stopped, **params)
            try:
                if args.no_stream:
                    stream.collect()
                else:
                    view = LiveView(
                        rich=rich,
                        interval=stream_interval,
                        prompt=shown,
                        session_id=session.session_id,
                        fmt="json" if schema is not None else args.format,
                        provider=session.provider_name,
                    )
                    view.start()
                    try:
                        for event in stream:
                            view.feed(event)
                    except KeyboardInterrupt as exc:
                        # Ctrl-C between two events (while the answer is drawn) stops the turn as
                        # one inside the stream does: kept when asked and there is text, one line.
                        stream.close()
                        if isinstance(exc, TurnInterrupted):
                            raise
                        raise TurnInterrupted(stream.text, response=stream.response) from None
            except TurnInterrupted as exc:
                if exc.response is None:
                    raise
                stopped = exc  # committed like any turn: shown below, and the cell's flags stick
    except TurnInterrupted as exc:
        if view is not None:
            view.stop()
        raise _short_error(exc, _not_kept(session, replaced)) from None
    except ConfigurationError as exc:
        raise UsageError(_sentences(str(exc), _not_kept(session, replaced))) from None
    except AgentError as exc:
        if view is not None:
            view.stop()
        source = _url_source(session, replaced) if isinstance(exc, ProviderError) else ""
        undone = _not_kept(session, replaced) or f"Session {session.session_id!r} is unchanged"
        raise _short_error(exc, _sentences(source, undone), own_hint=bool(source)) from None
    response = stream.response
    assert response is not None
    bundle = final_bundle(session, response, fmt=args.format, prompt=shown, default_cap=cap)
    handle: Any = None
    if view is not None:
        view.finish(bundle, finish_note(response, cap))
        handle = view.handle
    elif rich:
        handle = show(bundle, display_id=True)
    else:
        print(bundle["text/plain"])
    if handle is not None:  # a frontend: the output follows its session (shown.py)
        registry().shown.add(session, handle.display_id, response, bundle, fmt=args.format, prompt=shown)
    if args.out:
        ns[args.out] = response
    if stopped is not None:  # the cell ends interrupted, so a Run All stops here
        raise _short_error(stopped, text=stopped_line(session.session_id)) from None
    if args.format == "code":
        shell.set_next_input(extract_code(response.text), replace=False)


def _short_error(exc: BaseException, more: str = "", *, own_hint: bool = False, text: str = "") -> BaseException:
    """Let IPython show one or two lines instead of a traceback (the cell still fails);
    ``more``: what this cell adds (where the URL came from, settings put back), which with
    ``own_hint`` replaces the error's generic hint; ``text``: the notebook's own words for it."""
    text = text or (exc.reason if own_hint and isinstance(exc, ProviderError) else str(exc))
    message = _sentences(text, more)
    name = type(exc).__name__
    exc._render_traceback_ = lambda: [f"{name}: {message}"]  # type: ignore[attr-defined]
    return exc


def _sentences(*parts: str) -> str:
    """Join sentences, each ending in a full stop."""
    kept = [p.strip() for p in parts if p.strip()]
    if len(kept) < 2:
        return kept[0] if kept else ""
    return " ".join(p if p.endswith((".", "!", "?")) else p + "." for p in kept)


def _turn_params(
    ns: dict[str, Any], session: Session, args: argparse.Namespace, allow_incomplete: bool
) -> tuple[dict[str, Any], int | None]:
    """The request parameters of the cell's flags, and the default answer cap applied (None: the
    cell or the session sets its own, or there is none)."""
    params: dict[str, Any] = {"allow_incomplete": allow_incomplete}
    if args.temperature is not None:
        params["temperature"] = args.temperature
    cap = None if args.max_tokens is not None else default_cap(session)
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    elif cap is not None:  # a runaway model stops, as in a chat app
        params["max_tokens"] = cap
    if args.tools:
        params["tools"] = [_from_namespace(ns, name, "tool", callable) for name in args.tools.split(",")]
    if args.tool_choice is not None:
        if not args.tools and args.tool_choice == "required":
            raise UsageError("--tool-choice required needs --tools NAME[,NAME]: the functions it may call")
        params["tool_choice"] = args.tool_choice
    return params, cap


def _session_for(args: argparse.Namespace, default_session: str, this_cell: str) -> Session:
    """The cell's session (made on first use, or forked with --fork-from); the cell's sticky flags
    are applied around the turn (``Session.try_settings``).

    A --fork-from cell run again finds the fork it made: the re-run regenerates its turn there,
    as any re-run does; another cell cannot fork into an existing session."""
    reg = registry()
    sid = args.session_id or default_session
    if args.base_url is not None:
        require_http_url(args.base_url)
    try:
        if args.fork_from:
            if sid not in reg.ids():
                return reg.fork(args.fork_from, sid)
            existing = reg.get(sid)
            if not forked_by(existing, args.fork_from, this_cell):
                raise UsageError(f"session {sid!r} already exists; --fork-from needs a new session id")
            return existing
        return reg.get(sid, create=True)
    except (ConfigurationError, SessionNotFoundError) as exc:
        raise UsageError(str(exc)) from None


def _not_kept(session: Session, replaced: dict[str, Any]) -> str:
    """The sentence saying that this cell's flags were put back (``try_settings`` did it)."""
    if not replaced:
        return ""
    flags = ", ".join(f"--{k.replace('_', '-')}" for k in replaced)
    return f"{flags} did not stick: session {session.session_id!r} is unchanged and keeps its earlier settings"


def _url_source(session: Session, replaced: dict[str, Any]) -> str:
    """Where the server URL of a failing turn came from, named so the user can change it."""
    sid = session.session_id
    if "base_url" in replaced:
        return "The URL is this cell's --base-url"
    if "base_url" in session.settings:
        if from_config(session, "base_url"):
            return (
                f"The URL is %config ChatMagics.base_url, kept by session {sid!r} (%chat config {sid} --reset base_url)"
            )
        return (
            f"The URL is session {sid!r}'s base_url setting, from an earlier --base-url "
            f"(%chat config {sid} shows it, %chat config {sid} --reset base_url removes it)"
        )
    if os.environ.get("OPENAI_BASE_URL"):
        return "The URL is $OPENAI_BASE_URL (set it, or give --base-url)"
    return ""


def _from_namespace(ns: dict[str, Any], name: str, what: str, check: Callable[[Any], bool]) -> Any:
    name = name.strip()
    value = ns.get(name)
    if value is None or not check(value):
        hint = "a pydantic BaseModel subclass" if what == "schema" else "a function"
        raise UsageError(f"--{what}s {name!r}: no such {hint} in your namespace; define it first")
    return value


def _is_model(value: Any) -> bool:
    from pydantic import BaseModel

    return isinstance(value, type) and issubclass(value, BaseModel)
