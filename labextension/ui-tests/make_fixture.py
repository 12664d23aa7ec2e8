"""Write ui-tests/fixtures/vel-session.ipynb: saved outputs with our mimetype, no kernel needed.

Uses the real engine with the offline echo provider, so the payloads are exactly what
vel_jupyter writes: a turn with a tool call, a hostile turn (branch 2 of 2 after a
regenerate), a full session with three branches, the output of ``%chat export`` for the
same session, and a 1,000-turn session with forks. Run with the project's Python:
python ui-tests/make_fixture.py [OUT.ipynb] (ui.test.mjs writes a fresh one for every run).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vel_jupyter import Agent
from vel_jupyter.export.notebook import export_bundle
from vel_jupyter.formats.kinds import SESSION_MIME
from vel_jupyter.jupyter.display import final_bundle

OUT = Path(__file__).with_name("fixtures") / "vel-session.ipynb"

HOSTILE = (
    "<img src=x onerror=window.__pwned=1> <script>window.__pwned=2</script> "
    '[click](javascript:window.__pwned=3) <a href="javascript:window.__pwned=4">a link</a> <b>bold?</b>'
)


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: The city name.
    """
    return f"18 C and sunny in {city} <script>alert(1)</script>"


def output(bundle: dict) -> dict:
    return {"output_type": "display_data", "data": bundle, "metadata": {}}


def cell(source: str, *outputs: dict) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": f"cell-{len(CELLS)}",
        "metadata": {},
        "outputs": list(outputs),
        "source": source,
    }


CELLS: list[dict] = []


def main(out: Path = OUT) -> None:
    agent = Agent(provider="echo", tools=[get_weather])
    s = agent.session(session_id="smoke", system="You are a concise assistant. <script>x</script>")
    s.run("My name is Alice")
    r = s.run('call get_weather {"city": "Lima"}')
    CELLS.append(cell("tool turn", output(final_bundle(s, r))))
    s.regenerate()
    r = s.run("Thanks! " + HOSTILE)
    CELLS.append(cell("turn", output(final_bundle(s, r))))

    s.checkout(0)
    s.run("A third path")
    s.regenerate()
    session = s.to_dict()
    CELLS.append(cell("session", output({SESSION_MIME: session, "text/plain": "<session smoke>"})))
    CELLS.append(cell("%chat export smoke", output(export_bundle(s))))

    big = Agent(provider="echo").session(session_id="big")
    for i in range(1000):
        big.run(f"turn {i}: " + "lorem ipsum " * 5)
        if i % 100 == 50:
            big.regenerate()
    CELLS.append(cell("big", output({SESSION_MIME: big.to_dict(), "text/plain": "<session big>"})))

    nb = {
        "cells": CELLS,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(nb, indent=1))
    print(
        f"wrote {out} ({out.stat().st_size // 1024} KiB, {len(big.to_dict()['messages'])} messages in 'big')",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
