"""``python -m vel_jupyter demo``: a short streamed, multi-turn conversation, printed.

Uses the offline ``echo`` provider unless OPENAI_API_KEY or OPENAI_BASE_URL is set.
"""

from __future__ import annotations

import argparse
import sys

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vel_jupyter")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="run a short streamed conversation and print it")
    demo_parser.add_argument("--model", default=None, help="model name (default: the provider's)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.model)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
