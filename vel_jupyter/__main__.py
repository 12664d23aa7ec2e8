"""``python -m vel_jupyter demo``: a short streamed, multi-turn conversation, printed.

With ``--notebook PATH`` it executes that notebook headless on a real kernel instead,
prints its conversation cell by cell and writes the executed copy to ``--output``. The model:
OPENAI_API_KEY / OPENAI_BASE_URL when set; else ``--llama-server BIN --model-file GGUF`` (what
``make demo`` passes: a local instruct model, served for the run and stopped after it); else, or
with ``--offline``, the offline ``echo`` provider.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from . import Agent

DEMO_PROMPTS = (
    "My name is Alice.",
    "I'm a software engineer.",
    "What do you know about me?",
)


def demo(model: str | None) -> int:
    agent = Agent(model=model)
    session = agent.session(system="You are a concise assistant.")
    print(f"provider={agent.provider_name} model={session.model} session={session.session_id}\n")
    for prompt in DEMO_PROMPTS:
        print(f"user> {prompt}")
        print("assistant> ", end="", flush=True)
        stream = session.stream(prompt)
        for event in stream:
            if event.type == "text_delta":
                print(event.text, end="", flush=True)
        assert stream.response is not None
        usage = stream.response.usage
        print(f"\n  [{usage.prompt_tokens}+{usage.completion_tokens} tokens, {stream.response.latency_ms:.1f} ms]\n")
    forked = session.fork(session_id="demo-fork")
    forked.run("Actually, call me Bob.")
    print(f"history: {len(session.messages)} messages; fork {forked.session_id!r}: {len(forked.messages)} messages")
    return 0


def demo_notebook(path: str, output: str, *, timeout: int = 300) -> int:
    """Run a notebook like a user would (Run All), print each %%chat turn as its cell finishes,
    save the result. A failure is one line on stderr and exit status 1, never a traceback."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = nbformat.read(path, as_version=4)
    printer = _TurnPrinter()
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        on_cell_executed=lambda cell, cell_index, execute_reply: printer.cell(cell),
    )
    try:
        client.execute()
    except CellTimeoutError:
        cell = _running_cell(notebook)
        print(
            f"demo: a cell took longer than {timeout} s ({cell}); the model may be slow on a busy machine: "
            "run `make demo` again, or set OPENAI_BASE_URL to a faster server",
            file=sys.stderr,
        )
        return 1
    except DeadKernelError:
        print("demo: the notebook's kernel died (out of memory?); run `make demo` again", file=sys.stderr)
        return 1
    except CellExecutionError as exc:
        print(f"demo: {_first_line(exc)}; the executed notebook shows the cell", file=sys.stderr)
        _save(notebook, output)
        return 1
    _save(notebook, output)
    return 0


def _save(notebook: object, output: str) -> None:
    import nbformat

    Path(output).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, output)
    print(f"executed notebook written to {output}")


def _running_cell(notebook: object) -> str:
    """The first code cell with no outputs yet: the one that was running (its first line)."""
    for index, cell in enumerate(getattr(notebook, "cells", [])):
        if cell.cell_type == "code" and cell.get("execution_count") is None and cell.source.strip():
            return f"cell {index}: {cell.source.strip().splitlines()[0][:60]}"
    return "a cell"


def _first_line(exc: BaseException) -> str:
    """A cell's error as its exception line (nbclient's message also quotes the cell and a traceback)."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    named = [line for line in lines if ("Error:" in line or "Exception:" in line) and not line.startswith(" ")]
    return (named[-1] if named else lines[-1] if lines else type(exc).__name__).strip()[:300]


class _TurnPrinter:
    """Prints what each executed cell shows of the conversation: turns, exports, trees."""

    def __init__(self) -> None:
        self.echo_noted = False

    def cell(self, cell: Any) -> None:
        from .formats.kinds import SESSION_KIND, SESSION_MIME, TREE_MIME
        from .jupyter.display import ECHO_NOTE

        if cell.cell_type != "code":
            return
        for output_ in cell.outputs:
            data = output_.get("data", {})
            turn = data.get(SESSION_MIME)
            if TREE_MIME in data:
                print(f"[{data[TREE_MIME]['focus']}] {data['text/plain']}\n", flush=True)
            elif turn and turn.get("kind") == SESSION_KIND:
                branches = len(turn["heads"])
                print(f"[{turn['session_id']}] exported: {len(turn['messages'])} messages, {branches} branches\n")
            elif output_.get("output_type") == "stream" and output_.get("name") == "stdout":
                for line in output_.get("text", "").rstrip().splitlines():
                    print(f"  {line}")
                print(flush=True)
            elif turn and not turn.get("live"):
                if turn.get("provider") == "echo" and not self.echo_noted:
                    self.echo_noted = True  # as the notebook's badge says: these answers are no model's
                    print(f"(answers below: {ECHO_NOTE})\n")
                for message in turn["messages"]:
                    calls = ", ".join(f"{c['name']}({c['arguments']})" for c in message.get("tool_calls", []))
                    text = message["content"].strip() or f"[calls {calls}]"
                    print(f"[{turn['session_id']}] {message['role']}> {text}")
                if turn.get("finish_note"):  # the payload's words, as the notebook shows them
                    print(f"[{turn['session_id']}] ({turn['finish_note']})")
                print(flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vel_jupyter")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="run a short streamed conversation and print it")
    demo_parser.add_argument("--model", default=None, help="model name (default: the provider's)")
    demo_parser.add_argument("--notebook", help="execute this notebook headless instead and print its conversation")
    demo_parser.add_argument("--output", default="build/demo.ipynb", help="where the executed notebook is written")
    demo_parser.add_argument("--llama-server", type=Path, help="serve --model-file with this llama-server binary")
    demo_parser.add_argument("--model-file", type=Path, help="a GGUF instruct model for --llama-server")
    demo_parser.add_argument("--chat-template", type=Path, help="a Jinja chat template file for --llama-server")
    demo_parser.add_argument("--offline", action="store_true", help="use the offline echo provider")
    demo_parser.add_argument("--timeout", type=int, default=300, help="seconds a notebook cell may take")
    args = parser.parse_args(argv)
    if args.command != "demo":  # pragma: no cover - argparse rejects unknown commands
        return 2
    configured = os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")
    if args.offline:  # the echo provider: no server, no key (the notebook says its answers are no model's)
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            os.environ.pop(name, None)
    elif not configured and args.llama_server and args.model_file:
        return _with_local_model(args)
    if not args.notebook:
        return demo(args.model)
    return demo_notebook(args.notebook, args.output, timeout=args.timeout)


def _with_local_model(args: argparse.Namespace) -> int:
    """Serve the local model for the demo's kernel (which inherits this environment), then stop it."""
    from ._local_model import MODEL_NAME, LocalModel, LocalModelError

    started = time.monotonic()
    try:
        with LocalModel(args.llama_server, args.model_file, chat_template=args.chat_template) as model:
            print(
                f"local model: {MODEL_NAME} on llama-server at {model.base_url} (loaded in {time.monotonic() - started:.1f} s)\n"
            )
            os.environ["OPENAI_BASE_URL"] = model.base_url
            os.environ["VEL_MODEL"] = MODEL_NAME
            if not args.notebook:
                return demo(args.model or MODEL_NAME)
            return demo_notebook(args.notebook, args.output, timeout=args.timeout)
    except LocalModelError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo: stopped (the local model server was stopped too)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
