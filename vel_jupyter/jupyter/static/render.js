/* Generated from labextension/{src/render.ts,src/tree.ts,style/render.css} by labextension/scripts/widget-assets.mjs: edit those. */
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
const MIME_TYPE = 'application/vnd.vel.session+json';
/**
 * The fork-tree widget's state (vel_jupyter/jupyter/tree_data.py::tree_payload), saved
 * beside the widget under TREE_MIME_TYPE so the tree shows with no kernel.
 */
const TREE_MIME_TYPE = 'application/vnd.vel.tree+json';
// ---------------------------------------------------------------------------------------
// Pure helpers (no DOM): tested with node in test/render.test.mjs
function isObject(value) {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}
/** A string for display, whatever the value is (never throws, never `[object Object]`). */
function str(value) {
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
    }
    catch {
        return '';
    }
}
function num(value) {
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
function messagesOf(value) {
    if (!Array.isArray(value)) {
        return [];
    }
    const out = [];
    for (const entry of value) {
        if (isObject(entry) && (typeof entry.id === 'string' || typeof entry.id === 'number')) {
            out.push({ ...entry, id: String(entry.id) });
        }
    }
    return out;
}
function objectsOf(value) {
    return Array.isArray(value) ? value.filter(isObject) : [];
}
/** What a payload is: a turn, a session (plain or wrapped in an export), a tree, or neither. */
function classify(data) {
    if (!isObject(data)) {
        return { kind: 'unknown', reason: 'the payload is not a JSON object' };
    }
    let value = data;
    if (value.kind === 'vel_jupyter.export') {
        if (!isObject(value.session)) {
            return { kind: 'unknown', reason: 'an export without a session' };
        }
        value = value.session;
    }
    if (value.kind === 'vel_jupyter.turn') {
        return {
            kind: 'turn',
            turn: { ...value, messages: messagesOf(value.messages) }
        };
    }
    if (value.kind === 'vel_jupyter.session') {
        return {
            kind: 'session',
            session: { ...value, messages: messagesOf(value.messages) }
        };
    }
    if (value.kind === 'vel_jupyter.tree') {
        const turns = objectsOf(value.turns)
            .filter(t => typeof t.id === 'string')
            .map(t => ({ ...t, messages: messagesOf(t.messages) }));
        return {
            kind: 'tree',
            tree: {
                ...value,
                sessions: objectsOf(value.sessions),
                turns,
                heads: objectsOf(value.heads)
            }
        };
    }
    return { kind: 'unknown', reason: `unknown payload kind ${JSON.stringify(str(value.kind))}` };
}
/** Whitespace collapsed, clipped to `limit` characters with an ellipsis. */
function preview(text, limit = 80) {
    const flat = str(text).replace(/\s+/g, ' ').trim();
    return flat.length <= limit ? flat : flat.slice(0, Math.max(0, limit - 1)) + '…';
}
function formatCount(n) {
    return n.toLocaleString('en-US');
}
function formatMs(ms) {
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
function messageTokens(message) {
    const meta = isObject(message.meta) ? message.meta : null;
    if (!meta) {
        return null;
    }
    return { prompt: num(meta.prompt_tokens) ?? 0, completion: num(meta.completion_tokens) ?? 0 };
}
/** "branch 2 of 3" from a turn's 0-based `branch` and `branches` count. */
function branchLabel(branch, branches) {
    const index = num(branch);
    const count = num(branches);
    if (index === null) {
        return count ? `detached head (${count} ${count === 1 ? 'branch' : 'branches'})` : '';
    }
    return `branch ${index + 1} of ${count ?? index + 1}`;
}
/**
 * Link messages into a tree. Order-independent; a message whose parent is missing, or
 * that is its own parent, is a root; duplicate ids keep the first entry; a parent cycle is
 * broken at its member that comes last (it becomes a root). O(n) and iterative, so a
 * crafted payload (a long chain, a cycle) cannot stall the page.
 */
function buildTree(messages) {
    const byId = new Map();
    const order = [];
    const index = new Map(); // position in the input
    for (const message of messages) {
        if (!byId.has(message.id)) {
            const node = { message, parent: null, children: [], size: 1 };
            byId.set(message.id, node);
            index.set(node, order.length);
            order.push(node);
        }
    }
    const parentOf = (node) => {
        const id = node.message.parent_id;
        const parent = typeof id === 'string' ? byId.get(id) : undefined;
        return parent === node ? undefined : parent;
    };
    // A message has one parent, so a walk up from each message ends at a root, at a message
    // an earlier walk passed (stop: what is above is known), or back on itself: a cycle. Each
    // message is walked once. (Asking of every link whether it closes a cycle, by walking up
    // its ancestors, was O(n²): 24 s for a chain of 100,000 messages; scripts/bench-tree.mjs.)
    const walkOf = new Map();
    const cut = new Set();
    order.forEach((start, walk) => {
        const path = [];
        let node = start;
        while (node && !walkOf.has(node)) {
            walkOf.set(node, walk);
            path.push(node);
            node = parentOf(node);
        }
        if (node && walkOf.get(node) === walk) {
            // The cycle is `path` from `node` on; its member that comes last in the input is cut
            // (linking in input order and refusing the link that would close it does the same).
            const cycle = path.slice(path.indexOf(node));
            cut.add(cycle.reduce((a, b) => (index.get(a) > index.get(b) ? a : b)));
        }
    });
    const roots = [];
    for (const node of order) {
        const parent = cut.has(node) ? undefined : parentOf(node);
        if (parent) {
            node.parent = parent;
            parent.children.push(node);
        }
        else {
            roots.push(node);
        }
    }
    // Subtree sizes, bottom-up, without recursion.
    const postorder = [];
    const stack = [...roots];
    while (stack.length) {
        const node = stack.pop();
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
function pathTo(tree, head) {
    const out = [];
    let node = typeof head === 'string' ? tree.byId.get(head) : undefined;
    while (node) {
        out.push(node.message);
        node = node.parent ?? undefined;
    }
    return out.reverse();
}
/** The ids on the path to `head`, for highlighting. */
function pathIds(tree, head) {
    return new Set(pathTo(tree, head).map(m => m.id));
}
const ALLOWED_ATTR = /^(class|title|type|value|role|tabindex|data-[a-z-]+|aria-[a-z]+)$/;
/** An element with text content only; attributes limited to inert ones. */
function h(doc, tag, attrs = {}, ...children) {
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
function clear(el) {
    while (el.firstChild) {
        el.removeChild(el.firstChild);
    }
}
function addClass(el, name) {
    el.classList.toggle(name, true);
}
/**
 * Where the Markdown of one view goes. A view is first built off the page (`attached`
 * false): its Markdown renders are collected, and `settle` waits for them all, so the
 * view replaces the old one in a single step, fully rendered (a streaming answer does not
 * flicker, a finished one does not jump). Content built later, on the page (a branch
 * switch, "show earlier", a selected turn), renders in place and is typeset at once.
 */
class MarkdownQueue {
    constructor(hook, attached = true) {
        this.hook = hook;
        this.attached = attached;
        this._pending = [];
        this._hosts = [];
    }
    /** Show `source` in `host`: as its text at once, then rendered when there is a hook. */
    fill(host, source) {
        host.textContent = source;
        const hook = this.hook;
        if (!hook || !source) {
            addClass(host, 'vel-plain');
            return;
        }
        const done = hook.render(host, source).then(() => addClass(host, 'vel-markdown'), () => {
            host.textContent = source; // the renderer failed: the text is still right
            addClass(host, 'vel-plain');
        });
        if (this.attached) {
            void done.then(() => hook.typeset?.(host));
        }
        else {
            this._pending.push(done);
            this._hosts.push(host);
        }
    }
    /**
     * Show `source` in `host` as one line of plain text: its words once rendered (through the
     * hook's `plain`), clipped to `limit`; until then, or without a hook, the source's own.
     */
    fillPlain(host, source, limit) {
        host.textContent = preview(source, limit);
        const plain = this.hook?.plain;
        if (!plain || !source) {
            return;
        }
        const done = plain(source).then(text => {
            host.textContent = preview(text, limit);
        }, () => undefined // the source's own text stays
        );
        if (!this.attached) {
            this._pending.push(done);
        }
    }
    /** Whether renders started off the page are still running. */
    get pending() {
        return this._pending.length > 0;
    }
    /** Wait for the renders started so far; what is filled from now on renders in place. */
    async settle() {
        await Promise.all(this._pending);
        const hosts = this._hosts;
        this._pending = [];
        this._hosts = [];
        this.attached = true;
        return hosts;
    }
    /** Typeset `hosts` (now on the page). */
    typeset(hosts) {
        for (const host of hosts) {
            void this.hook?.typeset?.(host);
        }
    }
}
/**
 * A hook for the anywidget, which has no rendermime of its own: it asks an ancestor of
 * `anchor` with a bubbling MARKDOWN_EVENT (our JupyterLab extension listens for it around
 * the widget). With no listener the promise rejects and the text stays as text.
 */
function markdownFromAncestors(anchor) {
    return {
        render(host, source) {
            const request = { host, source, done: null };
            const CustomEventOf = anchor.ownerDocument.defaultView?.CustomEvent;
            if (CustomEventOf) {
                anchor.dispatchEvent(new CustomEventOf(MARKDOWN_EVENT, { bubbles: true, detail: request }));
            }
            return request.done ?? Promise.reject(new Error('no Markdown renderer around this widget'));
        }
    };
}
/** The event `markdownFromAncestors` dispatches: a listener sets `done` (render + typeset). */
const MARKDOWN_EVENT = 'vel-render-markdown';
const ROLES = new Set(['user', 'assistant', 'system', 'tool']);
function roleClass(role) {
    const r = str(role);
    return ROLES.has(r) ? r : 'other';
}
const ROLE_LABELS = {
    user: 'User',
    assistant: 'Assistant',
    system: 'System',
    tool: 'Tool'
};
function roleLabel(message) {
    const role = str(message.role);
    const label = ROLE_LABELS[role] ?? (role || 'message');
    return role === 'tool' && message.name ? `${label} · ${str(message.name)}` : label;
}
function prettyArguments(args) {
    const text = str(args);
    try {
        return JSON.stringify(JSON.parse(text), null, 2);
    }
    catch {
        return text;
    }
}
function metaLine(message) {
    const meta = isObject(message.meta) ? message.meta : null;
    if (!meta) {
        return '';
    }
    const parts = [];
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
    }
    else if (finish === 'content_filter') {
        parts.push('✂ stopped by the content filter');
    }
    else if (finish && finish !== 'stop') {
        parts.push(`finish: ${finish}`);
    }
    return parts.join(' · ');
}
const MARKDOWN_ROLES = new Set(['user', 'assistant']);
/** Answer formats shown verbatim (magics.py FORMATS but markdown; an unknown one is text). */
const VERBATIM_FORMATS = new Set(['text', 'code', 'json']);
/** One message of a transcript; user and assistant text is Markdown (through `md`). */
function renderMessage(doc, message, md = new MarkdownQueue(undefined)) {
    const role = roleClass(message.role);
    const el = h(doc, 'div', { class: `vel-msg vel-role-${role}`, 'data-id': message.id });
    el.appendChild(h(doc, 'div', { class: 'vel-msg-role' }, roleLabel(message)));
    const content = str(message.content);
    if (role === 'tool') {
        el.appendChild(toolResult(doc, message));
    }
    else if (content) {
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
function messageContent(doc, content, md) {
    const el = h(doc, 'div', { class: 'vel-msg-content' });
    if (md) {
        md.fill(el, content);
    }
    else {
        el.textContent = content;
        addClass(el, 'vel-plain');
    }
    return el;
}
function toolCallsOf(message) {
    return (Array.isArray(message.tool_calls) ? message.tool_calls : []).filter(isObject);
}
/** A tool call, collapsed to one line ("🔧 name {args}"); open, its pretty-printed arguments. */
function toolCall(doc, call) {
    return h(doc, 'details', { class: 'vel-tool-call' }, h(doc, 'summary', {}, h(doc, 'span', { class: 'vel-tool-icon' }, '🔧 '), h(doc, 'span', { class: 'vel-tool-name' }, str(call.name) || '(unnamed tool)'), h(doc, 'span', { class: 'vel-tool-args-preview' }, ' ' + preview(call.arguments, 60))), h(doc, 'pre', { class: 'vel-tool-args' }, prettyArguments(call.arguments)));
}
/** A tool's result, collapsed to one line ("↳ name → preview"); open, the whole text. */
function toolResult(doc, message) {
    const content = str(message.content);
    const name = str(message.name);
    return h(doc, 'details', { class: 'vel-tool-result' }, h(doc, 'summary', {}, h(doc, 'span', { class: 'vel-tool-icon' }, '↳ '), name ? h(doc, 'span', { class: 'vel-tool-name' }, name) : null, h(doc, 'span', { class: 'vel-tool-args-preview' }, (name ? ' → ' : '') + (preview(content, 100) || '(empty result)'))), h(doc, 'pre', { class: 'vel-msg-content' }, content));
}
/** A transcript; only the last `window` messages are built at first, earlier ones on demand. */
function renderTranscript(doc, messages, window = 50, md = new MarkdownQueue(undefined)) {
    const el = h(doc, 'div', { class: 'vel-transcript' });
    let shown = Math.min(messages.length, Math.max(1, window));
    const list = h(doc, 'div', { class: 'vel-transcript-list' });
    for (const m of messages.slice(messages.length - shown)) {
        list.appendChild(renderMessage(doc, m, md));
    }
    if (shown < messages.length) {
        const more = h(doc, 'button', { class: 'vel-show-earlier', type: 'button' });
        const label = () => `show ${formatCount(Math.min(window, messages.length - shown))} earlier of ${formatCount(messages.length - shown)} hidden messages`;
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
            }
            else {
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
function unknownPayload(doc, reason) {
    return h(doc, 'div', { class: 'vel-root vel-error' }, `vel_jupyter: cannot show this output (${reason}).`);
}
/**
 * The line that says a turn's answer is not whole, or '' when it is: the Python side's
 * `finish_note` (vel_jupyter/jupyter/display.py) says the same words.
 */
function finishNote(messages, defaultCap = null) {
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
function buildTurn(doc, data, md, checkout) {
    const stale = data.current === false && !data.live;
    const root = h(doc, 'div', {
        class: 'vel-root vel-turn' + (data.live ? ' vel-live' : ''),
        'data-session': str(data.session_id)
    });
    const alternatives = (Array.isArray(data.alternatives) ? data.alternatives : []).filter(a => isObject(a) && messagesOf(a.messages).length > 0);
    const own = alternatives.findIndex(a => a.current === true);
    // The kernel redraws an output whose session moved to another answer of its cell: start there.
    const showing = typeof data.showing === 'string' ? alternatives.findIndex(a => a.head === data.showing) : -1;
    const body = (index) => turnBody(doc, data, md, stale, alternatives, own, index, showing, checkout);
    let part = body(showing >= 0 ? showing : own);
    root.appendChild(part);
    // The ‹ › switcher: show another answer of this cell in place (reading; no kernel needed);
    // "continue from this answer" asks the kernel to move the session there.
    root.addEventListener('click', event => {
        const target = event.target;
        if (!target || !within(target, part)) {
            return;
        }
        if (target.getAttribute?.('data-action') === 'checkout' && checkout) {
            const head = target.getAttribute('data-head') ?? '';
            const status = part.querySelectorAll('.vel-alt-status')[0] ?? null;
            target.disabled = true;
            if (status) {
                status.textContent = 'switching…';
            }
            checkout.run(str(data.session_id), head).then(() => {
                if (status) {
                    status.textContent = '';
                }
            }, (error) => {
                target.disabled = false;
                if (status) {
                    status.textContent = String(error?.message ?? error);
                }
            });
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
function within(node, ancestor) {
    for (let n = node; n; n = n.parentNode) {
        if (n === ancestor) {
            return true;
        }
    }
    return false;
}
/** What one answer of a turn looks like: a payload built from an alternative's messages. */
function alternativeView(data, alternative) {
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
function turnBody(doc, data, md, stale, alternatives, own, index, showing = -1, checkout) {
    const mine = index === own;
    const view = mine || index < 0 ? data : alternativeView(data, alternatives[index]);
    const part = h(doc, 'div', {
        class: 'vel-turn-body' + (mine ? '' : ' vel-alternative') + (mine && stale ? ' vel-stale' : ''),
        'data-alternative': String(index)
    });
    // The prompt as sent, when interpolation changed it: this answer's own.
    const sent = mine || index < 0 ? data.prompt : view.messages.find(m => m.role === 'user')?.content;
    if (typeof data.prompt === 'string' && typeof sent === 'string') {
        part.appendChild(h(doc, 'details', { class: 'vel-prompt' }, h(doc, 'summary', {}, 'prompt sent (after {name} interpolation)'), h(doc, 'pre', { class: 'vel-msg-content' }, sent)));
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
        }
        else if (content && message === answer && format !== 'markdown') {
            el.appendChild(h(doc, 'pre', { class: `vel-msg-content vel-verbatim ${formatClass}` }, content));
        }
        else if (content) {
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
        prev.disabled = index === 0;
        next.disabled = index === alternatives.length - 1;
        switcher.appendChild(prev);
        switcher.appendChild(h(doc, 'span', { class: 'vel-alt-position' }, `${index + 1}/${alternatives.length}`));
        switcher.appendChild(next);
        footer.appendChild(switcher);
    }
    if (data.live) {
        // A stopped frame's note labels the text; the error line under it says why, once.
        footer.appendChild(h(doc, 'span', { class: 'vel-usage vel-streaming' }, data.note ? '' : '▌ streaming…'));
    }
    else {
        footer.appendChild(h(doc, 'span', { class: 'vel-usage' }, turnUsage(view)));
        const marker = branchLabel(data.branch, data.branches);
        const sid = str(data.session_id);
        if (index >= 0 && index === showing) {
            footer.appendChild(h(doc, 'span', { class: 'vel-alt-note vel-alt-current' }, 'the session continues from this answer'));
        }
        else if (!mine && index >= 0) {
            footer.appendChild(h(doc, 'span', { class: 'vel-alt-note' }, 'another answer of this cell'));
            footer.appendChild(checkoutButton(doc, sid, str(alternatives[index].head), checkout));
            footer.appendChild(h(doc, 'span', { class: 'vel-alt-status', role: 'status' }));
        }
        else if (stale) {
            footer.appendChild(h(doc, 'span', { class: 'vel-stale-marker', title: `%chat branches ${sid} lists the branches` }, 'not on the current branch'));
            const head = own >= 0 ? str(alternatives[own].head) : '';
            if (head) {
                footer.appendChild(checkoutButton(doc, sid, head, checkout));
                footer.appendChild(h(doc, 'span', { class: 'vel-alt-status', role: 'status' }));
            }
        }
        else if (marker) {
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
const ECHO_NOTE = 'offline echo — set OPENAI_API_KEY or --base-url to use a model';
function isEcho(data) {
    if (str(data.provider) === 'echo') {
        return true;
    }
    return data.messages.some(m => m.role === 'assistant' && isObject(m.meta) && m.meta.provider === 'echo');
}
/** "continue from this answer": enabled when a kernel is connected, else disabled with a tooltip. */
function checkoutButton(doc, sid, head, checkout) {
    const can = !!checkout && checkout.available();
    const button = h(doc, 'button', {
        class: 'vel-alt-checkout',
        type: 'button',
        'data-action': 'checkout',
        'data-head': head,
        title: can
            ? `make it the current branch of ${sid} (%chat checkout ${sid} ${head})`
            : `no kernel connected: run the notebook, then continue from it (%chat checkout ${sid} ${head})`
    }, 'continue from this answer');
    button.disabled = !can;
    return button;
}
/**
 * The turn's one usage line, as display.py::usage_line writes it for the HTML copy:
 * "14 → 19 tokens · model · 412 ms · first token 80 ms".
 */
function turnUsage(data) {
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
function renderTurn(el, data, options = {}) {
    return swapIn(el, options, md => buildTurn(el.ownerDocument, data, md, options.checkout));
}
/**
 * Build a view off the page with `build`, wait for its Markdown, then put it in `el` in
 * one step (replacing what was there), and typeset it. A render that a newer one (for the
 * same `el`) overtook is dropped. With no Markdown to wait for, `el` is updated at once.
 */
function swapIn(el, options, build) {
    const generation = (generations.get(el) ?? 0) + 1;
    generations.set(el, generation);
    const md = new MarkdownQueue(options.markdown, false);
    const view = build(md);
    const put = (hosts) => {
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
const generations = new WeakMap();

/**
 * The fork tree: every branch and fork of a session family, one turn per row.
 *
 * - `renderTree` draws a message tree as turns: the focused path (the session's HEAD) is
 *   one flat column; at a fork, the other continuations fold into a block named by where
 *   they diverge ("another answer to turn 2: …", "another question at turn 3: …"). Blocks
 *   build their rows when first opened and long runs show their ends, so 1,000 turns cost
 *   a few dozen rows until the reader asks for more. Rows are a tree for the keyboard
 *   (arrows, Home/End, Enter), with one tab stop.
 * - `renderTreeView` is the `%chat tree` output and the anywidget: a header, the family's
 *   sessions (click one to follow its HEAD), the tree, and the selected turn read in full
 *   with "Continue from here" and "Fork here", which a `TreeActions` carries out (the
 *   notebook's kernel, or the widget's); without one, or with no kernel, they are disabled
 *   and say why.
 *
 * As in ./render: payload text only ever becomes text nodes; Markdown goes through the hook.
 */
/**
 * Group a message tree into turns. Iterative (safe at any depth) and O(n): heads are found
 * below a turn by its preorder range, not by walking up from every head (which costs
 * heads × depth, and lists each head on every turn above it).
 */
function buildTurnTree(messages, heads = []) {
    const turnOf = new Map();
    const roots = [];
    const all = [];
    const stack = [...messages.roots].reverse();
    while (stack.length) {
        const node = stack.pop();
        const m = node.message;
        const parentTurn = node.parent ? turnOf.get(node.parent.message.id) : undefined;
        let turn;
        if (!parentTurn || m.role === 'user' || node.parent.children.length > 1) {
            const number = (parentTurn?.number ?? 0) + (m.role === 'user' ? 1 : 0);
            turn = { id: m.id, messages: [], last: m.id, parent: parentTurn ?? null, children: [], size: 1, order: all.length, tokens: 0, number };
            (parentTurn ? parentTurn.children : roots).push(turn);
            all.push(turn);
        }
        else {
            turn = parentTurn;
        }
        turn.messages.push(m);
        turn.last = m.id;
        const tokens = messageTokens(m);
        if (tokens) {
            turn.tokens += tokens.prompt + tokens.completion;
        }
        turnOf.set(m.id, turn);
        for (let i = node.children.length - 1; i >= 0; i--) {
            stack.push(node.children[i]);
        }
    }
    // `all` is a preorder walk (a turn's subtree follows it): sizes bottom-up.
    for (let i = all.length - 1; i >= 0; i--) {
        const t = all[i];
        if (t.parent) {
            t.parent.size += t.size;
        }
    }
    // Heads by the preorder position of their turn; a turn's are one run of this list.
    const placed = heads
        .map((head, index) => ({ index, order: typeof head === 'string' ? (turnOf.get(head)?.order ?? -1) : -1 }))
        .filter(p => p.order >= 0)
        .sort((a, b) => a.order - b.order || a.index - b.index);
    const headsBelow = (turn) => {
        let lo = 0;
        let hi = placed.length;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (placed[mid].order < turn.order) {
                lo = mid + 1;
            }
            else {
                hi = mid;
            }
        }
        const out = [];
        for (let i = lo; i < placed.length && placed[i].order < turn.order + turn.size; i++) {
            out.push(placed[i].index);
        }
        return out.sort((a, b) => a - b);
    };
    return { roots, turnOf, messages, headsBelow };
}
const ROW_LIMIT = 160;
function questionOf(t) {
    const first = t.messages[0];
    return first && first.role === 'user' ? first : undefined;
}
function answerOf(t) {
    return [...t.messages].reverse().find(m => m.role === 'assistant' && str(m.content));
}
/**
 * How a folded branch is named, by where it diverges from the turn the path takes there
 * (`continuing`, or none past the HEAD): the same words as tree_view.py::fork_label.
 */
function forkLabel(start, continuing) {
    const n = start.number;
    const answer = start.answer ? `: “${start.answer}”` : '';
    if (!start.question) {
        return `another answer to turn ${n}${answer}`;
    }
    if (continuing && continuing.question === start.question) {
        return start.answer ? `another answer to turn ${n}${answer}` : `a re-run of turn ${n}`;
    }
    if (!continuing) {
        return `continues at turn ${n}: “${start.question}”`;
    }
    return `another question at turn ${n}: “${start.question}”`;
}
const RUN_HEAD = 3;
const RUN_TAIL = 30;
/**
 * The fork tree of `tree` into `el` (replacing what was there); returns the turn tree so
 * a caller can look turns up.
 */
function renderTree(el, tree, options = {}) {
    const doc = el.ownerDocument;
    clear(el);
    const heads = options.heads ?? [];
    const headLabel = (index) => options.headLabels?.[index] ?? `branch ${index + 1}`;
    const turns = buildTurnTree(tree, heads);
    const headIndex = new Map();
    heads.forEach((head, index) => {
        const t = typeof head === 'string' ? turns.turnOf.get(head) : undefined;
        if (t) {
            const list = headIndex.get(t);
            if (list) {
                list.push(index);
            }
            else {
                headIndex.set(t, [index]);
            }
        }
    });
    const currentHead = options.currentHead ?? null;
    const currentTurn = currentHead !== null ? turns.turnOf.get(currentHead) : undefined;
    const focus = options.focusHead === undefined ? currentHead : options.focusHead;
    const onPath = pathIds(tree, focus);
    const headTurn = focus !== null && focus !== undefined ? turns.turnOf.get(focus) : undefined;
    const selectedTurn = options.selected ? turns.turnOf.get(options.selected) : undefined;
    // Blocks holding the selected turn open, and at their forks the way to it continues.
    const guide = new Set();
    for (let t = selectedTurn; t; t = t.parent ?? undefined) {
        guide.add(t);
    }
    const open = options.open ?? new Set();
    const pinned = new Set([...headIndex.keys()]);
    for (const t of [currentTurn, selectedTurn]) {
        if (t) {
            pinned.add(t);
        }
    }
    const maxRun = Math.max(RUN_HEAD + RUN_TAIL + 1, options.maxRun ?? 80);
    const rowText = (t) => {
        const given = options.rows?.get(t.id);
        return {
            question: given ? str(given.question) : preview(questionOf(t)?.content, ROW_LIMIT),
            answer: given ? str(given.answer) : preview(answerOf(t)?.content, ROW_LIMIT)
        };
    };
    const root = h(doc, 'div', { class: 'vel-ft', role: 'tree', 'aria-label': 'fork tree: turns and their branches' });
    const row = (t, level) => {
        const first = t.messages[0];
        const classes = ['vel-ft-node', `vel-role-${roleClass(first.role)}`];
        if (onPath.has(first.id)) {
            classes.push('vel-ft-onpath');
        }
        if (t === currentTurn) {
            classes.push('vel-ft-current');
        }
        if (t === selectedTurn) {
            classes.push('vel-ft-selected');
        }
        const question = questionOf(t);
        const r = h(doc, 'div', {
            class: classes.join(' '),
            'data-id': t.last,
            'data-turn': t.id,
            role: 'treeitem',
            tabindex: '-1',
            'aria-level': String(level),
            'aria-selected': t === selectedTurn ? 'true' : 'false',
            title: question ? preview(question.content, 400) : 'another answer to the question above'
        });
        r.appendChild(h(doc, 'span', { class: 'vel-ft-num', 'aria-label': `turn ${t.number}` }, String(t.number || '')));
        const text = h(doc, 'span', { class: 'vel-ft-text' });
        const q = h(doc, 'span', { class: 'vel-ft-q' });
        const a = h(doc, 'span', { class: 'vel-ft-a' });
        const given = options.rows?.get(t.id);
        if (given) {
            q.textContent = str(given.question);
            a.textContent = str(given.answer);
        }
        else {
            if (question && options.md) {
                options.md.fillPlain(q, str(question.content), ROW_LIMIT);
            }
            else {
                q.textContent = question ? preview(question.content, ROW_LIMIT) : '';
            }
            const answer = answerOf(t);
            if (answer && options.md) {
                options.md.fillPlain(a, str(answer.content), ROW_LIMIT);
            }
            else {
                a.textContent = answer ? preview(answer.content, ROW_LIMIT) : '';
            }
        }
        if (!question) {
            q.textContent = '(another answer)';
            addClass(q, 'vel-ft-muted');
        }
        const calls = t.messages.reduce((n, m) => n + (Array.isArray(m.tool_calls) ? m.tool_calls.length : 0), 0);
        if (!a.textContent && calls) {
            a.textContent = `${calls} tool call${calls > 1 ? 's' : ''}`;
        }
        text.appendChild(q);
        text.appendChild(a);
        r.appendChild(text);
        const side = h(doc, 'span', { class: 'vel-ft-side' });
        for (const index of headIndex.get(t) ?? []) {
            side.appendChild(h(doc, 'span', { class: 'vel-head-label' }, headLabel(index)));
        }
        if (t === currentTurn) {
            side.appendChild(h(doc, 'span', { class: 'vel-head-label vel-head-current', title: 'where the session continues from' }, 'HEAD'));
        }
        if (t.tokens) {
            side.appendChild(h(doc, 'span', { class: 'vel-ft-tokens' }, `${formatCount(t.tokens)} tok`));
        }
        r.appendChild(side);
        return r;
    };
    /** A chain of turns from `start` down; at a fork the way on (`ways`) continues, the rest fold. */
    const renderChain = (container, start, level, ways, pending = null) => {
        let t = start;
        let folds = pending; // the other branches of a fork, shown after the row of the way taken
        while (t) {
            const run = [t];
            let last = t;
            while (last.children.length === 1 && last !== headTurn) {
                last = last.children[0];
                run.push(last);
            }
            container.appendChild(renderRun(run, level, folds));
            folds = null;
            // A fork folds the ways not taken; past HEAD every way folds (the column is HEAD's path).
            if (last.children.length > 1 || (last === headTurn && last.children.length)) {
                const continuing = last.children.find(ways);
                folds = forkBlocks(last.children.filter(c => c !== continuing), continuing, level);
                if (!continuing) {
                    container.appendChild(folds);
                }
                t = continuing;
            }
            else {
                t = undefined;
            }
        }
    };
    const forkBlocks = (starts, continuing, level) => {
        const group = h(doc, 'div', { class: 'vel-ft-fork', role: 'group' });
        const reference = continuing ? { question: rowText(continuing).question } : null;
        for (const start of starts) {
            group.appendChild(branchBlock(start, reference, level));
        }
        return group;
    };
    const renderRun = (run, level, folds) => {
        const list = h(doc, 'div', { class: 'vel-ft-run', role: 'group' });
        // Which rows show: the ends of a long run, and every pinned turn (HEAD, heads, the
        // selection); each gap becomes a "show N more" button that builds its rows on demand.
        const shown = run.map((t, i) => run.length <= maxRun || i < RUN_HEAD || i >= run.length - RUN_TAIL || pinned.has(t));
        let i = 0;
        while (i < run.length) {
            if (shown[i]) {
                list.appendChild(row(run[i], level));
                if (i === 0 && folds) {
                    list.appendChild(folds);
                }
                i++;
                continue;
            }
            const gapStart = i;
            while (i < run.length && !shown[i]) {
                i++;
            }
            const hidden = run.slice(gapStart, i);
            const more = h(doc, 'button', { class: 'vel-ft-more', type: 'button', tabindex: '-1' }, `⋯ show ${formatCount(hidden.length)} more turns`);
            more.addEventListener('click', () => {
                const rows = hidden.map(t => row(t, level));
                const frag = doc.createDocumentFragment();
                for (const r of rows) {
                    frag.appendChild(r);
                }
                const keyboard = more.getAttribute('tabindex') === '0';
                list.replaceChild(frag, more);
                if (keyboard) {
                    focusItem(rows[0]); // the reader was on the button: stay where it was
                }
            });
            list.appendChild(more);
        }
        return list;
    };
    /** A folded branch; its rows are built the first time it is opened. */
    const branchBlock = (start, continuing, level) => {
        const block = h(doc, 'div', { class: 'vel-ft-branch', 'data-start': start.id });
        const text = rowText(start);
        const labels = [...new Set(turns.headsBelow(start).map(headLabel))];
        const isOpen = open.has(start.id) || guide.has(start);
        const toggle = h(doc, 'button', {
            class: 'vel-ft-toggle',
            type: 'button',
            tabindex: '-1',
            'aria-expanded': String(isOpen),
            'data-start': start.id
        });
        const caret = h(doc, 'span', { class: 'vel-ft-caret', 'aria-hidden': 'true' }, isOpen ? '▾' : '▸');
        toggle.appendChild(caret);
        toggle.appendChild(h(doc, 'span', { class: 'vel-ft-toggle-label' }, forkLabel({ number: start.number, ...text }, continuing)));
        toggle.appendChild(h(doc, 'span', { class: 'vel-ft-toggle-info' }, `${formatCount(start.size)} turn${start.size === 1 ? '' : 's'}` + (labels.length ? ` · ${labels.join(', ')}` : '')));
        const body = h(doc, 'div', { class: 'vel-ft-body', role: 'group' });
        body.hidden = !isOpen;
        let built = false;
        const build = () => {
            if (!built) {
                renderChain(body, start, level + 1, t => guide.has(t));
                built = true;
            }
        };
        if (isOpen) {
            build();
        }
        toggle.addEventListener('click', () => {
            const now = toggle.getAttribute('aria-expanded') !== 'true';
            if (now) {
                build();
                open.add(start.id);
            }
            else {
                open.delete(start.id);
            }
            body.hidden = !now;
            toggle.setAttribute('aria-expanded', String(now));
            caret.textContent = now ? '▾' : '▸';
        });
        block.appendChild(toggle);
        block.appendChild(body);
        return block;
    };
    if (!turns.roots.length) {
        root.appendChild(h(doc, 'div', { class: 'vel-empty' }, '(no messages)'));
    }
    else {
        const main = (t) => onPath.has(t.id);
        const first = turns.roots.length === 1 ? turns.roots[0] : turns.roots.find(main);
        const folds = turns.roots.length > 1 ? forkBlocks(turns.roots.filter(r => r !== first), first, 1) : null;
        if (first) {
            renderChain(root, first, 1, main, folds);
        }
        else if (folds) {
            root.appendChild(folds);
        }
    }
    // -- keyboard: one tab stop (the selected row, else HEAD, else the first); arrows move --
    const items = () => Array.from(root.querySelectorAll('.vel-ft-node, .vel-ft-toggle, .vel-ft-more')).filter(item => !hiddenInside(item, root));
    const focusItem = (item) => {
        if (!item) {
            return;
        }
        for (const other of Array.from(root.querySelectorAll('[tabindex="0"]'))) {
            other.setAttribute('tabindex', '-1');
        }
        item.setAttribute('tabindex', '0');
        item.focus?.();
    };
    const stop = root.querySelectorAll('.vel-ft-selected')[0] ??
        root.querySelectorAll('.vel-ft-current')[0] ??
        items()[0];
    stop?.setAttribute('tabindex', '0');
    root.addEventListener('click', (event) => {
        const target = event.target;
        const nodeEl = target?.closest?.('.vel-ft-node');
        const id = nodeEl?.getAttribute('data-id');
        if (nodeEl && id) {
            focusItem(nodeEl);
            options.onSelect?.(id);
        }
    });
    root.addEventListener('keydown', (event) => {
        const key = event.key;
        const target = event.target;
        if (!target) {
            return;
        }
        const list = items();
        const at = list.indexOf(target);
        if (at < 0) {
            return;
        }
        const isToggle = target.classList.contains('vel-ft-toggle');
        const expanded = target.getAttribute('aria-expanded') === 'true';
        let handled = true;
        if (key === 'ArrowDown') {
            focusItem(list[at + 1] ?? null);
        }
        else if (key === 'ArrowUp') {
            focusItem(list[at - 1] ?? null);
        }
        else if (key === 'Home') {
            focusItem(list[0] ?? null);
        }
        else if (key === 'End') {
            focusItem(list[list.length - 1] ?? null);
        }
        else if (key === 'ArrowRight' && isToggle) {
            if (!expanded) {
                target.click();
            }
            else {
                focusItem(items()[at + 1] ?? null);
            }
        }
        else if (key === 'ArrowLeft') {
            if (isToggle && expanded) {
                target.click();
            }
            else {
                // Up to the toggle of the block this item is in.
                const block = target.parentElement?.closest?.('.vel-ft-branch');
                const toggle = block?.querySelectorAll('.vel-ft-toggle')[0] ?? null;
                focusItem(toggle && toggle !== target ? toggle : null);
            }
        }
        else if (key === 'Enter' || key === ' ') {
            if (target.classList.contains('vel-ft-node')) {
                const id = target.getAttribute('data-id');
                if (id) {
                    options.onSelect?.(id);
                }
            }
            else {
                target.click();
            }
        }
        else {
            handled = false;
        }
        if (handled) {
            event.preventDefault();
        }
    });
    el.appendChild(root);
    return turns;
}
/** Whether `item` sits in a folded block (not shown) below `root`. */
function hiddenInside(item, root) {
    for (let n = item.parentElement; n && n !== root; n = n.parentElement) {
        if (n.hidden) {
            return true;
        }
    }
    return false;
}
// ---------------------------------------------------------------------------------------
// The tree view: `%chat tree` outputs, the widget, saved trees
/** "fam · branch 1", "fam-fork (detached)": how the tree labels a session's head (branches count from 1, as everywhere). */
function treeHeadLabel(head) {
    const branch = num(head.branch);
    return str(head.session_id) + (branch === null ? ' (detached)' : ` · branch ${branch + 1}`);
}
/** "fork tree · 5 turns · 2 sessions". */
function treeStats(data) {
    const count = (n, noun) => `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`;
    return `fork tree · ${count(data.turns.length, 'turn')} · ${count(data.sessions.length, 'session')}`;
}
/** Each session's current head in a tree payload (the first marked current), by session id. */
function currentHeads(data) {
    const out = new Map();
    for (const hd of data.heads) {
        if (hd.current && !out.has(str(hd.session_id))) {
            out.set(str(hd.session_id), hd);
        }
    }
    return out;
}
/** The message id a head entry points at, or null. */
function headMessage(head) {
    return head ? str(head.message) || str(head.turn) || null : null;
}
/**
 * A tree payload as `renderTree` input: the message tree, every session's heads labelled
 * by session (the focused session's current one says HEAD instead), its row texts.
 */
function treeStateView(data, focus = str(data.focus)) {
    const labelled = data.heads.filter(hd => !(hd.current && str(hd.session_id) === focus));
    const heads = labelled.map(hd => str(hd.message) || str(hd.turn) || null);
    const rows = new Map();
    for (const t of data.turns) {
        if (typeof t.question === 'string' || typeof t.answer === 'string') {
            rows.set(t.id, { question: str(t.question), answer: str(t.answer) });
        }
    }
    const branches = new Map();
    for (const hd of data.heads) {
        branches.set(str(hd.session_id), (branches.get(str(hd.session_id)) ?? 0) + 1);
    }
    return {
        tree: buildTree(data.turns.flatMap(t => t.messages)),
        options: {
            heads,
            // A session with one branch is named alone; otherwise which branch of it.
            headLabels: labelled.map(hd => ((branches.get(str(hd.session_id)) ?? 0) > 1 ? treeHeadLabel(hd) : str(hd.session_id))),
            currentHead: headMessage(currentHeads(data).get(focus)),
            rows
        }
    };
}
function newTreeViewState() {
    return { focus: null, selected: null, open: new Set(), status: '' };
}
/** A session id a user may type for a fork (the Python side checks it again). */
const NEW_SESSION_ID = /^[\p{L}\p{N}_.:@+=~-](?:[\p{L}\p{N}_ .:@+=~-]{0,198}[\p{L}\p{N}_.:@+=~-])?$/u;
/**
 * The fork tree with its header, the family's sessions, and the selected turn below in
 * full width with its actions. Redrawn (same `state`) when a new payload arrives.
 */
function renderTreeView(el, data, options = {}) {
    const state = options.state ?? newTreeViewState();
    return swapIn(el, options, md => buildTreeView(el, data, options, state, md));
}
function buildTreeView(el, data, options, state, md) {
    const doc = el.ownerDocument;
    const sessions = data.sessions.map(s => str(s.session_id)).filter(Boolean);
    const focus = state.focus && sessions.includes(state.focus) ? state.focus : str(data.focus);
    const view = treeStateView(data, focus);
    if (state.selected !== null && !view.tree.byId.has(state.selected)) {
        state.selected = null;
    }
    const root = h(doc, 'div', { class: 'vel-root vel-tree-view', 'data-session': focus });
    const header = h(doc, 'div', { class: 'vel-session-header' });
    header.appendChild(h(doc, 'span', { class: 'vel-session-id' }, focus || '(unnamed session)'));
    header.appendChild(h(doc, 'span', { class: 'vel-session-stats' }, treeStats(data)));
    root.appendChild(header);
    // The family's sessions, each with where its HEAD is; the followed one is pressed.
    const numbers = new Map();
    const rebuild = () => void renderTreeView(el, data, { ...options, state });
    const chips = h(doc, 'div', { class: 'vel-tree-sessions', role: 'toolbar', 'aria-label': 'sessions of this tree' });
    chips.appendChild(h(doc, 'span', { class: 'vel-tree-sessions-label' }, 'sessions'));
    const turnsById = new Map(data.turns.map(t => [t.id, t]));
    const current = currentHeads(data);
    for (const sid of sessions) {
        const turn = current.get(sid);
        const head = headMessage(turn);
        const number = turn ? num(turnsById.get(str(turn.turn))?.number) : null;
        numbers.set(sid, number ?? 0);
        const chip = h(doc, 'button', {
            class: 'vel-tree-session' + (sid === focus ? ' vel-tree-session-focus' : ''),
            type: 'button',
            'aria-pressed': String(sid === focus),
            'data-session': sid,
            title: sid === focus ? `the tree follows ${sid}` : `follow ${sid}: its path becomes the main column`
        }, h(doc, 'span', { class: 'vel-tree-session-name' }, sid), h(doc, 'span', { class: 'vel-tree-session-where' }, head ? (number ? `turn ${number}` : 'HEAD') : 'empty'));
        chip.addEventListener('click', () => {
            if (sid !== focus) {
                state.focus = sid;
                state.selected = head;
                rebuild();
            }
        });
        chips.appendChild(chip);
    }
    root.appendChild(chips);
    const treeHost = h(doc, 'div', { class: 'vel-ft-host' });
    const detail = h(doc, 'div', { class: 'vel-tree-detail', 'aria-live': 'polite' });
    root.appendChild(treeHost);
    root.appendChild(detail);
    const turns = renderTree(treeHost, view.tree, {
        ...view.options,
        selected: state.selected,
        open: state.open,
        md,
        onSelect: id => {
            state.selected = id;
            for (const r of Array.from(treeHost.querySelectorAll('.vel-ft-node'))) {
                const on = r.getAttribute('data-id') === id;
                r.classList.toggle('vel-ft-selected', on);
                r.setAttribute('aria-selected', String(on));
            }
            showDetail();
        }
    });
    const onFocusPath = () => pathIds(view.tree, view.options.currentHead);
    function showDetail() {
        clear(detail);
        const turn = state.selected ? turns.turnOf.get(state.selected) : undefined;
        if (!turn) {
            detail.appendChild(h(doc, 'div', { class: 'vel-tree-hint' }, 'Click a turn (or use the arrow keys and Enter) to read it, continue from it or fork it.'));
            appendStatus();
            return;
        }
        const where = onFocusPath().has(turn.last) ? `on ${focus}'s path` : `not on ${focus}'s current path`;
        detail.appendChild(h(doc, 'div', { class: 'vel-tree-detail-head' }, `Turn ${turn.number} · ${where}`));
        detail.appendChild(renderTranscript(doc, turn.messages, 50, md));
        detail.appendChild(actionsBar(turn.last, turn.number));
        appendStatus();
    }
    function appendStatus() {
        detail.appendChild(h(doc, 'div', { class: 'vel-tree-status', role: 'status' }, state.status));
    }
    function actionsBar(messageId, number) {
        const bar = h(doc, 'div', { class: 'vel-tree-actions' });
        const why = options.actions ? options.actions.unavailable() : (options.noActions ?? 'saved view: run the cell with a kernel to act on the tree');
        const checkout = h(doc, 'button', {
            class: 'vel-tree-checkout jp-mod-styled jp-mod-accept',
            type: 'button',
            title: why || `make turn ${number} the current message of ${focus}: the next %%chat ${focus} cell continues from it (%chat checkout ${focus} ${messageId})`
        }, `Continue ${focus} from here`);
        const name = h(doc, 'input', {
            class: 'vel-tree-fork-name jp-mod-styled',
            type: 'text',
            'aria-label': 'name of the new session (optional)',
            title: why || 'the new session’s id; leave it empty for a generated one'
        });
        name.placeholder = 'new session id (optional)';
        const fork = h(doc, 'button', {
            class: 'vel-tree-fork jp-mod-styled',
            type: 'button',
            title: why || `a new session that continues from turn ${number}; ${focus} stays as it is (%chat fork ${focus} NEW --at ${messageId})`
        }, 'Fork here');
        for (const control of [checkout, name, fork]) {
            control.disabled = !!why;
        }
        const run = (button, action) => {
            const reason = options.actions ? options.actions.unavailable() : why;
            if (reason) {
                setStatus(reason);
                return;
            }
            button.disabled = true;
            setStatus('working…');
            action().then(text => {
                button.disabled = false;
                setStatus(text);
            }, (error) => {
                button.disabled = false;
                setStatus(String(error?.message ?? error));
            });
        };
        checkout.addEventListener('click', () => run(checkout, () => options.actions.checkout(focus, messageId)));
        fork.addEventListener('click', () => {
            const wanted = name.value.trim();
            if (wanted && !NEW_SESSION_ID.test(wanted)) {
                setStatus(`“${wanted}” cannot name a session: use letters, digits, spaces inside, or . : @ + = ~ - _`);
                return;
            }
            run(fork, () => options.actions.fork(focus, messageId, wanted));
        });
        name.addEventListener('keydown', (event) => {
            if (event.key === 'Enter') {
                fork.click();
            }
        });
        const group = h(doc, 'span', { class: 'vel-tree-fork-group' }, name, fork);
        bar.appendChild(checkout);
        bar.appendChild(group);
        return bar;
    }
    function setStatus(text) {
        // The answer may come after a redraw (the kernel redraws the tree as it acts): show it
        // in the newest view, which the state remembers.
        state.status = text;
        const line = (state.view ?? root).querySelectorAll('.vel-tree-status')[0];
        if (line) {
            line.textContent = text;
        }
    }
    showDetail();
    state.view = root;
    return root;
}
