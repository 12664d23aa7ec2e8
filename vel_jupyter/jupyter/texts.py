"""The words our outputs show, written once.

The HTML and text copies use them directly; the payloads carry them (a turn's ``usage_line``,
``finish_note`` and ``echo_note``; a tree's ``stats``, its heads' ``label`` and its
``fork_labels``), and the JupyterLab extension shows what the payload carries instead of
writing them again. Numbers read as the extension always showed them: thousands
separated, milliseconds under a second, two decimals of a second under ten.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Shown on every answer of the offline echo provider, so nobody mistakes it for a model.
ECHO_NOTE = "offline echo — set OPENAI_API_KEY or --base-url to use a model"

# Under the partial text of a turn that failed, or was stopped with nothing kept.
PARTIAL_NOTE = "partial answer, not kept"

# Said once per kernel, as plain output above the first answer the offline echo gives because no
# model is configured (never at %load_ext: the next cell may name a server).
NO_MODEL_NOTICE = (
    "vel_jupyter: no model is configured, so the offline echo provider answers (it repeats your prompt). "
    "To use a model, add --base-url URL (any OpenAI-compatible server) to the %%chat line, "
    "or set OPENAI_API_KEY before %load_ext."
)


def stopped_line(session_id: str) -> str:
    """The one line under a turn the user stopped whose answer so far was kept."""
    return f"stopped; the answer so far is kept in session {session_id!r} — re-run the cell for a whole answer"


# How a folded branch of the fork tree is named, by where it diverges from the turn the path
# takes there. The browser picks one as the reader moves the path, so the tree payload carries
# these templates ({number}, {question}, {answer}: the branch's first turn) and ``fork_label``
# is the choice the static picture makes.
FORK_LABELS = {
    "answer": "another answer to turn {number}",
    "answer_quoted": "another answer to turn {number}: “{answer}”",
    "rerun": "a re-run of turn {number}",
    "continues": "continues at turn {number}: “{question}”",
    "question": "another question at turn {number}: “{question}”",
}


def count(n: int) -> str:
    """``1,234``."""
    return f"{n:,}"


def ms(value: float | None) -> str:
    """``0.50 ms``, ``412 ms``, ``1.20 s``, ``12.5 s``."""
    if value is None:
        return ""
    if value < 1:
        return f"{value:.2f} ms"
    if value < 1000:
        return f"{int(value + 0.5)} ms"  # half up, as JavaScript's Math.round
    return f"{value / 1000:.{2 if value < 10000 else 1}f} s"


def usage_line(
    prompt_tokens: int,
    completion_tokens: int,
    model: str | None = None,
    latency_ms: float | None = None,
    ttft_ms: float | None = None,
    default_cap: int | None = None,
) -> str:
    """A turn's one usage line: "14 → 19 tokens · model · 412 ms · first token 80 ms"
    (· the default cap, when the turn ran under it). No token count when the usage is unknown
    (0 → 0: a stopped turn, whose cut stream the server reported no usage for)."""
    parts = (
        [f"{count(prompt_tokens)} → {count(completion_tokens)} tokens"] if prompt_tokens or completion_tokens else []
    )
    if model:
        parts.append(model)
    if latency_ms:
        parts.append(ms(latency_ms))
    if ttft_ms is not None:
        parts.append(f"first token {ms(ttft_ms)}")
    if default_cap:
        parts.append(f"default cap {default_cap}")
    return " · ".join(parts)


def finish_note(finish_reason: str | None, refusal: str | None = None, default_cap: int | None = None) -> str:
    """The line that says an answer is not whole ('' when it is).

    ``default_cap``: the notebook's cap the turn ran under (``%config ChatMagics.max_tokens``)."""
    if refusal is not None:
        return "the model declined to answer"
    if finish_reason == "length" and default_cap:
        return (
            f"✂ cut off at the {default_cap}-token default cap — raise --max-tokens "
            "(or %config ChatMagics.max_tokens) to get the rest"
        )
    if finish_reason == "length":
        return "✂ cut off at max_tokens — raise --max-tokens to get the rest"
    if finish_reason == "content_filter":
        return "✂ stopped by the provider's content filter — rephrase the prompt to get an answer"
    if finish_reason == "stopped":
        return "■ stopped — the answer so far is kept; re-run the cell for a whole one"
    return ""


def stale_note(session_id: str) -> str:
    """The line under a turn the session's current path does not go through (the extension's words)."""
    return f"not asked on this branch of {session_id} — run the cell to ask it here (%chat branches {session_id} lists them)"


def messages_texts(messages: Sequence[Mapping[str, Any]], model: str | None, default_cap: int | None) -> dict[str, str]:
    """The usage line, finish note and echo note of one answer read from its message records
    (an alternative answer of a cell: no latencies, its own tokens and model)."""
    prompt = completion = 0
    for m in messages:
        meta = m.get("meta")
        if isinstance(meta, Mapping):
            prompt += int(meta.get("prompt_tokens") or 0)
            completion += int(meta.get("completion_tokens") or 0)
            if m.get("role") == "assistant" and meta.get("model"):
                model = str(meta["model"])
    last = messages[-1].get("meta") if messages else None
    last = last if isinstance(last, Mapping) else {}
    texts = {
        "usage_line": usage_line(prompt, completion, model, default_cap=default_cap),
        "finish_note": finish_note(last.get("finish_reason"), last.get("refusal"), default_cap),
    }
    if any(m.get("role") == "assistant" and (m.get("meta") or {}).get("provider") == "echo" for m in messages):
        texts["echo_note"] = ECHO_NOTE
    return texts


def fork_label(number: int, question: str, answer: str, continuing: str | None) -> str:
    """How a folded branch starting with a turn (``number``, ``question``, ``answer``) is named;
    ``continuing``: the question of the turn the path takes there, None past the path's end."""
    words = FORK_LABELS
    if not question or (continuing is not None and continuing == question):
        if answer:
            return words["answer_quoted"].format(number=number, answer=answer)
        return words["answer" if not question else "rerun"].format(number=number)
    key = "continues" if continuing is None else "question"
    return words[key].format(number=number, question=question)


def tree_stats(turns: int, sessions: int) -> str:
    """ "fork tree · 5 turns · 2 sessions"."""
    return f"fork tree · {count(turns)} turn{'s' if turns != 1 else ''} · {count(sessions)} session{'s' if sessions != 1 else ''}"


def head_label(session_id: str, branch: int | None, several: bool) -> str:
    """How the tree labels a session's head: the session alone when it has one branch, else
    "fam · branch 1" (from 1, as everywhere) or "fam (detached)"."""
    if not several:
        return session_id
    return f"{session_id} (detached)" if branch is None else f"{session_id} · branch {branch + 1}"
