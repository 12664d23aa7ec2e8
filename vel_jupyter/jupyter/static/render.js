/* Generated from labextension/{src/render.ts,style/render.css} by labextension/scripts/widget-assets.mjs: edit those. */
/**
 * Framework-free rendering of vel_jupyter payloads: one code path for the JupyterLab
 * MIME renderer (index.ts) and, bundled as an ES module, the anywidget fork-tree widget.
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
 * Link messages into a tree. Order-independent; a message whose parent is missing is a
 * root; duplicate ids keep the first entry; parent cycles are broken (such nodes
 * become roots). Iterative: safe at any depth.
 */
function buildTree(messages, heads = []) {
    const byId = new Map();
    const order = [];
    for (const message of messages) {
        if (!byId.has(message.id)) {
            const node = { message, parent: null, children: [], size: 1, headsBelow: [] };
            byId.set(message.id, node);
            order.push(node);
        }
    }
    const roots = [];
    for (const node of order) {
        const parentId = node.message.parent_id;
        const parent = typeof parentId === 'string' ? byId.get(parentId) : undefined;
        if (parent && parent !== node && !isAncestor(node, parent)) {
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
        stack.push(...node.children);
    }
    for (let i = postorder.length - 1; i >= 0; i--) {
        const node = postorder[i];
        if (node.parent) {
            node.parent.size += node.size;
        }
    }
    heads.forEach((head, index) => {
        let node = typeof head === 'string' ? byId.get(head) : undefined;
        while (node) {
            node.headsBelow.push(index);
            node = node.parent ?? undefined;
        }
    });
    return { byId, roots };
}
function isAncestor(candidate, node) {
    // Is `candidate` already among `node`'s ancestors (would linking make a cycle)?
    for (let p = node; p; p = p.parent) {
        if (p === candidate) {
            return true;
        }
    }
    return false;
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
/** Group a message tree into turns (iterative: safe at any depth). */
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
            turn = { id: m.id, messages: [], last: m.id, parent: parentTurn ?? null, children: [], size: 1, headsBelow: [], tokens: 0 };
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
    // `all` lists parents before children: sizes bottom-up.
    for (let i = all.length - 1; i >= 0; i--) {
        const t = all[i];
        if (t.parent) {
            t.parent.size += t.size;
        }
    }
    heads.forEach((head, index) => {
        let t = typeof head === 'string' ? turnOf.get(head) : undefined;
        while (t) {
            t.headsBelow.push(index);
            t = t.parent ?? undefined;
        }
    });
    return { roots, turnOf, messages };
}
/** The branches a session view can switch between (plus a detached head, if any). */
function branchChoices(session, tree) {
    const heads = Array.isArray(session.heads) ? session.heads : [];
    const head = typeof session.head === 'string' ? session.head : null;
    const current = num(session.current);
    const choices = heads.map((h, index) => {
        const path = pathTo(tree, typeof h === 'string' ? h : null);
        const last = [...path].reverse().find(m => str(m.content));
        return {
            index,
            head: typeof h === 'string' ? h : null,
            label: `branch ${index + 1}: ${last ? preview(last.content, 50) : '(empty)'}`,
            current: index === current && (typeof h === 'string' ? h : null) === head,
            length: path.length
        };
    });
    if (!choices.some(c => c.current) && (head !== null || !choices.length)) {
        const path = pathTo(tree, head);
        const last = [...path].reverse().find(m => str(m.content));
        choices.push({
            index: -1,
            head,
            label: `detached head: ${last ? preview(last.content, 50) : '(empty)'}`,
            current: true,
            length: path.length
        });
    }
    return choices;
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
function finishNote(messages) {
    const last = messages.length ? messages[messages.length - 1] : null;
    const meta = last && isObject(last.meta) ? last.meta : null;
    if (!meta) {
        return '';
    }
    if (meta.refusal !== undefined && meta.refusal !== null) {
        return 'the model declined to answer';
    }
    const finish = str(meta.finish_reason);
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
    const list = h(doc, 'div', { class: 'vel-transcript-list' });
    const shown = view.messages.filter(m => m.role !== 'user');
    const format = str(view.format) || 'markdown';
    const answer = [...shown].reverse().find(m => m.role === 'assistant');
    for (const message of shown) {
        const role = roleClass(message.role);
        const el = h(doc, 'div', { class: `vel-msg vel-role-${role}`, 'data-id': message.id });
        const content = str(message.content);
        if (role === 'tool') {
            el.appendChild(toolResult(doc, message));
        }
        else if (content && message === answer && format !== 'markdown') {
            el.appendChild(h(doc, 'pre', { class: `vel-msg-content vel-verbatim vel-format-${format}` }, content));
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
    const note = str(view.note) || finishNote(view.messages);
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
        footer.appendChild(h(doc, 'span', { class: 'vel-usage vel-streaming' }, data.note ? 'not kept' : '▌ streaming…'));
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
const RUN_HEAD = 3;
const RUN_TAIL = 30;
/**
 * The fork tree; nodes are turns. A linear run of turns is a flat list; only a fork nests,
 * and at a fork the turn on the focused path continues at the same level while the other
 * children become collapsed blocks, so the focused path is one flat column however many
 * forks it passes. Collapsed blocks are built when first opened and long runs build their
 * middle on demand: a 1,000-turn session costs a few dozen rows until the user asks for more.
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
            headIndex.set(t, [...(headIndex.get(t) ?? []), index]);
        }
    });
    const currentHead = options.currentHead ?? null;
    const currentTurn = currentHead !== null ? turns.turnOf.get(currentHead) : undefined;
    const focus = options.focusHead === undefined ? currentHead : options.focusHead;
    const onPath = pathIds(tree, focus);
    const maxRun = Math.max(RUN_HEAD + RUN_TAIL + 1, options.maxRun ?? 80);
    const root = h(doc, 'div', { class: 'vel-ft', role: 'tree' });
    const row = (t) => {
        const first = t.messages[0];
        const classes = ['vel-ft-node', `vel-role-${roleClass(first.role)}`];
        if (onPath.has(first.id)) {
            classes.push('vel-ft-onpath');
        }
        if (t === currentTurn) {
            classes.push('vel-ft-current');
        }
        const r = h(doc, 'div', {
            class: classes.join(' '),
            'data-id': t.last,
            'data-turn': t.id,
            role: 'treeitem',
            tabindex: '0',
            title: preview(first.content, 400)
        });
        r.appendChild(h(doc, 'span', { class: 'vel-ft-role' }, str(first.role) || '?'));
        const calls = t.messages.reduce((n, m) => n + (Array.isArray(m.tool_calls) ? m.tool_calls.length : 0), 0);
        r.appendChild(h(doc, 'span', { class: 'vel-ft-preview' }, preview(first.content, 70) || '(empty)'));
        const answer = [...t.messages].reverse().find(m => m !== first && m.role === 'assistant' && str(m.content));
        if (answer) {
            r.appendChild(h(doc, 'span', { class: 'vel-ft-answer' }, '→ ' + preview(answer.content, 50)));
        }
        if (calls) {
            r.appendChild(h(doc, 'span', { class: 'vel-ft-calls' }, `${calls} tool call${calls > 1 ? 's' : ''}`));
        }
        if (t.tokens) {
            r.appendChild(h(doc, 'span', { class: 'vel-ft-tokens' }, `${formatCount(t.tokens)} tok`));
        }
        for (const index of headIndex.get(t) ?? []) {
            r.appendChild(h(doc, 'span', { class: 'vel-head-label' }, headLabel(index)));
        }
        if (t === currentTurn) {
            r.appendChild(h(doc, 'span', { class: 'vel-head-label vel-head-current' }, 'HEAD'));
        }
        if (options.onCheckout) {
            r.appendChild(h(doc, 'button', { class: 'vel-ft-action', type: 'button', 'data-action': 'checkout', title: 'continue from here' }, 'check out'));
        }
        if (options.onFork) {
            r.appendChild(h(doc, 'button', { class: 'vel-ft-action', type: 'button', 'data-action': 'fork', title: 'fork here' }, 'fork'));
        }
        return r;
    };
    const renderChain = (container, start) => {
        let t = start;
        while (t) {
            const run = [t];
            let last = t;
            while (last.children.length === 1) {
                last = last.children[0];
                run.push(last);
            }
            container.appendChild(renderRun(run));
            t = last.children.length > 1 ? renderFork(container, last.children) : undefined;
        }
    };
    /** Collapsed blocks for the `children` off the focused path; returns the one on it. */
    const renderFork = (container, children) => {
        const continuing = children.find(c => onPath.has(c.id));
        const fork = h(doc, 'div', { class: 'vel-ft-fork' });
        for (const child of children) {
            if (child !== continuing) {
                fork.appendChild(branchBlock(child));
            }
        }
        container.appendChild(fork);
        return continuing;
    };
    const renderRun = (run) => {
        const list = h(doc, 'div', { class: 'vel-ft-run', role: 'group' });
        if (run.length <= maxRun) {
            for (const t of run) {
                list.appendChild(row(t));
            }
            return list;
        }
        const hidden = run.slice(RUN_HEAD, run.length - RUN_TAIL);
        const hiddenHeads = hidden.filter(t => headIndex.has(t) || t === currentTurn).length;
        for (const t of run.slice(0, RUN_HEAD)) {
            list.appendChild(row(t));
        }
        const more = h(doc, 'button', { class: 'vel-ft-more', type: 'button' }, `⋯ show ${formatCount(hidden.length)} more turns` +
            (hiddenHeads ? ` (${hiddenHeads} labelled head${hiddenHeads > 1 ? 's' : ''})` : ''));
        more.addEventListener('click', () => {
            const frag = doc.createDocumentFragment();
            for (const t of hidden) {
                frag.appendChild(row(t));
            }
            list.replaceChild(frag, more);
        });
        list.appendChild(more);
        for (const t of run.slice(run.length - RUN_TAIL)) {
            list.appendChild(row(t));
        }
        return list;
    };
    /** A collapsed subtree; its rows are built the first time it is opened. */
    const branchBlock = (start) => {
        const block = h(doc, 'div', { class: 'vel-ft-branch' });
        const first = start.messages[0];
        const labels = start.headsBelow.map(headLabel);
        const toggle = h(doc, 'button', { class: 'vel-ft-toggle', type: 'button', 'aria-expanded': 'false' });
        const caret = h(doc, 'span', { class: 'vel-ft-caret', 'aria-hidden': 'true' }, '▸');
        toggle.appendChild(caret);
        toggle.appendChild(h(doc, 'span', { class: 'vel-ft-toggle-label' }, `${str(first.role) || '?'}: ${preview(first.content, 50) || '(empty)'}`));
        toggle.appendChild(h(doc, 'span', { class: 'vel-ft-toggle-info' }, `${formatCount(start.size)} turn${start.size === 1 ? '' : 's'}` + (labels.length ? ` · ${labels.join(', ')}` : '')));
        const body = h(doc, 'div', { class: 'vel-ft-body' });
        body.hidden = true;
        let built = false;
        toggle.addEventListener('click', () => {
            const open = toggle.getAttribute('aria-expanded') !== 'true';
            if (open && !built) {
                renderChain(body, start);
                built = true;
            }
            body.hidden = !open;
            toggle.setAttribute('aria-expanded', String(open));
            caret.textContent = open ? '▾' : '▸';
        });
        block.appendChild(toggle);
        block.appendChild(body);
        return block;
    };
    if (!turns.roots.length) {
        root.appendChild(h(doc, 'div', { class: 'vel-empty' }, '(no messages)'));
    }
    else if (turns.roots.length === 1) {
        renderChain(root, turns.roots[0]);
    }
    else {
        const continuing = renderFork(root, turns.roots);
        if (continuing) {
            renderChain(root, continuing);
        }
    }
    // One delegated listener: row clicks select, buttons act (on the turn's last message).
    root.addEventListener('click', (event) => {
        const target = event.target;
        const nodeEl = target?.closest?.('.vel-ft-node');
        const id = nodeEl?.getAttribute('data-id');
        if (!id) {
            return;
        }
        const action = target?.closest?.('[data-action]')?.getAttribute('data-action');
        if (action === 'checkout') {
            options.onCheckout?.(id);
        }
        else if (action === 'fork') {
            options.onFork?.(id);
        }
        else {
            options.onSelect?.(id);
        }
    });
    root.addEventListener('keydown', (event) => {
        const key = event.key;
        const target = event.target;
        if ((key === 'Enter' || key === ' ') && target?.classList?.contains('vel-ft-node')) {
            event.preventDefault();
            const id = target.getAttribute('data-id');
            if (id) {
                options.onSelect?.(id);
            }
        }
    });
    el.appendChild(root);
    return turns;
}
function headsOf(data) {
    return Array.isArray(data.heads) ? data.heads.map(x => (typeof x === 'string' ? x : null)) : [];
}
/**
 * The fork tree of a session payload alone (what the anywidget shows); returns the turn
 * tree so a caller can look turns up. Pass `onCheckout` / `onFork` to get the row buttons.
 */
function renderSessionTree(el, data, options = {}) {
    const heads = headsOf(data);
    clear(el);
    const wrap = h(el.ownerDocument, 'div', { class: 'vel-root vel-session-tree' });
    el.appendChild(wrap);
    return renderTree(wrap, buildTree(data.messages, heads), {
        heads,
        currentHead: typeof data.head === 'string' ? data.head : null,
        ...options
    });
}
// -- full session -----------------------------------------------------------------------
/**
 * A whole session: header, branch navigation, the fork tree (collapsible) and the
 * transcript of the chosen branch. Switching branches or clicking a turn only changes
 * what is shown; `onCheckout` (when given) asks the kernel side to move the head.
 */
function renderSession(el, data, options = {}) {
    return swapIn(el, options, md => buildSession(el.ownerDocument, data, options, md));
}
function buildSession(doc, data, options, md) {
    const heads = headsOf(data);
    const tree = buildTree(data.messages, heads);
    const choices = branchChoices(data, tree);
    const currentHead = typeof data.head === 'string' ? data.head : null;
    let selected = Math.max(0, choices.findIndex(c => c.current));
    let shownHead = choices[selected]?.head ?? currentHead;
    const root = h(doc, 'div', { class: 'vel-root vel-session', 'data-session': str(data.session_id) });
    // Header
    const header = h(doc, 'div', { class: 'vel-session-header' });
    header.appendChild(h(doc, 'span', { class: 'vel-session-id' }, str(data.session_id) || '(unnamed session)'));
    const branchCount = heads.length;
    header.appendChild(h(doc, 'span', { class: 'vel-session-stats' }, `${formatCount(data.messages.length)} messages · ${formatCount(branchCount)} branch${branchCount === 1 ? '' : 'es'}`));
    const forked = isObject(data.forked_from) ? data.forked_from : null;
    if (forked && forked.session_id) {
        header.appendChild(h(doc, 'span', { class: 'vel-session-forked' }, `forked from ${str(forked.session_id)}`));
    }
    root.appendChild(header);
    if (data.system) {
        root.appendChild(h(doc, 'details', { class: 'vel-system' }, h(doc, 'summary', {}, `System: ${preview(data.system, 80)}`), h(doc, 'div', { class: 'vel-msg-content' }, str(data.system))));
    }
    // Branch navigation
    const nav = h(doc, 'div', { class: 'vel-branch-nav' });
    const prev = h(doc, 'button', { class: 'vel-branch-prev', type: 'button', title: 'previous branch', 'aria-label': 'previous branch' }, '‹');
    const next = h(doc, 'button', { class: 'vel-branch-next', type: 'button', title: 'next branch', 'aria-label': 'next branch' }, '›');
    const select = h(doc, 'select', { class: 'vel-branch-select', 'aria-label': 'branch' });
    choices.forEach((choice, i) => {
        select.appendChild(h(doc, 'option', { value: String(i) }, choice.label + (choice.current ? ' (current)' : '')));
    });
    const marker = h(doc, 'span', { class: 'vel-branch-marker' });
    const checkout = options.onCheckout
        ? h(doc, 'button', { class: 'vel-branch-checkout', type: 'button' }, 'check out')
        : null;
    nav.appendChild(prev);
    nav.appendChild(select);
    nav.appendChild(next);
    nav.appendChild(marker);
    if (checkout) {
        nav.appendChild(checkout);
    }
    root.appendChild(nav);
    const transcriptHost = h(doc, 'div', { class: 'vel-transcript-host' });
    const treePanel = h(doc, 'details', { class: 'vel-ft-panel' });
    const treeSummary = h(doc, 'summary', {}, `Fork tree (${formatCount(data.messages.length)} messages, ${formatCount(branchCount)} branch${branchCount === 1 ? '' : 'es'})`);
    treePanel.appendChild(treeSummary);
    const treeHost = h(doc, 'div', { class: 'vel-ft-host' });
    treePanel.appendChild(treeHost);
    root.appendChild(treePanel);
    root.appendChild(transcriptHost);
    const showPath = (head, label) => {
        clear(transcriptHost);
        transcriptHost.appendChild(renderTranscript(doc, pathTo(tree, head), options.transcriptWindow ?? 50, md));
        marker.textContent = label;
    };
    let treeBuilt = false;
    const drawTree = () => {
        renderTree(treeHost, tree, {
            heads,
            currentHead,
            focusHead: shownHead,
            onCheckout: options.onCheckout,
            onFork: options.onFork,
            onSelect: id => {
                shownHead = id;
                const choice = choices.findIndex(c => c.head === id);
                if (choice >= 0) {
                    choose(choice);
                }
                else {
                    showPath(id, 'selected turn (not a branch head)');
                    markTree();
                }
            }
        });
        treeBuilt = true;
    };
    const markTree = () => {
        // Re-mark the path shown without rebuilding the tree.
        const ids = pathIds(tree, shownHead);
        treeHost.querySelectorAll?.('.vel-ft-node').forEach(n => {
            n.classList.toggle('vel-ft-onpath', ids.has(n.getAttribute('data-turn') ?? ''));
        });
    };
    const choose = (i) => {
        if (!choices.length) {
            showPath(currentHead, '');
            return;
        }
        selected = (i + choices.length) % choices.length;
        const choice = choices[selected];
        shownHead = choice.head;
        select.value = String(selected);
        const position = choice.index >= 0 ? `branch ${choice.index + 1} of ${branchCount}` : 'detached head';
        showPath(choice.head, position + (choice.current ? ' (current)' : ''));
        prev.disabled = choices.length < 2;
        next.disabled = choices.length < 2;
        if (checkout) {
            checkout.disabled = choice.current;
        }
        if (treeBuilt) {
            drawTree(); // expand the newly shown branch
        }
    };
    prev.addEventListener('click', () => choose(selected - 1));
    next.addEventListener('click', () => choose(selected + 1));
    select.addEventListener('change', () => choose(Number(select.value)));
    checkout?.addEventListener('click', () => {
        const choice = choices[selected];
        if (choice && options.onCheckout) {
            options.onCheckout(choice.index >= 0 ? choice.index : (choice.head ?? ''));
        }
    });
    // The tree is built when its panel is first opened.
    treePanel.addEventListener('toggle', () => {
        if (treePanel.open && !treeBuilt) {
            drawTree();
        }
    });
    choose(selected);
    const openTree = options.treeOpen ?? branchCount > 1;
    if (openTree) {
        treePanel.open = true;
        if (!treeBuilt) {
            drawTree();
        }
    }
    return root;
}
// -- saved fork-tree widget -----------------------------------------------------------
/** "fam · branch 1", "fam-fork (detached)": how the widget labels a session's head (branches count from 1, as everywhere). */
function treeHeadLabel(head) {
    const branch = num(head.branch);
    return str(head.session_id) + (branch === null ? ' (detached)' : ` · branch ${branch + 1}`);
}
/**
 * The fork-tree widget's last state, drawn without a kernel: the same tree as a saved
 * session (heads labelled by session), and a click on a turn shows its messages. Checkout
 * and fork need the kernel, so they are not offered here.
 */
function renderTreeState(el, data, options = {}) {
    return swapIn(el, options, md => buildTreeState(el.ownerDocument, data, md));
}
function buildTreeState(doc, data, md) {
    const focus = str(data.focus);
    const root = h(doc, 'div', { class: 'vel-root vel-tree-state', 'data-session': focus });
    const header = h(doc, 'div', { class: 'vel-session-header' });
    header.appendChild(h(doc, 'span', { class: 'vel-session-id' }, focus || '(unnamed session)'));
    header.appendChild(h(doc, 'span', { class: 'vel-session-stats' }, treeStats(data)));
    header.appendChild(h(doc, 'span', { class: 'vel-tree-saved-note' }, 'saved view: run the cell to check out or fork'));
    root.appendChild(header);
    const treeHost = h(doc, 'div', { class: 'vel-ft-host' });
    const detail = h(doc, 'div', { class: 'vel-transcript-host' });
    root.appendChild(treeHost);
    root.appendChild(detail);
    const view = treeStateView(data);
    const turns = renderTree(treeHost, view.tree, {
        ...view.options,
        onSelect: id => {
            clear(detail);
            const turn = turns.turnOf.get(id);
            if (turn) {
                detail.appendChild(renderTranscript(doc, turn.messages, 50, md));
            }
        }
    });
    return root;
}
/** "fork tree · 5 turns · 2 sessions". */
function treeStats(data) {
    const count = (n, noun) => `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`;
    return `fork tree · ${count(data.turns.length, 'turn')} · ${count(data.sessions.length, 'session')}`;
}
/**
 * A saved tree as `renderTree` input: the message tree, every session's heads labelled
 * by session, and the focused session's current head (shared with the live widget).
 */
function treeStateView(data) {
    const heads = data.heads.map(hd => str(hd.message) || str(hd.turn) || null);
    const focus = str(data.focus);
    const current = data.heads.find(hd => hd.current && str(hd.session_id) === focus);
    return {
        tree: buildTree(data.turns.flatMap(t => t.messages), heads),
        options: {
            heads,
            headLabels: data.heads.map(treeHeadLabel),
            currentHead: current ? str(current.message) || str(current.turn) || null : null
        }
    };
}
/**
 * Render any vel_jupyter payload (turn, session, export or saved tree) into `el`. The
 * promise settles when the view, its Markdown rendered, is in `el` (at once without a
 * Markdown hook).
 */
function render(el, data, options = {}) {
    const what = classify(data);
    if (what.kind === 'turn') {
        return renderTurn(el, what.turn, options);
    }
    else if (what.kind === 'session') {
        return renderSession(el, what.session, options);
    }
    else if (what.kind === 'tree') {
        return renderTreeState(el, what.tree, options);
    }
    return swapIn(el, options, () => unknownPayload(el.ownerDocument, what.reason));
}
