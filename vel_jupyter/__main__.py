"""``python -m vel_jupyter demo``: a short streamed, multi-turn conversation, printed.

With ``--notebook PATH`` it executes that notebook headless on a real kernel instead,
prints its conversation and writes the executed copy to ``--output``. Uses the offline
``echo`` provider unless OPENAI_API_KEY or OPENAI_BASE_URL is set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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


def demo_notebook(path: str, output: str) -> int:
    """Run a notebook like a user would (Run All), print its %%chat turns, save the result."""
    import nbformat
    from nbclient import NotebookClient

    from .jupyter.display import ECHO_NOTE, SESSION_MIME
    from .jupyter.tree_data import TREE_MIME

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    echo_noted = False
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output_ in cell.outputs:
            data = output_.get("data", {})
            turn = data.get(SESSION_MIME)
            if TREE_MIME in data:
                print(f"[{data[TREE_MIME]['focus']}] {data['text/plain']}\n")
            elif turn and turn.get("kind") == "vel_jupyter.session":
                branches = len(turn["heads"])
                print(f"[{turn['session_id']}] exported: {len(turn['messages'])} messages, {branches} branches\n")
            elif turn:
                if turn.get("provider") == "echo" and not echo_noted:
                    echo_noted = True  # as the notebook's badge says: these answers are no model's
                    print(f"(answers below: {ECHO_NOTE})\n")
                for message in turn["messages"]:
                    calls = ", ".join(f"{c['name']}({c['arguments']})" for c in message.get("tool_calls", []))
                    text = message["content"].strip() or f"[calls {calls}]"
                    print(f"[{turn['session_id']}] {message['role']}> {text}")
                print()
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, output)
    print(f"executed notebook written to {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vel_jupyter")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="run a short streamed conversation and print it")
    demo_parser.add_argument("--model", default=None, help="model name (default: the provider's)")
    demo_parser.add_argument("--notebook", help="execute this notebook headless instead and print its conversation")
    demo_parser.add_argument("--output", default="build/demo.ipynb", help="where the executed notebook is written")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo_notebook(args.notebook, args.output) if args.notebook else demo(args.model)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
