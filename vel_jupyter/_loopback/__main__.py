"""``python -m vel_jupyter._loopback``: serve a loopback OpenAI-compatible API in its own process
(benchmarks and the browser tests), printing ``READY <base_url>`` once it listens."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Sequence

from .replies import Reply
from .server import OpenAIServer


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m vel_jupyter._loopback", description="Serve a loopback OpenAI-compatible API."
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0: any free port)")
    answer = parser.add_mutually_exclusive_group()
    answer.add_argument(
        "--words", type=int, metavar="N", help="answer every request with the N words tok0 ... tok<N-1> (default: echo)"
    )
    answer.add_argument("--text", help="answer every request with exactly TEXT (default: echo)")
    parser.add_argument(
        "--delay", type=float, default=0.0, metavar="SECONDS", help="pause between streamed chunks (one chunk per word)"
    )
    args = parser.parse_args(argv)
    text: str | None = args.text if args.words is None else " ".join(f"tok{i}" for i in range(args.words))
    if args.delay and text is None:
        parser.error("--delay needs --words or --text")
    default = None if text is None else Reply.text(text, delay=args.delay)
    server = OpenAIServer(port=args.port, default=default).start()
    print(f"READY {server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
