/**
 * Messages and transcripts: one message under its role (Markdown for the conversation,
 * verbatim tool results, tool calls folded to one line), and a long transcript built a
 * window at a time. Payload text becomes text nodes only (./dom); Markdown goes through the
 * queue's hook (./markdownQueue).
 */
import { addClass, h } from './dom';
import { MarkdownQueue } from './markdownQueue';
import { MessageData, ToolCallData, isObject, num, str } from './payload';
import { formatCount, formatMs, messageTokens, preview } from './texts';

const ROLES = new Set(['user', 'assistant', 'system', 'tool']);

export function roleClass(role: unknown): string {
  const r = str(role);
  return ROLES.has(r) ? r : 'other';
}

const ROLE_LABELS: Record<string, string> = {
  user: 'User',
  assistant: 'Assistant',
  system: 'System',
  tool: 'Tool'
};

function roleLabel(message: MessageData): string {
  const role = str(message.role);
  const label = ROLE_LABELS[role] ?? (role || 'message');
  return role === 'tool' && message.name ? `${label} · ${str(message.name)}` : label;
}

function prettyArguments(args: unknown): string {
  const text = str(args);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function metaLine(message: MessageData): string {
  const meta = isObject(message.meta) ? message.meta : null;
  if (!meta) {
    return '';
  }
  const parts: string[] = [];
  const tokens = messageTokens(message);
  if (tokens && (tokens.prompt || tokens.completion)) {
    // (none reported, as for a stopped answer: no count rather than "0 → 0")
    parts.push(`${formatCount(tokens.prompt)} → ${formatCount(tokens.completion)} tokens`);
  }
  if (meta.model) {
    parts.push(str(meta.model));
  }
  if (meta.provider === 'echo') {
    parts.push('offline echo, not a model');
  }
  const latency = num(meta.latency_ms);
  if (latency !== null) {
    parts.push(formatMs(latency));
  }
  const finish = str(meta.finish_reason);
  if (finish === 'length') {
    parts.push('✂ cut off at max_tokens');
  } else if (finish === 'content_filter') {
    parts.push('✂ stopped by the content filter');
  } else if (finish && finish !== 'stop') {
    parts.push(`finish: ${finish}`);
  }
  return parts.join(' · ');
}

const MARKDOWN_ROLES = new Set(['user', 'assistant']);

/** Answer formats shown verbatim (magics.py FORMATS but markdown; an unknown one is text). */
export const VERBATIM_FORMATS = new Set(['text', 'code', 'json']);

/** One message of a transcript; user and assistant text is Markdown (through `md`). */
export function renderMessage(doc: Document, message: MessageData, md: MarkdownQueue = new MarkdownQueue(undefined)): HTMLElement {
  const role = roleClass(message.role);
  const el = h(doc, 'div', { class: `vel-msg vel-role-${role}`, 'data-id': message.id });
  el.appendChild(h(doc, 'div', { class: 'vel-msg-role' }, roleLabel(message)));
  const content = str(message.content);
  if (role === 'tool') {
    el.appendChild(toolResult(doc, message));
  } else if (content) {
    el.appendChild(messageContent(doc, content, MARKDOWN_ROLES.has(role) ? md : null));
  }
  for (const call of toolCallsOf(message)) {
    el.appendChild(toolCall(doc, call));
  }
  const meta = metaLine(message);
  if (meta) {
    el.appendChild(h(doc, 'div', { class: 'vel-msg-meta' }, meta));
  }
  return el;
}

/** Message text: Markdown through `md`, or verbatim (`md` null). */
export function messageContent(doc: Document, content: string, md: MarkdownQueue | null): HTMLElement {
  const el = h(doc, 'div', { class: 'vel-msg-content' });
  if (md) {
    md.fill(el, content);
  } else {
    el.textContent = content;
    addClass(el, 'vel-plain');
  }
  return el;
}

export function toolCallsOf(message: MessageData): ToolCallData[] {
  return (Array.isArray(message.tool_calls) ? message.tool_calls : []).filter(isObject);
}

/** A tool call, collapsed to one line ("🔧 name {args}"); open, its pretty-printed arguments. */
export function toolCall(doc: Document, call: ToolCallData): HTMLElement {
  return h(
    doc,
    'details',
    { class: 'vel-tool-call' },
    h(
      doc,
      'summary',
      {},
      h(doc, 'span', { class: 'vel-tool-icon' }, '🔧 '),
      h(doc, 'span', { class: 'vel-tool-name' }, str(call.name) || '(unnamed tool)'),
      h(doc, 'span', { class: 'vel-tool-args-preview' }, ' ' + preview(call.arguments, 60))
    ),
    h(doc, 'pre', { class: 'vel-tool-args' }, prettyArguments(call.arguments))
  );
}

/** A tool's result, collapsed to one line ("↳ name → preview"); open, the whole text. */
export function toolResult(doc: Document, message: MessageData): HTMLElement {
  const content = str(message.content);
  const name = str(message.name);
  return h(
    doc,
    'details',
    { class: 'vel-tool-result' },
    h(
      doc,
      'summary',
      {},
      h(doc, 'span', { class: 'vel-tool-icon' }, '↳ '),
      name ? h(doc, 'span', { class: 'vel-tool-name' }, name) : null,
      h(doc, 'span', { class: 'vel-tool-args-preview' }, (name ? ' → ' : '') + (preview(content, 100) || '(empty result)'))
    ),
    h(doc, 'pre', { class: 'vel-msg-content' }, content)
  );
}

/** A transcript; only the last `window` messages are built at first, earlier ones on demand. */
export function renderTranscript(
  doc: Document,
  messages: MessageData[],
  window = 50,
  md: MarkdownQueue = new MarkdownQueue(undefined)
): HTMLElement {
  const el = h(doc, 'div', { class: 'vel-transcript' });
  let shown = Math.min(messages.length, Math.max(1, window));
  const list = h(doc, 'div', { class: 'vel-transcript-list' });
  for (const m of messages.slice(messages.length - shown)) {
    list.appendChild(renderMessage(doc, m, md));
  }
  if (shown < messages.length) {
    const more = h(doc, 'button', { class: 'vel-show-earlier', type: 'button' });
    const label = () => {
      const hidden = messages.length - shown;
      const next = Math.min(window, hidden);
      if (next === hidden) {
        return hidden === 1 ? 'show the earlier message' : `show the ${formatCount(hidden)} earlier messages`;
      }
      return `show ${formatCount(next)} more of ${formatCount(hidden)} earlier messages`;
    };
    more.textContent = label();
    more.addEventListener('click', () => {
      const start = Math.max(0, messages.length - shown - window);
      const chunk = messages.slice(start, messages.length - shown);
      const frag = doc.createDocumentFragment();
      for (const m of chunk) {
        frag.appendChild(renderMessage(doc, m, md));
      }
      list.insertBefore(frag, list.firstChild);
      shown += chunk.length;
      if (shown >= messages.length) {
        more.remove();
      } else {
        more.textContent = label();
      }
    });
    el.appendChild(more);
  }
  if (!messages.length) {
    list.appendChild(h(doc, 'div', { class: 'vel-empty' }, '(no messages)'));
  }
  el.appendChild(list);
  return el;
}

export function unknownPayload(doc: Document, reason: string): HTMLElement {
  return h(doc, 'div', { class: 'vel-root vel-error' }, `vel_jupyter: cannot show this output (${reason}).`);
}

