"""``%chat``'s subcommands as argparse subparsers: one parser, each command's usage and help
generated from it, every mistake one ``UsageError`` line (IPython's magic_arguments are argparse
too). The magic maps each command name to a handler that takes the parsed arguments and the
``Caller`` (``HANDLERS`` in magics.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from IPython.core.error import UsageError

SETTINGS = ("model", "provider", "base_url", "params", "ttl")  # what sticks to a session (Session.configure)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that fails with one UsageError line instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}; usage: {' '.join(self.format_usage().split()[1:])}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:  # (--help is not offered)
        raise UsageError(message or f"usage: {' '.join(self.format_usage().split()[1:])}")


@dataclass(frozen=True)
class Caller:
    """What a command's handler may use of the magic that runs it."""

    shell: Any  # the IPython shell (None outside one)
    default_session: str  # %config ChatMagics.default_session


Handler = Callable[[argparse.Namespace, Caller], Any]
"""A command: its parsed arguments and its caller in, what the cell shows (or None) out."""


# name: (arguments after %chat NAME as the usage shows them, what it does)
COMMANDS: dict[str, tuple[str, str]] = {
    "help": ("[COMMAND]", "this list, or one command's usage"),
    "list": ("", "every session: model, messages, branches, tokens, last update"),
    "show": ("ID", "a session's conversation"),
    "history": ("ID [--branches]", "a session as a DataFrame, one row per message"),
    "get": ("ID", "the Session object"),
    "fork": ("SRC [NEW] [--at MESSAGE_ID]", "a new session continuing SRC (from its head, or a message)"),
    "branches": ("ID", "a session's branches, numbered from 1"),
    "checkout": (
        "ID BRANCH [--follow]",
        "continue from branch BRANCH (a number) or a message id (--follow: on the branch through it)",
    ),
    "config": (
        "ID [--base-url URL] [-m NAME] [-p NAME] [--reset [SETTING ...]]",
        "a session's sticky settings: show, set, or --reset them",
    ),
    "clear": ("ID", "forget a session's messages"),
    "delete": ("ID", "delete a session"),
    "system": ("ID TEXT", "set a session's system prompt"),
    "store": ("[URL]", "show the store, or move the sessions to another (sqlite:///…, postgresql://…, redis://…)"),
    "restore": ("[--notebook PATH] [--replace]", "sessions from the store, or from a saved notebook's outputs"),
    "export": ("ID [--file PATH]", "the whole session as JSON in this output (or a file)"),
    "tree": ("[ID] [--widget]", "the fork tree of a session and its forks (--widget: an anywidget)"),
    "state": ("ID [ID ...] [--on MESSAGE_ID ...]", "where sessions stand, as one line of JSON (for the extension)"),
}


def build_parser() -> _Parser:
    parser = _Parser(prog="%chat", add_help=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def command(name: str) -> _Parser:
        usage, summary = COMMANDS[name]
        # (argparse %-formats a usage string: %(prog)s is "%chat NAME")
        made: _Parser = sub.add_parser(
            name, prog=f"%chat {name}", add_help=False, usage=f"%(prog)s {usage}".rstrip(), help=summary
        )
        return made

    command("help").add_argument("topic", nargs="?", metavar="COMMAND", choices=sorted(COMMANDS))
    command("list")
    for name in ("show", "get", "branches", "clear", "delete"):
        command(name).add_argument("session_id", metavar="ID")
    history = command("history")
    history.add_argument("session_id", metavar="ID")
    history.add_argument("--branches", action="store_true")
    fork = command("fork")
    fork.add_argument("source", metavar="SRC")
    fork.add_argument("new", nargs="?", metavar="NEW")
    fork.add_argument("--at", metavar="MESSAGE_ID")
    checkout = command("checkout")
    checkout.add_argument("session_id", metavar="ID")
    checkout.add_argument("target", metavar="BRANCH")
    checkout.add_argument("--follow", action="store_true")
    config = command("config")
    config.add_argument("session_id", metavar="ID")
    config.add_argument("--base-url", dest="base_url", metavar="URL")
    config.add_argument("-m", "--model", metavar="NAME")
    config.add_argument("-p", "--provider", metavar="NAME")
    config.add_argument("--reset", nargs="*", metavar="SETTING")
    system = command("system")
    system.add_argument("session_id", metavar="ID")
    system.add_argument("text", nargs="+", metavar="TEXT")
    command("store").add_argument("url", nargs="?", metavar="URL")
    restore = command("restore")
    restore.add_argument("--notebook", metavar="PATH")
    restore.add_argument("--replace", action="store_true")
    export = command("export")
    export.add_argument("session_id", metavar="ID")
    export.add_argument("--file", metavar="PATH")
    tree = command("tree")
    tree.add_argument("session_id", nargs="?", metavar="ID")
    tree.add_argument("--widget", action="store_true")
    state = command("state")
    state.add_argument("session_ids", nargs="+", metavar="ID")
    state.add_argument("--on", nargs="*", metavar="MESSAGE_ID")
    return parser


PARSER = build_parser()


def parse(words: list[str]) -> argparse.Namespace:
    """``%chat WORDS`` as a namespace with ``command`` and its arguments; else one UsageError line."""
    if words and words[0] not in COMMANDS:
        raise UsageError(
            f"unknown command {words[0]!r}; use one of: {', '.join(sorted(COMMANDS))} (or %%chat for a turn)"
        )
    args, extra = PARSER.parse_known_args(words)
    if extra:  # (argparse would report these against "%chat COMMAND": name the command's own usage)
        raise UsageError(f"unrecognized arguments: {' '.join(extra)}; {usage_of(args.command)}")
    return args


def command_help(topic: str | None = None) -> str:
    """The commands' usage lines and what each does (one command's, with ``topic``)."""
    names = [topic] if topic else list(COMMANDS)
    lines = [(f"%chat {name} {COMMANDS[name][0]}".rstrip(), COMMANDS[name][1]) for name in names]
    width = min(max(len(usage) for usage, _ in lines), 46)
    return "\n".join(
        f"{usage:<{width}}  {summary}" if len(usage) <= width else f"{usage}\n{'':<{width}}  {summary}"
        for usage, summary in lines
    )


def usage_of(name: str) -> str:
    """``usage: %chat NAME …`` for a handler's own checks (one line)."""
    return f"usage: %chat {name} {COMMANDS[name][0]}".rstrip()
