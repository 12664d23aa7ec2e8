/**
 * Text helpers of the views, and the words the payloads carry.
 *
 * The words our outputs show (a turn's usage line, finish note and echo note; a tree's stats,
 * head labels and fork labels) are written once, in Python (vel_jupyter/jupyter/texts.py),
 * and carried in the payloads; the views show what the payload carries. The copies below are
 * fallbacks ONLY for outputs saved before the payloads carried them (old notebooks), and for
 * `%chat export` session records, which carry none. (A kernel redraws its own outputs from
 * its own data, so a notebook that runs again carries them.)
 *
 * Imports nothing at run time.
 */
import { MessageData, TreeStateHead, TreeStatePayload, TurnPayload, isObject, num, str } from './payload';

/** Whitespace collapsed, clipped to `limit` characters with an ellipsis. */
export function preview(text: unknown, limit = 80): string {
  const flat = str(text).replace(/\s+/g, ' ').trim();
  return flat.length <= limit ? flat : flat.slice(0, Math.max(0, limit - 1)) + '…';
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatMs(ms: number | null): string {
  if (ms === null) {
    return '';
  }
  if (ms < 1) {
    return `${ms.toFixed(2)} ms`;
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export function messageTokens(message: MessageData): { prompt: number; completion: number } | null {
  const meta = isObject(message.meta) ? message.meta : null;
  if (!meta) {
    return null;
  }
  return { prompt: num(meta.prompt_tokens) ?? 0, completion: num(meta.completion_tokens) ?? 0 };
}

/** "branch 2 of 3" from a turn's 0-based `branch` and `branches` count. */
export function branchLabel(branch: unknown, branches: unknown): string {
  const index = num(branch);
  const count = num(branches);
  if (index === null) {
    return count ? `detached head (${count} ${count === 1 ? 'branch' : 'branches'})` : '';
  }
  return `branch ${index + 1} of ${count ?? index + 1}`;
}

/** Under a turn the session's current path does not go through. */
export const STALE_NOTE = 'not asked on this branch — run the cell to ask it here';

/** "answer 2 of 3": which of a cell's answers is shown (only where it has several). */
export function answerLabel(index: number, count: number): string {
  return `answer ${index + 1} of ${count}`;
}

/** The payload's text `value` when it carries one (a string, even empty), else `fallback()`. */
export function carried(value: unknown, fallback: () => string): string {
  return typeof value === 'string' ? value : fallback();
}

// ---------------------------------------------------------------------------------------
// Fallbacks for payloads without their words (see the module comment): texts.py's words.

/** texts.py::ECHO_NOTE. */
export const ECHO_NOTE = 'offline echo — set OPENAI_API_KEY or --base-url to use a model';

/** texts.py::finish_note, read from the last message's meta. */
export function finishNote(messages: MessageData[], defaultCap: number | null = null): string {
  const last = messages.length ? messages[messages.length - 1] : null;
  const meta = last && isObject(last.meta) ? last.meta : null;
  if (!meta) {
    return '';
  }
  if (meta.refusal !== undefined && meta.refusal !== null) {
    return 'the model declined to answer';
  }
  const finish = str(meta.finish_reason);
  if (finish === 'length' && defaultCap) {
    return `✂ cut off at the ${defaultCap}-token default cap — raise --max-tokens (or %config ChatMagics.max_tokens) to get the rest`;
  }
  if (finish === 'length') {
    return '✂ cut off at max_tokens — raise --max-tokens to get the rest';
  }
  if (finish === 'content_filter') {
    return "✂ stopped by the provider's content filter — rephrase the prompt to get an answer";
  }
  return '';
}

/** texts.py::usage_line: "14 → 19 tokens · model · 412 ms · first token 80 ms". */
export function turnUsage(data: TurnPayload): string {
  const usage = isObject(data.usage) ? data.usage : {};
  let latency = num(data.latency_ms);
  let ttft = num(data.ttft_ms);
  if (latency === null) {
    // Payloads written before latency_ms was added: the messages' own latencies.
    for (const m of data.messages) {
      const meta = isObject(m.meta) ? m.meta : null;
      const ms = meta ? num(meta.latency_ms) : null;
      if (ms !== null) {
        latency = (latency ?? 0) + ms;
      }
      if (ttft === null && meta) {
        ttft = num(meta.ttft_ms);
      }
    }
  }
  const prompt = num(usage.prompt_tokens) ?? 0;
  const completion = num(usage.completion_tokens) ?? 0;
  // (as texts.py: no count rather than "0 → 0" when none was reported, e.g. a stopped answer)
  const parts = prompt || completion ? [`${formatCount(prompt)} → ${formatCount(completion)} tokens`] : [];
  if (data.model) {
    parts.push(str(data.model));
  }
  if (latency) {
    parts.push(formatMs(latency));
  }
  if (ttft !== null) {
    parts.push(`first token ${formatMs(ttft)}`);
  }
  const cap = num(data.default_cap);
  if (cap) {
    parts.push(`default cap ${cap}`);
  }
  return parts.join(' · ');
}

/** Templates of a folded branch's label (texts.py::FORK_LABELS; a tree payload carries its own). */
export interface ForkLabels {
  answer: string;
  answer_quoted: string;
  rerun: string;
  continues: string;
  question: string;
}

export const FORK_LABELS: ForkLabels = {
  answer: 'another answer to turn {number}',
  answer_quoted: 'another answer to turn {number}: “{answer}”',
  rerun: 'a re-run of turn {number}',
  continues: 'continues at turn {number}: “{question}”',
  question: 'another question at turn {number}: “{question}”'
};

/** The fork labels a tree payload carries, else FORK_LABELS. */
export function forkLabelsOf(data: TreeStatePayload | null): ForkLabels {
  const given = isObject(data?.texts) && isObject(data!.texts.fork_labels) ? data!.texts.fork_labels : null;
  if (!given) {
    return FORK_LABELS;
  }
  const out = { ...FORK_LABELS };
  for (const key of Object.keys(out) as (keyof ForkLabels)[]) {
    out[key] = carried(given[key], () => FORK_LABELS[key]);
  }
  return out;
}

/**
 * How a folded branch is named, by where it diverges from the turn the path takes there
 * (`continuing`, or none past the HEAD): the choice texts.py::fork_label makes, in `labels`'
 * words. The result is text (a text node); the payload's words are never markup.
 */
export function forkLabel(
  start: { number: number; question: string; answer: string },
  continuing?: { question: string } | null,
  labels: ForkLabels = FORK_LABELS
): string {
  const fill = (template: string) =>
    template.replace(/\{(number|question|answer)\}/g, (_, key: 'number' | 'question' | 'answer') => String(start[key]));
  if (!start.question || (continuing && continuing.question === start.question)) {
    return fill(start.answer ? labels.answer_quoted : start.question ? labels.rerun : labels.answer);
  }
  return fill(continuing ? labels.question : labels.continues);
}

/** "fam · branch 1", "fam (detached)": how the tree labels a session's head (fallback of its `label`). */
export function treeHeadLabel(head: TreeStateHead): string {
  const branch = num(head.branch);
  return str(head.session_id) + (branch === null ? ' (detached)' : ` · branch ${branch + 1}`);
}

/** "fork tree · 5 turns · 2 sessions" (fallback of the payload's `texts.stats`). */
export function treeStats(data: TreeStatePayload): string {
  const count = (n: number, noun: string) => `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`;
  return carried(isObject(data.texts) ? data.texts.stats : undefined, () =>
    `fork tree · ${count(data.turns.length, 'turn')} · ${count(data.sessions.length, 'session')}`
  );
}
