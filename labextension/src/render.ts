/**
 * Framework-free rendering of vel_jupyter payloads, the base of the views: payload shapes
 * and their validation, DOM building, Markdown through a hook, messages, transcripts and
 * the `%%chat` turn view. ./tree.ts draws the fork tree and ./views.ts the session export
 * and the `render` dispatch; the anywidget fork-tree widget runs render.ts and tree.ts
 * (scripts/widget-assets.mjs joins them into one module).
 *
 * This module imports nothing and touches no globals: every element is created through
 * `el.ownerDocument`, so it works in any document (or a test's fake one).
 *
 * SECURITY: everything that comes from the payload (model text, tool arguments, names,
 * ids) is inserted with `textContent` / text nodes only. Nothing here assigns
 * `innerHTML`, `outerHTML` or `insertAdjacentHTML`, creates links, or sets attributes
 * other than class, title, type, value, data-* and aria-* (see `h`). Markdown is not
 * rendered here: a `MarkdownHook` does it (in JupyterLab, ./markdown.ts, which is
 * JupyterLab's own Markdown renderer with its sanitizer in untrusted mode). Without a
 * hook, Markdown content is shown as its text.
 */

// ---------------------------------------------------------------------------------------
// Payload shapes (see vel_jupyter/jupyter/display.py::turn_payload and
// vel_jupyter/core/session.py::Session.to_dict). Everything is optional at runtime: the
// data comes from a notebook file and is validated field by field when read.

export const MIME_TYPE = 'application/vnd.vel.session+json';

export interface ToolCallData {
  id?: string;
  name?: string;
  arguments?: string;
}

export interface MessageMetaData {
  model?: string;
  provider?: string;
  prompt_tokens?: number;
  completion_tokens?: number;
  latency_ms?: number | null;
  ttft_ms?: number | null;
  finish_reason?: string | null;
  refusal?: string | null;
}

export interface MessageData {
  id: string;
  parent_id?: string | null;
  session_id?: string;
  created_at?: string;
  role?: string;
  content?: string;
  tool_calls?: ToolCallData[];
  tool_call_id?: string;
  name?: string;
  cell_id?: string;
  meta?: MessageMetaData;
}

export interface TurnPayload {
  version?: number;
  kind: 'vel_jupyter.turn';
  session_id?: string;
  branch?: number | null;
  branches?: number;
  head?: string | null;
  model?: string;
  /** Who answered: "echo" is the offline echo provider, not a model (its answers say so). */
  provider?: string;
  usage?: { prompt_tokens?: number; completion_tokens?: number };
  latency_ms?: number | null;
  ttft_ms?: number | null;
  /** The prompt as sent, when it differs from the cell body (interpolation); else absent. */
  prompt?: string | null;
  /** How the answer is shown: 'markdown' (default), or verbatim for 'text', 'code', 'json'. */
  format?: string;
  /** A frame of a turn still streaming (display.py::LiveView): no ids, no usage yet. */
  live?: boolean;
  /** Set on the last live frame of a turn that failed or was interrupted. */
  note?: string;
  /** False once the session's current path no longer goes through this turn (the kernel redraws it). */
  current?: boolean;
  /** Every answer this cell's turn has had (its re-runs), oldest first; `current` marks this output's own. */
  alternatives?: TurnAlternative[];
  /** Set by the kernel when the session continues from another of these alternatives (its head). */
  showing?: string;
  /** The notebook's answer cap this turn ran under (%config ChatMagics.max_tokens), when it did. */
  default_cap?: number;
  messages: MessageData[];
}

export interface TurnAlternative {
  head?: string;
  current?: boolean;
  messages?: MessageData[];
}

export interface SessionPayload {
  version?: number;
  kind: 'vel_jupyter.session';
  session_id?: string;
  system?: string | null;
  head?: string | null;
  heads?: (string | null)[];
  current?: number | null;
  settings?: Record<string, unknown>;
  summaries?: unknown[];
  forked_from?: { session_id?: string; message_id?: string | null } | null;
  lineage?: string[];
  rev?: number;
  created_at?: string;
  updated_at?: string;
  messages: MessageData[];
}

/**
 * The fork-tree widget's state (vel_jupyter/jupyter/tree_data.py::tree_payload), saved
 * beside the widget under TREE_MIME_TYPE so the tree shows with no kernel.
 */
export const TREE_MIME_TYPE = 'application/vnd.vel.tree+json';

export interface TreeStateTurn {
  id: string;
  parent?: string | null;
  /** The turn's position on its path, from 1 (tree_data.py). */
  number?: number;
  /** One-line plain text of the rendered user message and answer (no Markdown marks). */
  question?: string;
  answer?: string;
  preview?: string;
  messages: MessageData[];
  tokens?: number;
  last?: string;
}

export interface TreeStateHead {
  session_id?: string;
  branch?: number | null;
  /** Id of the turn (its first message) the head is in. */
  turn?: string;
  /** The head message itself. */
  message?: string;
  current?: boolean;
}

export interface TreeStatePayload {
  version?: number;
  kind: 'vel_jupyter.tree';
  focus?: string;
  /** "%chat": the tree's actions may run `%chat` commands in the notebook's kernel (a `%chat tree` output). */
  commands?: string;
  sessions: { session_id?: string; head?: string | null; system?: string | null }[];
  turns: TreeStateTurn[];
  heads: TreeStateHead[];
}

export type Classified =
  | { kind: 'turn'; turn: TurnPayload }
  | { kind: 'session'; session: SessionPayload }
  | { kind: 'tree'; tree: TreeStatePayload }
  | { kind: 'unknown'; reason: string };

/**
 * Renders untrusted Markdown. `render` replaces `host`'s content with the rendered,
 * sanitized Markdown (and rejects when it cannot: the text then stays); `typeset`, when
 * given, typesets math in `host` once `host` is in the page.
 */
export interface MarkdownHook {
  render(host: HTMLElement, source: string): Promise<void>;
  typeset?(host: HTMLElement): void | Promise<void>;
  /** The words of `source` once rendered, as plain text (for one-line previews). */
  plain?(source: string): Promise<string>;
}

export interface RenderOptions {
  /** Renders Markdown content (user and assistant messages); without it they are text. */
  markdown?: MarkdownHook;
  /** Moves a session to a message with a kernel (the extension); without it, reading only. */
  checkout?: CheckoutHook;
}

export interface CheckoutHook {
  /** Whether a kernel is connected now (else the button is disabled, with a tooltip). */
  available(): boolean;
  /** Make `head` the session's current message; the kernel then redraws the outputs. */
  run(sessionId: string, head: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Pure helpers (no DOM): tested with node in test/render.test.mjs

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string for display, whatever the value is (never throws, never `[object Object]`). */
export function str(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    return String(value);
  }
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}

export function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export function messagesOf(value: unknown): MessageData[] {
  if (!Array.isArray(value)) {
    return [];
  }
  const out: MessageData[] = [];
  for (const entry of value) {
    if (isObject(entry) && (typeof entry.id === 'string' || typeof entry.id === 'number')) {
      out.push({ ...(entry as unknown as MessageData), id: String(entry.id) });
    }
  }
  return out;
}

function objectsOf(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

/** What a payload is: a turn, a session (plain or wrapped in an export), a tree, or neither. */
export function classify(data: unknown): Classified {
  if (!isObject(data)) {
    return { kind: 'unknown', reason: 'the payload is not a JSON object' };
  }
  let value: Record<string, unknown> = data;
  if (value.kind === 'vel_jupyter.export') {
    if (!isObject(value.session)) {
      return { kind: 'unknown', reason: 'an export without a session' };
    }
    value = value.session;
  }
  if (value.kind === 'vel_jupyter.turn') {
    return {
      kind: 'turn',
      turn: { ...(value as unknown as TurnPayload), messages: messagesOf(value.messages) }
    };
  }
  if (value.kind === 'vel_jupyter.session') {
    return {
      kind: 'session',
      session: { ...(value as unknown as SessionPayload), messages: messagesOf(value.messages) }
    };
  }
  if (value.kind === 'vel_jupyter.tree') {
    const turns = objectsOf(value.turns)
      .filter(t => typeof t.id === 'string')
      .map(t => ({ ...(t as unknown as TreeStateTurn), messages: messagesOf(t.messages) }));
    return {
      kind: 'tree',
      tree: {
        ...(value as unknown as TreeStatePayload),
        sessions: objectsOf(value.sessions),
        turns,
        heads: objectsOf(value.heads)
      }
    };
  }
  return { kind: 'unknown', reason: `unknown payload kind ${JSON.stringify(str(value.kind))}` };
}

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

export interface TreeNode {
  message: MessageData;
  parent: TreeNode | null;
  children: TreeNode[];
  /** Messages in the subtree rooted here (this one included). */
  size: number;
}

export interface MessageTree {
  byId: Map<string, TreeNode>;
  roots: TreeNode[];
}

/**
 * Link messages into a tree. Order-independent; a message whose parent is missing, or
 * that is its own parent, is a root; duplicate ids keep the first entry; a parent cycle is
 * broken at its member that comes last (it becomes a root). O(n) and iterative, so a
 * crafted payload (a long chain, a cycle) cannot stall the page.
 */
export function buildTree(messages: MessageData[]): MessageTree {
  const byId = new Map<string, TreeNode>();
  const order: TreeNode[] = [];
  const index = new Map<TreeNode, number>(); // position in the input
  for (const message of messages) {
    if (!byId.has(message.id)) {
      const node: TreeNode = { message, parent: null, children: [], size: 1 };
      byId.set(message.id, node);
      index.set(node, order.length);
      order.push(node);
    }
  }
  const parentOf = (node: TreeNode): TreeNode | undefined => {
    const id = node.message.parent_id;
    const parent = typeof id === 'string' ? byId.get(id) : undefined;
    return parent === node ? undefined : parent;
  };
  // A message has one parent, so a walk up from each message ends at a root, at a message
  // an earlier walk passed (stop: what is above is known), or back on itself: a cycle. Each
  // message is walked once. (Asking of every link whether it closes a cycle, by walking up
  // its ancestors, was O(n²): 24 s for a chain of 100,000 messages; scripts/bench-tree.mjs.)
  const walkOf = new Map<TreeNode, number>();
  const cut = new Set<TreeNode>();
  order.forEach((start, walk) => {
    const path: TreeNode[] = [];
    let node: TreeNode | undefined = start;
    while (node && !walkOf.has(node)) {
      walkOf.set(node, walk);
      path.push(node);
      node = parentOf(node);
    }
    if (node && walkOf.get(node) === walk) {
      // The cycle is `path` from `node` on; its member that comes last in the input is cut
      // (linking in input order and refusing the link that would close it does the same).
      const cycle = path.slice(path.indexOf(node));
      cut.add(cycle.reduce((a, b) => (index.get(a)! > index.get(b)! ? a : b)));
    }
  });
  const roots: TreeNode[] = [];
  for (const node of order) {
    const parent = cut.has(node) ? undefined : parentOf(node);
    if (parent) {
      node.parent = parent;
      parent.children.push(node);
    } else {
      roots.push(node);
    }
  }
  // Subtree sizes, bottom-up, without recursion.
  const postorder: TreeNode[] = [];
  const stack = [...roots];
  while (stack.length) {
    const node = stack.pop()!;
    postorder.push(node);
    for (const child of node.children) {
      stack.push(child); // not push(...children): a message may have 100,000 answers
    }
  }
  for (let i = postorder.length - 1; i >= 0; i--) {
    const node = postorder[i];
    if (node.parent) {
      node.parent.size += node.size;
    }
  }
  return { byId, roots };
}

/** The messages from the root down to `head` (empty for a null or unknown head). */
export function pathTo(tree: MessageTree, head: string | null | undefined): MessageData[] {
  const out: MessageData[] = [];
  let node = typeof head === 'string' ? tree.byId.get(head) : undefined;
  while (node) {
    out.push(node.message);
    node = node.parent ?? undefined;
  }
  return out.reverse();
}

/** The ids on the path to `head`, for highlighting. */
export function pathIds(tree: MessageTree, head: string | null | undefined): Set<string> {
  return new Set(pathTo(tree, head).map(m => m.id));
}

// ---------------------------------------------------------------------------------------
// DOM building

type Attrs = Record<string, string | undefined>;
const ALLOWED_ATTR = /^(class|title|type|value|role|tabindex|data-[a-z-]+|aria-[a-z]+)$/;

/** An element with text content only; attributes limited to inert ones. */
export function h(
  doc: Document,
  tag: string,
  attrs: Attrs = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElement {
  const el = doc.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined) {
      continue;
    }
    if (!ALLOWED_ATTR.test(key)) {
      throw new Error(`attribute ${key} is not allowed`);
    }
    el.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    el.appendChild(typeof child === 'string' ? doc.createTextNode(child) : child);
  }
  return el;
}

export function clear(el: HTMLElement): void {
  while (el.firstChild) {
    el.removeChild(el.firstChild);
  }
}

export function addClass(el: HTMLElement, name: string): void {
  el.classList.toggle(name, true);
}

/**
 * Where the Markdown of one view goes. A view is first built off the page (`attached`
 * false): its Markdown renders are collected, and `settle` waits for them all, so the
 * view replaces the old one in a single step, fully rendered (a streaming answer does not
 * flicker, a finished one does not jump). Content built later, on the page (a branch
 * switch, "show earlier", a selected turn), renders in place and is typeset at once.
 */
export class MarkdownQueue {
  constructor(
    readonly hook: MarkdownHook | undefined,
    private attached = true
  ) {}

  /** Show `source` in `host`: as its text at once, then rendered when there is a hook. */
  fill(host: HTMLElement, source: string): void {
    host.textContent = source;
    const hook = this.hook;
    if (!hook || !source) {
      addClass(host, 'vel-plain');
      return;
    }
    const done = hook.render(host, source).then(
      () => addClass(host, 'vel-markdown'),
      () => {
        host.textContent = source; // the renderer failed: the text is still right
        addClass(host, 'vel-plain');
      }
    );
    if (this.attached) {
      void done.then(() => hook.typeset?.(host));
    } else {
      this._pending.push(done);
      this._hosts.push(host);
    }
  }

  /**
   * Show `source` in `host` as one line of plain text: its words once rendered (through the
   * hook's `plain`), clipped to `limit`; until then, or without a hook, the source's own.
   */
  fillPlain(host: HTMLElement, source: string, limit: number): void {
    host.textContent = preview(source, limit);
    const plain = this.hook?.plain;
    if (!plain || !source) {
      return;
    }
    const done = plain(source).then(
      text => {
        host.textContent = preview(text, limit);
      },
      () => undefined // the source's own text stays
    );
    if (!this.attached) {
      this._pending.push(done);
    }
  }

  /** Whether renders started off the page are still running. */
  get pending(): boolean {
    return this._pending.length > 0;
  }

  /** Wait for the renders started so far; what is filled from now on renders in place. */
  async settle(): Promise<HTMLElement[]> {
    await Promise.all(this._pending);
    const hosts = this._hosts;
    this._pending = [];
    this._hosts = [];
    this.attached = true;
    return hosts;
  }

  /** Typeset `hosts` (now on the page). */
  typeset(hosts: HTMLElement[]): void {
    for (const host of hosts) {
      void this.hook?.typeset?.(host);
    }
  }

  private _pending: Promise<void>[] = [];
  private _hosts: HTMLElement[] = [];
}

/**
 * A hook for the anywidget, which has no rendermime of its own: it asks an ancestor of
 * `anchor` with a bubbling MARKDOWN_EVENT (our JupyterLab extension listens for it around
 * the widget). With no listener the promise rejects and the text stays as text.
 */
export function markdownFromAncestors(anchor: HTMLElement): MarkdownHook {
  return {
    render(host: HTMLElement, source: string): Promise<void> {
      const request: MarkdownRequest = { host, source, done: null };
      const CustomEventOf = (anchor.ownerDocument.defaultView as (Window & typeof globalThis) | null)?.CustomEvent;
      if (CustomEventOf) {
        anchor.dispatchEvent(new CustomEventOf(MARKDOWN_EVENT, { bubbles: true, detail: request }));
      }
      return request.done ?? Promise.reject(new Error('no Markdown renderer around this widget'));
    }
  };
}

/** The event `markdownFromAncestors` dispatches: a listener sets `done` (render + typeset). */
export const MARKDOWN_EVENT = 'vel-render-markdown';

export interface MarkdownRequest {
  host: HTMLElement;
  source: string;
  done: Promise<void> | null;
}

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
  if (tokens) {
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
const VERBATIM_FORMATS = new Set(['text', 'code', 'json']);

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
function messageContent(doc: Document, content: string, md: MarkdownQueue | null): HTMLElement {
  const el = h(doc, 'div', { class: 'vel-msg-content' });
  if (md) {
    md.fill(el, content);
  } else {
    el.textContent = content;
    addClass(el, 'vel-plain');
  }
  return el;
}

function toolCallsOf(message: MessageData): ToolCallData[] {
  return (Array.isArray(message.tool_calls) ? message.tool_calls : []).filter(isObject);
}

/** A tool call, collapsed to one line ("🔧 name {args}"); open, its pretty-printed arguments. */
function toolCall(doc: Document, call: ToolCallData): HTMLElement {
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
function toolResult(doc: Document, message: MessageData): HTMLElement {
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
    const label = () =>
      `show ${formatCount(Math.min(window, messages.length - shown))} earlier of ${formatCount(
        messages.length - shown
      )} hidden messages`;
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

/**
 * The line that says a turn's answer is not whole, or '' when it is: the Python side's
 * `finish_note` (vel_jupyter/jupyter/display.py) says the same words.
 */
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

/**
 * One `%%chat` turn, while it streams (`live`) and when it is done, in one layout so the
 * output does not jump when the stream ends: the prompt as sent (collapsed, and only when
 * interpolation changed the cell body), tool calls and results as one-line rows, the
 * answer, the note of a cut-off or failed answer, and one footer line (usage, model,
 * latency, first token; branch; session). The user's message is the cell body: not shown.
 */
export function buildTurn(doc: Document, data: TurnPayload, md: MarkdownQueue, checkout?: CheckoutHook): HTMLElement {
  const stale = data.current === false && !data.live;
  const root = h(doc, 'div', {
    class: 'vel-root vel-turn' + (data.live ? ' vel-live' : ''),
    'data-session': str(data.session_id)
  });
  const alternatives = (Array.isArray(data.alternatives) ? data.alternatives : []).filter(
    a => isObject(a) && messagesOf(a.messages).length > 0
  );
  const own = alternatives.findIndex(a => a.current === true);
  // The kernel redraws an output whose session moved to another answer of its cell: start there.
  const showing = typeof data.showing === 'string' ? alternatives.findIndex(a => a.head === data.showing) : -1;
  const body = (index: number) => turnBody(doc, data, md, stale, alternatives, own, index, showing, checkout);
  let part = body(showing >= 0 ? showing : own);
  root.appendChild(part);
  // The ‹ › switcher: show another answer of this cell in place (reading; no kernel needed);
  // "continue from this answer" asks the kernel to move the session there.
  root.addEventListener('click', event => {
    const target = event.target as HTMLElement | null;
    if (!target || !within(target, part)) {
      return;
    }
    if (target.getAttribute?.('data-action') === 'checkout' && checkout) {
      const head = target.getAttribute('data-head') ?? '';
      const status = (part.querySelectorAll('.vel-alt-status')[0] as HTMLElement | undefined) ?? null;
      (target as HTMLButtonElement).disabled = true;
      if (status) {
        status.textContent = 'switching…';
      }
      checkout.run(str(data.session_id), head).then(
        () => {
          if (status) {
            status.textContent = '';
          }
        },
        (error: unknown) => {
          (target as HTMLButtonElement).disabled = false;
          if (status) {
            status.textContent = String((error as Error)?.message ?? error);
          }
        }
      );
      return;
    }
    const step = target.getAttribute?.('data-step');
    if (!step) {
      return;
    }
    const at = Number(part.getAttribute('data-alternative'));
    const next = Math.min(alternatives.length - 1, Math.max(0, at + Number(step)));
    if (next !== at) {
      const replacement = body(next);
      root.replaceChild(replacement, part);
      part = replacement;
    }
  });
  return root;
}

function within(node: Node | null, ancestor: Node): boolean {
  for (let n = node; n; n = n.parentNode) {
    if (n === ancestor) {
      return true;
    }
  }
  return false;
}

/** What one answer of a turn looks like: a payload built from an alternative's messages. */
function alternativeView(data: TurnPayload, alternative: TurnAlternative): TurnPayload {
  const messages = messagesOf(alternative.messages);
  let prompt = 0;
  let completion = 0;
  let model = '';
  for (const m of messages) {
    const tokens = messageTokens(m);
    if (tokens) {
      prompt += tokens.prompt;
      completion += tokens.completion;
    }
    const meta = isObject(m.meta) ? m.meta : null;
    if (meta && m.role === 'assistant' && meta.model) {
      model = str(meta.model);
    }
  }
  return {
    ...data,
    messages,
    usage: { prompt_tokens: prompt, completion_tokens: completion },
    model: model || data.model,
    latency_ms: null,
    ttft_ms: null,
    note: undefined
  };
}

/** The answer, its note and its footer, for alternative `index` (`own`: this output's; -1: none). */
function turnBody(
  doc: Document,
  data: TurnPayload,
  md: MarkdownQueue,
  stale: boolean,
  alternatives: TurnAlternative[],
  own: number,
  index: number,
  showing = -1,
  checkout?: CheckoutHook
): HTMLElement {
  const mine = index === own;
  const view = mine || index < 0 ? data : alternativeView(data, alternatives[index]);
  const part = h(doc, 'div', {
    class: 'vel-turn-body' + (mine ? '' : ' vel-alternative') + (mine && stale ? ' vel-stale' : ''),
    'data-alternative': String(index)
  });
  // The prompt as sent, when interpolation changed it: this answer's own.
  const sent = mine || index < 0 ? data.prompt : view.messages.find(m => m.role === 'user')?.content;
  if (typeof data.prompt === 'string' && typeof sent === 'string') {
    part.appendChild(
      h(
        doc,
        'details',
        { class: 'vel-prompt' },
        h(doc, 'summary', {}, 'prompt sent (after {name} interpolation)'),
        h(doc, 'pre', { class: 'vel-msg-content' }, sent)
      )
    );
  }
  if (isEcho(view)) {
    part.appendChild(h(doc, 'div', { class: 'vel-echo-badge', role: 'note', title: 'the offline echo provider answered, not a model' }, ECHO_NOTE));
  }
  const list = h(doc, 'div', { class: 'vel-transcript-list' });
  const shown = view.messages.filter(m => m.role !== 'user');
  const format = str(view.format) || 'markdown';
  // The format names a class: one of ours, never the payload's word (it could be any class).
  const formatClass = `vel-format-${VERBATIM_FORMATS.has(format) ? format : 'text'}`;
  const answer = [...shown].reverse().find(m => m.role === 'assistant');
  for (const message of shown) {
    const role = roleClass(message.role);
    const el = h(doc, 'div', { class: `vel-msg vel-role-${role}`, 'data-id': message.id });
    const content = str(message.content);
    if (role === 'tool') {
      el.appendChild(toolResult(doc, message));
    } else if (content && message === answer && format !== 'markdown') {
      el.appendChild(h(doc, 'pre', { class: `vel-msg-content vel-verbatim ${formatClass}` }, content));
    } else if (content) {
      el.appendChild(messageContent(doc, content, role === 'assistant' ? md : null));
    }
    for (const call of toolCallsOf(message)) {
      el.appendChild(toolCall(doc, call));
    }
    list.appendChild(el);
  }
  part.appendChild(list);
  const note = str(view.note) || finishNote(view.messages, num(data.default_cap));
  if (note) {
    part.appendChild(h(doc, 'div', { class: 'vel-finish-note', role: 'note' }, note));
  }
  const footer = h(doc, 'div', { class: 'vel-turn-footer' });
  if (alternatives.length > 1 && !data.live && index >= 0) {
    const switcher = h(doc, 'span', { class: 'vel-alt-switcher', role: 'group', 'aria-label': 'answers of this cell' });
    const prev = h(doc, 'button', { class: 'vel-alt-prev', type: 'button', 'data-step': '-1', title: 'previous answer', 'aria-label': 'previous answer' }, '‹');
    const next = h(doc, 'button', { class: 'vel-alt-next', type: 'button', 'data-step': '1', title: 'next answer', 'aria-label': 'next answer' }, '›');
    (prev as HTMLButtonElement).disabled = index === 0;
    (next as HTMLButtonElement).disabled = index === alternatives.length - 1;
    switcher.appendChild(prev);
    switcher.appendChild(h(doc, 'span', { class: 'vel-alt-position' }, `${index + 1}/${alternatives.length}`));
    switcher.appendChild(next);
    footer.appendChild(switcher);
  }
  if (data.live) {
    // A stopped frame's note labels the text; the error line under it says why, once.
    footer.appendChild(h(doc, 'span', { class: 'vel-usage vel-streaming' }, data.note ? '' : '▌ streaming…'));
  } else {
    footer.appendChild(h(doc, 'span', { class: 'vel-usage' }, turnUsage(view)));
    const marker = branchLabel(data.branch, data.branches);
    const sid = str(data.session_id);
    if (index >= 0 && index === showing) {
      footer.appendChild(h(doc, 'span', { class: 'vel-alt-note vel-alt-current' }, 'the session continues from this answer'));
    } else if (!mine && index >= 0) {
      footer.appendChild(h(doc, 'span', { class: 'vel-alt-note' }, 'another answer of this cell'));
      footer.appendChild(checkoutButton(doc, sid, str(alternatives[index].head), checkout));
      footer.appendChild(h(doc, 'span', { class: 'vel-alt-status', role: 'status' }));
    } else if (stale) {
      footer.appendChild(
        h(doc, 'span', { class: 'vel-stale-marker', title: `%chat branches ${sid} lists the branches` }, 'not on the current branch')
      );
      const head = own >= 0 ? str(alternatives[own].head) : '';
      if (head) {
        footer.appendChild(checkoutButton(doc, sid, head, checkout));
        footer.appendChild(h(doc, 'span', { class: 'vel-alt-status', role: 'status' }));
      }
    } else if (marker) {
      footer.appendChild(h(doc, 'span', { class: 'vel-branch-marker' }, marker));
    }
  }
  if (data.session_id) {
    footer.appendChild(h(doc, 'span', { class: 'vel-session-id', title: 'session id' }, str(data.session_id)));
  }
  part.appendChild(footer);
  return part;
}

/** What every answer of the offline echo provider says (display.py::ECHO_NOTE). */
export const ECHO_NOTE = 'offline echo — set OPENAI_API_KEY or --base-url to use a model';

function isEcho(data: TurnPayload): boolean {
  if (str(data.provider) === 'echo') {
    return true;
  }
  return data.messages.some(m => m.role === 'assistant' && isObject(m.meta) && m.meta.provider === 'echo');
}

/** "continue from this answer": enabled when a kernel is connected, else disabled with a tooltip. */
function checkoutButton(doc: Document, sid: string, head: string, checkout?: CheckoutHook): HTMLElement {
  const can = !!checkout && checkout.available();
  const button = h(
    doc,
    'button',
    {
      class: 'vel-alt-checkout',
      type: 'button',
      'data-action': 'checkout',
      'data-head': head,
      title: can
        ? `make it the current branch of ${sid} (%chat checkout ${sid} ${head})`
        : `no kernel connected: run the notebook, then continue from it (%chat checkout ${sid} ${head})`
    },
    'continue from this answer'
  );
  (button as HTMLButtonElement).disabled = !can;
  return button;
}

/**
 * The turn's one usage line, as display.py::usage_line writes it for the HTML copy:
 * "14 → 19 tokens · model · 412 ms · first token 80 ms".
 */
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
  const parts = [`${formatCount(num(usage.prompt_tokens) ?? 0)} → ${formatCount(num(usage.completion_tokens) ?? 0)} tokens`];
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

/** A turn, live or finished (see `buildTurn`). */
export function renderTurn(el: HTMLElement, data: TurnPayload, options: RenderOptions = {}): Promise<void> {
  return swapIn(el, options, md => buildTurn(el.ownerDocument, data, md, options.checkout));
}

/**
 * Build a view off the page with `build`, wait for its Markdown, then put it in `el` in
 * one step (replacing what was there), and typeset it. A render that a newer one (for the
 * same `el`) overtook is dropped. With no Markdown to wait for, `el` is updated at once.
 */
export function swapIn(el: HTMLElement, options: RenderOptions, build: (md: MarkdownQueue) => HTMLElement): Promise<void> {
  const generation = (generations.get(el) ?? 0) + 1;
  generations.set(el, generation);
  const md = new MarkdownQueue(options.markdown, false);
  const view = build(md);
  const put = (hosts: HTMLElement[]) => {
    if (generations.get(el) !== generation) {
      return;
    }
    clear(el);
    el.appendChild(view);
    md.typeset(hosts);
  };
  if (!md.pending) {
    put([]);
    void md.settle();
    return Promise.resolve();
  }
  return md.settle().then(put);
}

const generations = new WeakMap<HTMLElement, number>();
