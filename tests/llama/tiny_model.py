"""A tiny, random-weight, *deterministic* llama model in GGUF, written at test time for llama-server.

The tests run against llama.cpp's real ``llama-server``; nothing may be downloaded, so the model is
made here with llama.cpp's own ``gguf`` package. It has no knowledge, but its answers are designed:

The network (architecture ``llama``: n_embd 64, 2 layers, 4 heads, context 4096, all tensors F32)
has random attention and FFN weights, except that the two projections writing back into the residual
stream, ``attn_output`` and ``ffn_down``, are exactly zero. Every layer therefore adds exactly 0, the
final hidden state is RMSNorm(embedding of the *current* token), and the logits are a fixed function
of the last token alone: a bigram table. Token embeddings are one-hot vectors over a handful of
"classes" (most tokens share class 0, the *base* row; a few have a row of their own), and
``output.weight`` holds, per class, the logit vector we want. RMSNorm maps a one-hot vector e_c to
sqrt(n_embd) * e_c, so column c of ``output.weight`` is that row's logits divided by 8.

With greedy sampling (llama-server ``--temp 0``) that gives:

* **Chat answers** -- the generation prompt ends in ``<|im_start|>assistant\\n``, and the row of the
  ``\\n`` byte prefers ``Hello``; then ``Hello`` -> `` from`` -> `` the`` -> `` tiny`` -> `` llama``
  -> ``.`` -> EOS (``<|im_end|>``). Every plain answer, whatever the question, is ``ANSWER`` =
  "Hello from the tiny llama." in ``ANSWER_TOKENS`` = 6 tokens with finish_reason "stop" (usage
  says 7: llama-server counts the EOS); ``max_tokens=5`` cuts it to "Hello from the tiny llama"
  with finish_reason "length". With ``loop=True`` the row of ``.`` prefers `` Hello`` instead of
  EOS, so answers never end by themselves ("... llama. Hello from the tiny llama. Hello ...") and
  always stop at max_tokens or the server's ``-n`` cap (finish_reason "length" either way).
* **JSON under a grammar** (response_format json_schema / json_object, tool-call arguments) -- the
  grammar masks what it does not allow and greedy takes the best of the rest. The base row ranks,
  from best: ``"`` ``}`` ``]`` EOS ``</tool_call>`` ``,`` digits (1..9, 0) ``-`` ``[`` ``{``, then
  letters and other pieces, then ``:``, then whitespace last. The row of ``"`` prefers ``Hello`` (so
  a free string is "Hello from the tiny llama.", after which neither EOS nor a paragraph break is
  allowed and ``"`` closes it) and the row of ``[`` prefers ``{`` (so a list of objects has exactly
  one item, closed by ``]`` after its ``}``). Integers come out as 1, nothing optional is added,
  whitespace never appears, and at the end of the grammar only EOS and whitespace are allowed,
  where EOS wins. {"city": str, "days": int} gives ``{"city":"Hello from the tiny llama.","days":1}``
  in 27 tokens (EOS included), in milliseconds.
* **Tools** -- with ``tools`` and tool_choice "auto" the answer is the plain ``ANSWER`` (the model
  never starts a ``<tool_call>`` by itself). With tool_choice "required" llama-server's grammar
  allows free text and then demands a call: after ``.`` EOS is now forbidden, so the row's second
  choice, the piece ``\\n\\n`` (not allowed inside a JSON string, which is why it is second there),
  follows, whose row prefers ``<tool_call>``, whose row prefers ``\\n``, and the grammar does the
  rest: content ``ANSWER + "\\n\\n"`` plus one call of the first tool, its string arguments
  "Hello from the tiny llama.", then ``</tool_call>`` (ranked above ``,``: one call, not several)
  and EOS; finish_reason "tool_calls".

The tokenizer is SentencePiece-style (``tokenizer.ggml.model = "llama"``) with byte fallback: the
256 byte tokens ``<0x00>``..``<0xFF>`` let it tokenize any UTF-8 text; ``<unk>``, ``<s>`` (BOS, not
added) and the ChatML control tokens ``<|im_start|>`` / ``<|im_end|>`` (EOS) are special;
``<tool_call>`` / ``</tool_call>`` are added (user-defined) tokens as in Qwen2.5; the few text
pieces exist for the answer. The chat template (``CHAT_TEMPLATE``, in ``tokenizer.chat_template``)
is the Qwen2.5 ChatML template: system/user/assistant/tool messages, tools listed in the system
prompt and tool calls as ``<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>``, which
llama-server's ``--jinja`` mode (its template "autoparser") recognizes, so tool calls are parsed
into ``tool_calls``.

Deterministic: same arguments, same bytes (seeded random weights), and the same answers. Any two
logits of a row differ by at least ``STEP`` = 4 > ln(20), so llama-server's default min_p of 0.05
(applied before the temperature) keeps only the best allowed token: the answers are the same with
``temperature=1`` in the request as with the server's ``--temp 0``.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from pathlib import Path

import gguf
import numpy as np

__all__ = [
    "ANSWER",
    "ANSWER_TOKENS",
    "CHAT_TEMPLATE",
    "LOOP_ANSWER",
    "MODEL_NAME",
    "write_tiny_model",
]

MODEL_NAME = "vel-tiny-llama"

N_EMBD = 64
N_LAYER = 2
N_HEAD = 4
N_HEAD_KV = 2
N_FF = 128
N_CTX = 4096
RMS_EPS = 1e-5
STEP = 4.0
"""The smallest gap between two logits of a row: more than ln(20), so llama-server's default min_p
(0.05, applied before temperature) leaves only the best allowed token, even when a client asks for
temperature 1: the answers stay deterministic whatever the request's sampling parameters."""

ANSWER_PIECES = ("Hello", "\u2581from", "\u2581the", "\u2581tiny", "\u2581llama", ".")
ANSWER = "Hello from the tiny llama."
"""What every plain chat answer is (finish_reason "stop")."""
ANSWER_TOKENS = len(ANSWER_PIECES)
"""How many completion tokens ANSWER takes (max_tokens below this gives finish_reason "length")."""
LOOP_ANSWER = "Hello from the tiny llama. "
"""With ``loop=True`` answers repeat this (without the last space at the very end) until a token limit."""

CHAT_TEMPLATE = Path(__file__).with_name("chatml-tools.jinja").read_text()
"""The Qwen2.5 ChatML template with tools (also what ``make demo`` serves SmolLM2 with: its own
template has no tools, so llama-server would ignore them and ``tool_choice``): system, user,
assistant with tool_calls, tool results; tools listed in the system prompt."""

# --- the vocabulary ---------------------------------------------------------------------------------

UNK, BOS, EOS, IM_START = 0, 1, 2, 3
SPECIALS = ("<unk>", "<s>", "<|im_end|>", "<|im_start|>")
SPECIAL_TYPES = (gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL)
FIRST_BYTE = len(SPECIALS)
PIECES = ("\u2581", *ANSWER_PIECES, "\u2581Hello", "\n\n")
TOOL_PIECES = ("<tool_call>", "</tool_call>")
"""Added (user-defined) tokens, as in Qwen2.5: the tool-call markers of the chat template."""


def _byte(char: str) -> int:
    """The id of the byte-fallback token for an ASCII character."""
    return FIRST_BYTE + ord(char)


def _piece(text: str) -> int:
    return FIRST_BYTE + 256 + (*PIECES, *TOOL_PIECES).index(text)


N_VOCAB = FIRST_BYTE + 256 + len(PIECES) + len(TOOL_PIECES)

WHITESPACE = (_byte(" "), _byte("\n"), _byte("\t"), _byte("\r"), _piece("\u2581"), _piece("\n\n"))
BASE_PREFERENCE = (
    _byte('"'),
    _byte("}"),
    _byte("]"),
    EOS,
    _piece("</tool_call>"),
    _byte(","),
    *(_byte(d) for d in "1234567890"),
    _byte("-"),
    _byte("["),
    _byte("{"),
)
"""The base row, best first: what a grammar-constrained answer picks whenever no bigram applies."""


def _vocab() -> tuple[list[str], list[float], list[int]]:
    tokens = [*SPECIALS, *(f"<0x{b:02X}>" for b in range(256)), *PIECES, *TOOL_PIECES]
    scores = [0.0] * (FIRST_BYTE + 256) + [-float(i) for i in range(len(PIECES))] + [0.0] * len(TOOL_PIECES)
    types = [*(int(t) for t in SPECIAL_TYPES), *[int(gguf.TokenType.BYTE)] * 256]
    types += [int(gguf.TokenType.NORMAL)] * len(PIECES) + [int(gguf.TokenType.USER_DEFINED)] * len(TOOL_PIECES)
    return tokens, scores, types


# --- the logit table --------------------------------------------------------------------------------


def _base_logits() -> np.ndarray:
    """Logits of the base row: BASE_PREFERENCE, then all other tokens by id, then ':', then whitespace."""
    logits = -STEP * np.arange(N_VOCAB, dtype=np.float32)  # "the rest": lower id wins
    for rank, token in enumerate(BASE_PREFERENCE):
        logits[token] = 1000.0 - STEP * rank
    logits[_byte(":")] = -1500.0
    for rank, token in enumerate(WHITESPACE):
        logits[token] = -2000.0 - STEP * rank
    for token in (UNK, BOS, IM_START):
        logits[token] = -5000.0
    return logits


def _bigrams(loop: bool) -> dict[tuple[int, ...], tuple[int, ...]]:
    """Which tokens get a row of their own, and the tokens that row prefers (best first) above the base order."""
    chain = [_piece(p) for p in ANSWER_PIECES]
    rows: dict[tuple[int, ...], tuple[int, ...]] = {
        (_byte("\n"),): (chain[0],),  # the end of the generation prompt: start the answer
        (_byte('"'),): (chain[0],),  # an open string in JSON: the answer, then the grammar closes it
        (_byte("["),): (_byte("{"),),  # a list in JSON: one object, not an empty list
    }
    rows[(chain[0], _piece("\u2581Hello"))] = (chain[1],)  # " Hello" only starts the next round of a loop
    for here, after in itertools.pairwise(chain[1:]):
        rows[(here,)] = (after,)
    # After the answer: end (or go round again). Where a grammar forbids that: inside a JSON string,
    # close it (the base row); in the free text before a tool call that tool_choice "required"
    # demands, start a paragraph (not allowed in a JSON string) and then the call.
    rows[(chain[-1],)] = (_piece("\u2581Hello") if loop else EOS, _piece("\n\n"))
    rows[(_piece("\n\n"),)] = (_piece("<tool_call>"),)
    rows[(_piece("<tool_call>"),)] = (_byte("\n"),)  # the template's "<tool_call>\n{...}"
    return rows


def _tables(loop: bool) -> tuple[np.ndarray, np.ndarray]:
    """token_embd (n_vocab, n_embd) with one-hot class rows, and output.weight (n_vocab, n_embd)."""
    rows = _bigrams(loop)
    if len(rows) + 1 > N_EMBD:
        raise ValueError("more bigram rows than embedding dimensions")
    embd = np.zeros((N_VOCAB, N_EMBD), dtype=np.float32)
    embd[:, 0] = 1.0  # class 0: the base row
    output = np.zeros((N_VOCAB, N_EMBD), dtype=np.float32)
    base = _base_logits()
    norm_gain = np.sqrt(N_EMBD)  # RMSNorm(e_c) = sqrt(n_embd) * e_c
    output[:, 0] = base / norm_gain
    for cls, (tokens, preferred) in enumerate(rows.items(), start=1):
        for token in tokens:
            embd[token] = 0.0
            embd[token, cls] = 1.0
        logits = base.copy()
        for rank, token in enumerate(preferred):
            logits[token] = 2000.0 - STEP * rank
        output[:, cls] = logits / norm_gain
    return embd, output


# --- the file ---------------------------------------------------------------------------------------


def write_tiny_model(path: str | Path, *, loop: bool = False, seed: int = 0) -> Path:
    """Write the tiny model to ``path`` (a .gguf file) and return the path; see the module docstring.

    ``loop=True``: answers never end by themselves (EOS is not preferred after "."), so they run to
    max_tokens or the server's ``-n`` cap.
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    head_dim = N_EMBD // N_HEAD

    def rand(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name(MODEL_NAME + ("-loop" if loop else ""))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_layer_norm_rms_eps(RMS_EPS)
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(N_VOCAB)

    tokens, scores, types = _vocab()
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(BOS)
    writer.add_eos_token_id(EOS)
    writer.add_unk_token_id(UNK)
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    embd, output = _tables(loop)
    writer.add_tensor("token_embd.weight", embd)
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("output.weight", output)
    for layer in range(N_LAYER):
        prefix = f"blk.{layer}."
        writer.add_tensor(prefix + "attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(prefix + "attn_q.weight", rand(N_HEAD * head_dim, N_EMBD))
        writer.add_tensor(prefix + "attn_k.weight", rand(N_HEAD_KV * head_dim, N_EMBD))
        writer.add_tensor(prefix + "attn_v.weight", rand(N_HEAD_KV * head_dim, N_EMBD))
        writer.add_tensor(prefix + "attn_output.weight", np.zeros((N_EMBD, N_HEAD * head_dim), dtype=np.float32))
        writer.add_tensor(prefix + "ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(prefix + "ffn_gate.weight", rand(N_FF, N_EMBD))
        writer.add_tensor(prefix + "ffn_up.weight", rand(N_FF, N_EMBD))
        writer.add_tensor(prefix + "ffn_down.weight", np.zeros((N_EMBD, N_FF), dtype=np.float32))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the tiny deterministic llama test model (GGUF).")
    parser.add_argument("path", type=Path)
    parser.add_argument("--loop", action="store_true", help="answers never end by themselves")
    args = parser.parse_args(argv)
    print(write_tiny_model(args.path, loop=args.loop))


if __name__ == "__main__":
    main()
