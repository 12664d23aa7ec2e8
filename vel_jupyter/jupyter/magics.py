"""``%%chat`` cells and ``%chat`` commands. Bodies stay thin: parse, call the registry, display."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Float, Int, Unicode, observe

from ..core.secrets import KEYRING
from ..core.session import Session
from ..errors import (
    AgentError,
    ConfigurationError,
    ProviderError,
    SessionDataError,
    SessionNotFoundError,
    StoreError,
    TurnInterrupted,
)
from ..formats.text import clean_text
from .commands import SETTINGS, command_help, parse, usage_of
from .display import LiveView, extract_code, final_bundle, finish_note
from .interpolate import interpolate
from .registry import DEFAULT_MAX_TOKENS, registry, turn_parent
from .tables import branch_rows, config_rows, default_cap, from_config, print_servers, print_table

FORMATS = ("markdown", "text", "code", "json")

TURN_HELP = """\
%%chat [SESSION_ID] [options]      the cell body is the next user turn of SESSION_ID
  -s/--system TEXT   -m/--model NAME   -p/--provider NAME   --base-url URL
  -t/--temperature X   --max-tokens N   -f/--format markdown|text|code|json
  --schema NAME (a pydantic model: structured output)   --tools a,b (functions)
  --tool-choice auto|required|none (must the model call a tool first?)
  -o/--out VAR (the Response)   --no-stream   --fork-from SRC   --append   --raw
  {name}, {name.attr}, {name[key]} are replaced from your namespace; {{ }} are braces.
  Re-running a cell regenerates its turn as a new branch (--append adds a turn instead)."""
HELP = f"{TURN_HELP}\n\n{command_help()}"


def _ascii_int(text: str) -> int:
    """A positive count written in ASCII digits (argparse turns the ValueError into a usage line)."""
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1:
        raise ValueError(text)
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # NaN and inf are no JSON a server reads
        raise ValueError(text)
    return value


_ascii_int.__name__ = "positive whole number"  # how argparse names the type in its error line
_finite_float.__name__ = "finite number"


def _short_error(exc: BaseException, more: str = "", *, own_hint: bool = False) -> BaseException:
    """Let IPython show one or two lines instead of a traceback (the cell still fails);
    ``more``: what this cell adds (where the URL came from, settings put back), which with
    ``own_hint`` replaces the error's generic hint."""
    text = exc.reason if own_hint and isinstance(exc, ProviderError) else str(exc)
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


@magics_class
class ChatMagics(Magics):
    """Multi-turn LLM sessions in notebook cells (``%load_ext vel_jupyter``)."""

    default_session = Unicode("default", help="Session used by %%chat cells that name none.").tag(config=True)
    provider = Unicode(None, allow_none=True, help="Provider of new sessions (openai, echo, ...).").tag(config=True)
    model = Unicode(None, allow_none=True, help="Model of new sessions.").tag(config=True)
    base_url = Unicode(None, allow_none=True, help="OpenAI-compatible server URL for new sessions.").tag(config=True)
    store = Unicode(
        None, allow_none=True, help="Store URL (sqlite:///path.db, postgresql://..., redis://...); else $VEL_STORE."
    ).tag(config=True)
    stream_interval = Float(0.05, help="Seconds between redraws of a streaming answer (at most ~20/s).").tag(
        config=True
    )
    context_window = Int(None, allow_none=True, help="Send at most this many history messages (None: all).").tag(
        config=True
    )
    max_tokens = Int(
        DEFAULT_MAX_TOKENS,
        allow_none=True,
        help="Cap on an answer's tokens for turns that set none (--max-tokens, or the session's params); "
        "an answer that reaches it is marked cut off. None: no cap.",
    ).tag(config=True)
    allow_incomplete = Bool(
        True,
        help="Keep answers cut off at --max-tokens (marked as such); False: fail the cell and keep the session as it was.",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        if self.base_url is not None:  # from ipython_config.py: what %config shows keeps no key
            self.base_url = KEYRING.keep(self.base_url)
        # %reload_ext keeps the sessions: the registry outlives the Magics instance, and
        # settings made with %config reconfigure it instead of replacing it.
        reg = registry()
        for name, value in self._defaults().items():
            if value is not None and reg.defaults.get(name) != value:
                reg.set_default(name, value)
        reg.max_tokens = self.max_tokens
        if self.context_window is not None and self.context_window != reg.context_window:
            reg.set_context_window(self.context_window)
        if self.store is not None and KEYRING.keep(self.store) != reg.store_spec:
            self._switch_store(self.store)
        if self.store is not None and KEYRING.keep(self.store) != self.store:
            self.store = KEYRING.keep(self.store)  # what %config shows keeps no password

    @property
    def _shell(self) -> Any:
        assert self.shell is not None, "ChatMagics needs an IPython shell"
        return self.shell

    def _defaults(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "base_url": self.base_url}

    @observe("provider", "model", "base_url")
    def _defaults_changed(self, change: Any) -> None:
        name, value = change["name"], change["new"]
        if name == "base_url" and value is not None and KEYRING.keep(value) != value:
            self.base_url = KEYRING.keep(value)  # %config shows the URL with *** for its key; observed again
            return
        registry().set_default(name, value)

    @observe("store")
    def _store_changed(self, change: Any) -> None:
        new = change["new"]
        if new is not None and new == registry().store_spec:  # the shown form of the store in use
            return
        try:
            self._switch_store(new or "memory")
        except UsageError:
            spec = registry().store_spec  # the trait shows the store still in use, never the failed URL
            self.store = spec if isinstance(spec, str) else None
            raise
        if new is not None and KEYRING.keep(new) != new:
            self.store = KEYRING.keep(new)  # %config shows the URL with *** for its password; observed again

    @observe("max_tokens")
    def _cap_changed(self, change: Any) -> None:
        registry().max_tokens = change["new"]

    @observe("context_window")
    def _window_changed(self, change: Any) -> None:
        registry().set_context_window(change["new"])

    # -- %%chat -----------------------------------------------------------------------------

    @magic_arguments()
    @argument("session_id", nargs="?", help="session to continue (created on first use)")
    @argument("-s", "--system", help="system prompt (sticks to the session)")
    @argument("-m", "--model", help="model (sticks to the session)")
    @argument("-p", "--provider", help="provider: openai, echo, ... (sticks to the session)")
    @argument("--base-url", help="OpenAI-compatible server (sticks to the session)")
    @argument("-t", "--temperature", type=_finite_float, help="sampling temperature")
    @argument("--max-tokens", type=_ascii_int, help="answer length limit")
    @argument("-f", "--format", choices=FORMATS, default="markdown", help="how to show the answer")
    @argument("--schema", help="a pydantic model in your namespace: structured output")
    @argument("--tools", help="comma-separated functions in your namespace the model may call")
    @argument("--tool-choice", choices=("auto", "required", "none"), help="whether the model must call a tool first")
    @argument("-o", "--out", help="variable that receives the Response")
    @argument("--no-stream", action="store_true", help="show the answer only when complete")
    @argument("--fork-from", help="create SESSION_ID as a fork of this session first")
    @argument("--append", action="store_true", help="add a turn even when this cell already made one")
    @argument("--raw", action="store_true", help="send the body as written (no {name} interpolation)")
    @line_cell_magic
    def chat(self, line: str, cell: str | None = None) -> Any:
        """%%chat [SESSION_ID] [options]: the cell body is the next turn; %chat help for commands."""
        if cell is None:
            return self._command(line)
        return self._turn(line, cell)

    def _turn(self, line: str, cell: str) -> None:
        try:  # POSIX quoting, so -s 'Be brief.' means Be brief. (IPython's parser keeps the quotes)
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"cannot parse {line!r}: {exc}") from None
        args = self.chat.parser.parse_args(words)
        ns = self._shell.user_ns
        # The body ends with the cell's newline; leading blank lines are not part of the prompt.
        body = clean_text(cell.lstrip("\n").rstrip())
        # Interpolated values are text from anywhere: the one rule for unstorable characters,
        # and no key this process holds ({os.environ} in a mailed notebook's cell) is ever
        # sent, stored or shown.
        prompt = KEYRING.scrub(body if args.raw else clean_text(interpolate(body, ns)))
        if not prompt.strip():
            raise UsageError("the cell is empty: write the prompt below the %%chat line")
        session, undo = self._session_for(args)
        params: dict[str, Any] = {"allow_incomplete": self.allow_incomplete}
        if args.temperature is not None:
            params["temperature"] = args.temperature
        cap = None if args.max_tokens is not None else default_cap(session)
        if args.max_tokens is not None:
            params["max_tokens"] = args.max_tokens
        elif cap is not None:  # a runaway model stops, as in a chat app
            params["max_tokens"] = cap
        if args.tools:
            params["tools"] = [self._from_namespace(name, "tool", callable) for name in args.tools.split(",")]
        if args.tool_choice is not None:
            if not args.tools and args.tool_choice == "required":
                raise UsageError("--tool-choice required needs --tools NAME[,NAME]: the functions it may call")
            params["tool_choice"] = args.tool_choice
        schema = self._from_namespace(args.schema, "schema", _is_model) if args.schema else None
        cell_id = self._cell_id(line, cell)
        params.update(turn_parent(session, cell_id, args.append))
        rich = getattr(self.shell, "kernel", None) is not None
        shown = prompt if prompt != body else None  # the prompt is shown only when interpolation changed it
        view = LiveView(
            rich=rich,
            interval=self.stream_interval,
            prompt=shown,
            session_id=session.session_id,
            fmt="json" if schema is not None else args.format,
            provider=session.provider_name,
        )
        try:
            stream = session.stream(prompt, schema=schema, cell_id=cell_id, **params)
            if not args.no_stream:
                view.start()
                try:
                    for event in stream:
                        view.feed(event)
                except KeyboardInterrupt as exc:
                    # Ctrl-C between two events (while the answer is drawn) stops the turn as one
                    # inside the stream does: abandoned, nothing kept, one line.
                    stream.close()
                    raise exc if isinstance(exc, TurnInterrupted) else TurnInterrupted(stream.text) from None
            else:
                stream.collect()
        except TurnInterrupted as exc:
            if not args.no_stream:
                view.stop()
            raise _short_error(exc, self._undo_settings(session, undo)) from None
        except ConfigurationError as exc:
            undone = self._undo_settings(session, undo)
            raise UsageError(_sentences(str(exc), undone)) from None
        except AgentError as exc:
            if not args.no_stream:
                view.stop()
            source = self._url_source(session, undo) if isinstance(exc, ProviderError) else ""
            undone = self._undo_settings(session, undo) or f"Session {session.session_id!r} is unchanged"
            raise _short_error(exc, _sentences(source, undone), own_hint=bool(source)) from None
        response = stream.response
        assert response is not None
        bundle = final_bundle(session, response, fmt=args.format, prompt=shown, default_cap=cap)
        handle: Any = None
        if not args.no_stream:
            view.finish(bundle, finish_note(response, cap))
            handle = view.handle
        elif rich:
            from IPython.display import display

            handle = display(bundle, raw=True, display_id=True)
        else:
            print(bundle["text/plain"])
        if handle is not None:  # a frontend: the output follows its session (shown.py)
            registry().shown.add(session, handle.display_id, response, bundle, fmt=args.format, prompt=shown)
        if args.out:
            ns[args.out] = response
        if args.format == "code":
            self._shell.set_next_input(extract_code(response.text), replace=False)

    def _session_for(self, args: Any) -> tuple[Session, dict[str, Any]]:
        """The cell's session, with the cell's sticky flags applied, and what they replaced
        (``{setting: previous value or None}``) so a failing first turn can undo them."""
        reg = registry()
        sid = args.session_id or self.default_session
        if args.base_url is not None and not args.base_url.startswith(("http://", "https://")):
            raise UsageError(f"--base-url {args.base_url!r} must be an http(s) URL, e.g. http://localhost:11434/v1")
        try:
            if args.fork_from:
                if sid in reg.ids():
                    raise UsageError(f"session {sid!r} already exists; --fork-from needs a new session id")
                session = reg.fork(args.fork_from, sid)
            else:
                session = reg.get(sid, create=True)
            undo = session.change_settings(
                system=args.system, model=args.model, provider=args.provider, base_url=args.base_url
            )
        except (ConfigurationError, SessionNotFoundError) as exc:
            raise UsageError(str(exc)) from None
        return session, undo

    def _undo_settings(self, session: Session, undo: dict[str, Any]) -> str:
        """Put back the settings this cell's flags replaced; the sentence that says so."""
        if not undo:
            return ""
        session.restore_settings(undo)
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in undo)
        return f"{flags} did not stick: session {session.session_id!r} is unchanged and keeps its earlier settings"

    def _url_source(self, session: Session, undo: dict[str, Any]) -> str:
        """Where the server URL of a failing turn came from, named so the user can change it."""
        sid = session.session_id
        if "base_url" in undo:
            return "The URL is this cell's --base-url"
        if "base_url" in session.settings:
            if from_config(session, "base_url"):
                return f"The URL is %config ChatMagics.base_url, kept by session {sid!r} (%chat config {sid} --reset base_url)"
            return (
                f"The URL is session {sid!r}'s base_url setting, from an earlier --base-url "
                f"(%chat config {sid} shows it, %chat config {sid} --reset base_url removes it)"
            )
        if os.environ.get("OPENAI_BASE_URL"):
            return "The URL is $OPENAI_BASE_URL (set it, or give --base-url)"
        return ""

    def _from_namespace(self, name: str, what: str, check: Callable[[Any], bool]) -> Any:
        name = name.strip()
        value = self._shell.user_ns.get(name)
        if value is None or not check(value):
            hint = "a pydantic BaseModel subclass" if what == "schema" else "a function"
            raise UsageError(f"--{what}s {name!r}: no such {hint} in your namespace; define it first")
        return value

    def _cell_id(self, line: str, cell: str) -> str:
        """The frontend's cell id (JupyterLab sends it); else a stable id from the cell's text."""
        kernel = getattr(self.shell, "kernel", None)
        if kernel is not None:
            try:
                parent = kernel.get_parent()
            except TypeError:  # older ipykernel: get_parent(channel)
                parent = kernel.get_parent("shell")
            cell_id = ((parent or {}).get("metadata") or {}).get("cellId")
            if cell_id:
                return str(cell_id)
        return "text-" + hashlib.sha1(f"{line}\n{cell}".encode()).hexdigest()[:16]

    # -- %chat commands -----------------------------------------------------------------------

    def _command(self, line: str) -> Any:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"cannot parse {line!r}: {exc}") from None
        if not words:
            print(HELP)
            return None
        args = parse(words)  # commands.py: argparse subparsers, one UsageError line for any mistake
        handlers: dict[str, Callable[[Any], Any]] = {
            "help": self._help, "list": self._list, "show": self._show, "history": self._history,
            "get": self._get, "fork": self._fork, "branches": self._branches, "checkout": self._checkout,
            "config": self._config, "clear": self._clear, "delete": self._delete, "system": self._system,
            "store": self._store, "restore": self._restore, "export": self._export, "tree": self._tree,
        }  # fmt: skip
        try:
            return handlers[args.command](args)
        except (SessionNotFoundError, ConfigurationError) as exc:
            raise UsageError(str(exc)) from None

    def _help(self, args: Any) -> None:
        print(command_help(args.topic) if args.topic else HELP)

    def _list(self, args: Any) -> None:
        rows = [("id", "model", "messages", "branches", "tokens", "updated")]
        damaged = []
        for line in registry().summaries():  # headers only: listing loads no messages
            if line.damaged is not None:  # listed beside the others, with what is wrong
                damaged.append(line)
                rows.append((line.session_id, "damaged: see below", "?", "?", "?", "?"))
                continue
            rows.append(
                (
                    line.session_id,
                    line.model,
                    str(line.messages),
                    str(line.branches),
                    str(line.tokens),
                    line.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
                )
            )
        if len(rows) == 1:
            print("no sessions yet: run a %%chat cell")
            return
        print_table(rows)
        for line in damaged:
            print(f"{line.session_id}: {line.damaged}")

    def _show(self, args: Any) -> None:
        session = registry().get(args.session_id)
        from IPython.display import display

        from .display import show_html

        display({"text/html": show_html(session), "text/plain": repr(session)}, raw=True)

    def _history(self, args: Any) -> Any:
        from .. import history

        return history(registry().get(args.session_id), branches=args.branches)

    def _get(self, args: Any) -> Session:
        return registry().get(args.session_id)

    def _fork(self, args: Any) -> None:
        source, new, at = registry().get(args.source), args.new, args.at
        if new is not None and new in registry().ids():
            raise UsageError(f"session {new!r} already exists; name a new one (or leave it out for a generated id)")
        fork = source.fork(new, at=at) if at is not None else source.fork(new)
        turn = sum(1 for node in fork.nodes if node.message.role == "user")
        where = f" at message {at}" if at is not None else ""
        print(f"forked {source.session_id!r}{where} into {fork.session_id!r}, which continues from turn {turn}")

    def _branches(self, args: Any) -> None:
        rows = branch_rows(registry().get(args.session_id))
        print_table(rows)

    def _checkout(self, args: Any) -> None:
        sid, target = args.session_id, args.target
        session = registry().get(sid)
        count = len(session.heads)
        if re.fullmatch(r"-?[0-9]+", target):  # ASCII digits only: '²'.isdigit() is True, int('²') fails
            number = int(target) if len(target) <= 9 else count + 1
            if not 1 <= number <= count:
                shown = target if len(target) <= 12 else target[:9] + "…"
                raise UsageError(
                    f"no branch {shown}: session {sid!r} has {count} (numbered 1 to {count}; "
                    f"%chat branches {sid} lists them)"
                    if count
                    else f"session {sid!r} has no branches yet: run a %%chat {sid} cell first"
                )
            session.checkout(number - 1)
        else:
            session.checkout(target)
        current = session.current_branch
        if current is not None:
            print(f"{sid!r} now at branch {current + 1} of {count}")
            return
        turn = sum(1 for node in session.nodes if node.message.role == "user")
        print(
            f"{sid!r} continues from turn {turn} (message {session.head}; the next %%chat {sid} cell starts a new branch there)"
        )

    def _config(self, args: Any) -> None:
        sid = args.session_id
        session = registry().get(sid)
        if args.reset is not None:
            names = args.reset or [k for k in SETTINGS if k in session.settings]
            unknown = [n for n in names if n not in SETTINGS]
            if unknown:
                raise UsageError(f"unknown setting {unknown[0]!r}; a session's settings are {', '.join(SETTINGS)}")
            session.configure(**dict.fromkeys(names))
            print(f"reset {', '.join(names) if names else 'nothing (no settings were set)'} of session {sid!r}")
        chosen = {
            k: v for k, v in (("base_url", args.base_url), ("model", args.model), ("provider", args.provider)) if v
        }
        if chosen.get("base_url") and not chosen["base_url"].startswith(("http://", "https://")):
            raise UsageError(
                f"--base-url {chosen['base_url']!r} must be an http(s) URL, e.g. http://localhost:11434/v1"
            )
        if chosen:  # naming a URL here is what lets a restored session talk to it (core/secrets.py)
            session.configure(**chosen)
            print(f"session {sid!r} now uses " + ", ".join(f"{k} {session.settings.get(k)}" for k in chosen))
        print(f"session {sid!r} (a cell's -m/-p/--base-url sticks here; %chat config {sid} --reset removes it):")
        print_table([("setting", "value", "from"), *config_rows(session)], indent="  ")

    def _clear(self, args: Any) -> None:
        registry().get(args.session_id).clear()

    def _delete(self, args: Any) -> None:
        registry().delete(args.session_id)

    def _system(self, args: Any) -> None:
        registry().get(args.session_id, create=True).system = " ".join(args.text)

    def _store(self, args: Any) -> None:
        if args.url:
            self._switch_store(args.url)
        store = registry().agent.store
        print(f"store: {store!r}" if store is not None else "store: memory (this kernel only)")

    def _switch_store(self, spec: str) -> None:
        try:
            registry().use_store(spec)
        except AgentError as exc:
            raise UsageError(str(exc)) from None

    def _tree(self, args: Any) -> Any:
        reg = registry()
        session = reg.get(args.session_id or self.default_session)
        if args.widget:  # for frontends with a widget manager and without the vel-jupyter extension
            from .. import tree

            return tree(session)
        from .tree_data import family
        from .tree_view import tree_bundle

        members = family(session, reg.agent.loaded_sessions())
        bundle = tree_bundle(session, members)
        if getattr(self.shell, "kernel", None) is None:
            print(bundle["text/plain"])
            return None
        from IPython.display import display

        handle = display(bundle, raw=True, display_id=True)
        cell = self._cell_id("tree", f"{args.session_id or ''} {'--widget' if args.widget else ''}".strip())
        reg.shown_trees.add(session, handle.display_id, members, cell=cell)
        return None

    def _restore(self, args: Any) -> None:
        if args.notebook is not None:  # sessions saved in a notebook's outputs (no store needed)
            from ..export.notebook import restore_notebook

            path = args.notebook
            try:
                ids = restore_notebook(path, registry(), replace=args.replace)
            except (SessionDataError, StoreError, OSError) as exc:
                raise UsageError(f"cannot restore from {path}: {exc}") from None
            print(f"restored {len(ids)} sessions from {path}: {', '.join(ids)}" if ids else f"no sessions in {path}")
            print_servers(ids)
            return
        if args.replace:
            raise UsageError(f"--replace goes with --notebook PATH; {usage_of('restore')}")
        ids = registry().restore()
        print(f"restored {len(ids)} sessions: {', '.join(ids)}" if ids else "no stored sessions to restore")
        print_servers(ids)

    def _export(self, args: Any) -> None:
        sid, path = args.session_id, args.file
        session = registry().get(sid)
        if path is not None:
            target = Path(path).expanduser()
            try:
                target.write_text(json.dumps(session.to_dict(), indent=1) + "\n", encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot write {target}: {exc}") from None
            print(f"exported session {sid!r} to {target}")
            return
        from IPython.display import display

        from ..export.notebook import export_bundle

        display(export_bundle(session), raw=True)


def _is_model(value: Any) -> bool:
    from pydantic import BaseModel

    return isinstance(value, type) and issubclass(value, BaseModel)
