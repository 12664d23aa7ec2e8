"""A separate process that talks to a store: ``python -m tests.support.store_worker COMMAND STORE_URL SESSION [N]``.

``turns``: run N echo turns on SESSION (stores shared between processes must lose nothing).
``build``: write a session with branches, a fork and usage, then print its to_dict() JSON.
``dump``: load SESSION and print its to_dict() JSON.
"""

from __future__ import annotations

import json
import sys

from vel_jupyter import Agent


def main(argv: list[str]) -> int:
    command, store, session_id = argv[:3]
    agent = Agent(provider="echo", session_storage=store)
    if command == "turns":
        session = agent.session(session_id=session_id)
        for i in range(int(argv[3])):
            session.run(f"{argv[4]}-{i}")
        return 0
    if command == "build":
        session = agent.session(session_id=session_id, system="built elsewhere")
        session.run("one", cell_id="c1")
        session.run("two", temperature=0.5)
        session.regenerate(prompt="two, again")
        fork = session.fork(f"{session_id}-fork")
        fork.run("forked turn")
        session.checkout(0)
        print(json.dumps({"session": session.to_dict(), "fork": fork.to_dict()}))
        return 0
    if command == "dump":
        print(json.dumps(agent.session(session_id=session_id).to_dict()))
        return 0
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
