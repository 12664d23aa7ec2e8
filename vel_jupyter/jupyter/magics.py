"""``%%chat`` cells and ``%chat`` commands: the IPython glue. The magic's options are traitlets
(``%config ChatMagics``); a cell's turn runs in chat_cell.py, each command in the module of its
group (``HANDLERS``); the magic parses, calls them, and turns their errors into one line."""

from __future__ import annotations

import argparse
import math
import re
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Float, Int, Unicode, observe

from ..core.secrets import KEYRING
from ..errors import ConfigurationError, SessionNotFoundError
from ..providers import set_fallback_notice
from . import branch_commands, saved_commands, session_commands, settings_commands, state_commands
from .chat_cell import run_turn
from .commands import Caller, Handler, command_help, parse
from .registry import DEFAULT_MAX_TOKENS, registry
from .running_cell import words_of
from .settings_commands import switch_store
from .texts import NO_MODEL_NOTICE

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
    keep_stopped = Bool(
        True,
        help="Keep the answer so far of a turn you stop (the stop button, Ctrl-C), marked stopped; "
        "False: a stopped turn leaves the session as it was.",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        # A turn on the offline echo that nobody asked for says so once, as plain output above
        # its answer (not at %load_ext: the next cell may well name a server).
        self._no_model_said = False
        set_fallback_notice(self._say_no_model)
        if self.base_url is not None:  # from ipython_config.py: what %config shows keeps no key
            self.base_url = KEYRING.keep(self.base_url)
        # %reload_ext keeps the sessions: the registry outlives the Magics instance, and
        # settings made with %config reconfigure it instead of replacing it.
        reg = registry()
        for name, value in self._defaults().items():
            if value is not None and reg.defaults.get(name) != value:
                reg.set_default(name, value)
        reg.max_tokens = self.max_tokens
        reg.keep_stopped = self.keep_stopped
        if self.context_window is not None and self.context_window != reg.context_window:
            reg.set_context_window(self.context_window)
        if self.store is not None and KEYRING.keep(self.store) != reg.store_spec:
            switch_store(self.store)
        if self.store is not None and KEYRING.keep(self.store) != self.store:
            self.store = KEYRING.keep(self.store)  # what %config shows keeps no password

    def _say_no_model(self) -> None:
        if not self._no_model_said:
            self._no_model_said = True
            print(NO_MODEL_NOTICE, flush=True)

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
            switch_store(new or "memory")
        except UsageError:
            spec = registry().store_spec  # the trait shows the store still in use, never the failed URL
            self.store = spec if isinstance(spec, str) else None
            raise
        if new is not None and KEYRING.keep(new) != new:
            self.store = KEYRING.keep(new)  # %config shows the URL with *** for its password; observed again

    @observe("keep_stopped")
    def _keep_stopped_changed(self, change: Any) -> None:
        registry().keep_stopped = change["new"]

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
        try:
            args = self.chat.parser.parse_args(words_of(line))
        except UsageError as exc:  # argparse quotes the words it refused as they are: keep it one line
            raise UsageError(repr(str(exc))[1:-1] if "\n" in str(exc) else str(exc)) from None
        run_turn(
            self._shell,
            args,
            line,
            cell,
            default_session=self.default_session,
            allow_incomplete=self.allow_incomplete,
            keep_stopped=self.keep_stopped,
            stream_interval=self.stream_interval,
        )

    # -- %chat commands -----------------------------------------------------------------------

    def _command(self, line: str) -> Any:
        words = words_of(line)
        if not words:
            print(HELP)
            return None
        args = parse(words)  # commands.py: argparse subparsers, one UsageError line for any mistake
        try:
            return HANDLERS[args.command](args, Caller(self.shell, self.default_session))
        except (SessionNotFoundError, ConfigurationError) as exc:
            raise UsageError(str(exc)) from None


def _both_forms(doc: str) -> str:
    """``%chat?`` and ``%%chat?`` show one docstring (IPython keeps one per name): the cell form's
    options, generated by magic_arguments with the line form's name, then the commands."""
    doc = doc.replace("  %chat [", "  %%chat [", 1)
    return f"{doc}\n%chat COMMAND (a line, no cell body):\n\n{command_help()}\n"


ChatMagics.chat.__doc__ = _both_forms(ChatMagics.chat.__doc__ or "")


def _help(args: argparse.Namespace, caller: Caller) -> None:
    print(command_help(args.topic) if args.topic else HELP)


HANDLERS: dict[str, Handler] = {
    "help": _help,
    "list": session_commands.list_sessions,
    "show": session_commands.show_session,
    "history": session_commands.history,
    "get": session_commands.get,
    "fork": branch_commands.fork,
    "branches": branch_commands.branches,
    "checkout": branch_commands.checkout,
    "config": settings_commands.config,
    "clear": session_commands.clear,
    "delete": session_commands.delete,
    "system": session_commands.system,
    "store": settings_commands.store,
    "restore": saved_commands.restore,
    "export": saved_commands.export,
    "tree": branch_commands.tree,
    "state": state_commands.state,
}
"""Each ``%chat`` command (commands.COMMANDS) and the function that runs it."""
