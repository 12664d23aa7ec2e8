/* Generated from labextension/{src/widget.ts and what it imports,style/render.css} by labextension/scripts/widget-assets.mjs (esbuild): edit those. */
// src/dom.ts
var ALLOWED_ATTR = /^(class|title|type|value|role|tabindex|data-[a-z-]+|aria-[a-z]+)$/;
function h(doc, tag, attrs = {}, ...children) {
  const el = doc.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === void 0) {
      continue;
    }
    if (!ALLOWED_ATTR.test(key)) {
      throw new Error(`attribute ${key} is not allowed`);
    }
    el.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === void 0 || child === false) {
      continue;
    }
    el.appendChild(typeof child === "string" ? doc.createTextNode(child) : child);
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

// src/payload.ts
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function str(value) {
  if (typeof value === "string") {
    return value;
  }
  if (value === null || value === void 0) {
    return "";
  }
  if (typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    return "";
  }
}
function num(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
function messagesOf(value) {
  if (!Array.isArray(value)) {
    return [];
  }
  const out = [];
  for (const entry of value) {
    if (isObject(entry) && (typeof entry.id === "string" || typeof entry.id === "number")) {
      out.push({ ...entry, id: String(entry.id) });
    }
  }
  return out;
}
function objectsOf(value) {
  return Array.isArray(value) ? value.filter(isObject) : [];
}
function classify(data) {
  if (!isObject(data)) {
    return { kind: "unknown", reason: "the payload is not a JSON object" };
  }
  let value = data;
  if (value.kind === "vel_jupyter.export") {
    if (!isObject(value.session)) {
      return { kind: "unknown", reason: "an export without a session" };
    }
    value = value.session;
  }
  if (value.kind === "vel_jupyter.turn") {
    return {
      kind: "turn",
      turn: { ...value, messages: messagesOf(value.messages) }
    };
  }
  if (value.kind === "vel_jupyter.session") {
    return {
      kind: "session",
      session: { ...value, messages: messagesOf(value.messages) }
    };
  }
  if (value.kind === "vel_jupyter.tree") {
    const turns = objectsOf(value.turns).filter((t) => typeof t.id === "string").map((t) => ({ ...t, messages: messagesOf(t.messages) }));
    return {
      kind: "tree",
      tree: {
        ...value,
        sessions: objectsOf(value.sessions),
        turns,
        heads: objectsOf(value.heads)
      }
    };
  }
  return { kind: "unknown", reason: `unknown payload kind ${JSON.stringify(str(value.kind))}` };
}

// src/texts.ts
function preview(text, limit = 80) {
  const flat = str(text).replace(/\s+/g, " ").trim();
  return flat.length <= limit ? flat : flat.slice(0, Math.max(0, limit - 1)) + "…";
}
function formatCount(n) {
  return n.toLocaleString("en-US");
}
function formatMs(ms) {
  if (ms === null) {
    return "";
  }
  if (ms < 1) {
    return `${ms.toFixed(2)} ms`;
  }
  if (ms < 1e3) {
    return `${Math.round(ms)} ms`;
  }
  return `${(ms / 1e3).toFixed(ms < 1e4 ? 2 : 1)} s`;
}
function messageTokens(message) {
  const meta = isObject(message.meta) ? message.meta : null;
  if (!meta) {
    return null;
  }
  return { prompt: num(meta.prompt_tokens) ?? 0, completion: num(meta.completion_tokens) ?? 0 };
}
function carried(value, fallback) {
  return typeof value === "string" ? value : fallback();
}
var FORK_LABELS = {
  answer: "another answer to turn {number}",
  answer_quoted: "another answer to turn {number}: “{answer}”",
  rerun: "a re-run of turn {number}",
  continues: "continues at turn {number}: “{question}”",
  question: "another question at turn {number}: “{question}”"
};
function forkLabelsOf(data) {
  const given = isObject(data?.texts) && isObject(data.texts.fork_labels) ? data.texts.fork_labels : null;
  if (!given) {
    return FORK_LABELS;
  }
  const out = { ...FORK_LABELS };
  for (const key of Object.keys(out)) {
    out[key] = carried(given[key], () => FORK_LABELS[key]);
  }
  return out;
}
function forkLabel(start, continuing, labels = FORK_LABELS) {
  const fill = (template) => template.replace(/\{(number|question|answer)\}/g, (_, key) => String(start[key]));
  if (!start.question || continuing && continuing.question === start.question) {
    return fill(start.answer ? labels.answer_quoted : start.question ? labels.rerun : labels.answer);
  }
  return fill(continuing ? labels.question : labels.continues);
}
function treeHeadLabel(head) {
  const branch = num(head.branch);
  return str(head.session_id) + (branch === null ? " (detached)" : ` · branch ${branch + 1}`);
}
function treeStats(data) {
  const count = (n, noun) => `${formatCount(n)} ${noun}${n === 1 ? "" : "s"}`;
  return carried(
    isObject(data.texts) ? data.texts.stats : void 0,
    () => `fork tree · ${count(data.turns.length, "turn")} · ${count(data.sessions.length, "session")}`
  );
}

// src/markdownQueue.ts
var MarkdownQueue = class {
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
      addClass(host, "vel-plain");
      return;
    }
    const done = hook.render(host, source).then(
      () => addClass(host, "vel-markdown"),
      () => {
        host.textContent = source;
        addClass(host, "vel-plain");
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
  fillPlain(host, source, limit) {
    host.textContent = preview(source, limit);
    const plain = this.hook?.plain;
    if (!plain || !source) {
      return;
    }
    const done = plain(source).then(
      (text) => {
        host.textContent = preview(text, limit);
      },
      () => void 0
      // the source's own text stays
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
};
function markdownFromAncestors(anchor) {
  return {
    render(host, source) {
      const request = { host, source, done: null };
      const CustomEventOf = anchor.ownerDocument.defaultView?.CustomEvent;
      if (CustomEventOf) {
        anchor.dispatchEvent(new CustomEventOf(MARKDOWN_EVENT, { bubbles: true, detail: request }));
      }
      return request.done ?? Promise.reject(new Error("no Markdown renderer around this widget"));
    }
  };
}
var MARKDOWN_EVENT = "vel-render-markdown";
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
var generations = /* @__PURE__ */ new WeakMap();

// src/forkTreeKeys.ts
function treeKeyboard(root, onSelect) {
  const items = () => Array.from(root.querySelectorAll(".vel-ft-node, .vel-ft-toggle, .vel-ft-more")).filter(
    (item) => !hiddenInside(item, root)
  );
  const focusItem = (item) => {
    if (!item) {
      return;
    }
    for (const other of Array.from(root.querySelectorAll('[tabindex="0"]'))) {
      other.setAttribute("tabindex", "-1");
    }
    item.setAttribute("tabindex", "0");
    item.focus?.();
  };
  const stop = root.querySelectorAll(".vel-ft-selected")[0] ?? root.querySelectorAll(".vel-ft-current")[0] ?? items()[0];
  stop?.setAttribute("tabindex", "0");
  root.addEventListener("click", (event) => {
    const target = event.target;
    const nodeEl = target?.closest?.(".vel-ft-node");
    const id = nodeEl?.getAttribute("data-id");
    if (nodeEl && id) {
      focusItem(nodeEl);
      onSelect?.(id);
    }
  });
  root.addEventListener("keydown", (event) => {
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
    const isToggle = target.classList.contains("vel-ft-toggle");
    const expanded = target.getAttribute("aria-expanded") === "true";
    let handled = true;
    if (key === "ArrowDown") {
      focusItem(list[at + 1] ?? null);
    } else if (key === "ArrowUp") {
      focusItem(list[at - 1] ?? null);
    } else if (key === "Home") {
      focusItem(list[0] ?? null);
    } else if (key === "End") {
      focusItem(list[list.length - 1] ?? null);
    } else if (key === "ArrowRight" && isToggle) {
      if (!expanded) {
        target.click();
      } else {
        focusItem(items()[at + 1] ?? null);
      }
    } else if (key === "ArrowLeft") {
      if (isToggle && expanded) {
        target.click();
      } else {
        const block = target.parentElement?.closest?.(".vel-ft-branch");
        const toggle = block?.querySelectorAll(".vel-ft-toggle")[0] ?? null;
        focusItem(toggle && toggle !== target ? toggle : null);
      }
    } else if (key === "Enter" || key === " ") {
      if (target.classList.contains("vel-ft-node")) {
        const id = target.getAttribute("data-id");
        if (id) {
          onSelect?.(id);
        }
      } else {
        target.click();
      }
    } else {
      handled = false;
    }
    if (handled) {
      event.preventDefault();
    }
  });
  return focusItem;
}
function hiddenInside(item, root) {
  for (let n = item.parentElement; n && n !== root; n = n.parentElement) {
    if (n.hidden) {
      return true;
    }
  }
  return false;
}

// src/transcript.ts
var ROLES = /* @__PURE__ */ new Set(["user", "assistant", "system", "tool"]);
function roleClass(role) {
  const r = str(role);
  return ROLES.has(r) ? r : "other";
}
var ROLE_LABELS = {
  user: "User",
  assistant: "Assistant",
  system: "System",
  tool: "Tool"
};
function roleLabel(message) {
  const role = str(message.role);
  const label = ROLE_LABELS[role] ?? (role || "message");
  return role === "tool" && message.name ? `${label} · ${str(message.name)}` : label;
}
function prettyArguments(args) {
  const text = str(args);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
function metaLine(message) {
  const meta = isObject(message.meta) ? message.meta : null;
  if (!meta) {
    return "";
  }
  const parts = [];
  const tokens = messageTokens(message);
  if (tokens && (tokens.prompt || tokens.completion)) {
    parts.push(`${formatCount(tokens.prompt)} → ${formatCount(tokens.completion)} tokens`);
  }
  if (meta.model) {
    parts.push(str(meta.model));
  }
  if (meta.provider === "echo") {
    parts.push("offline echo, not a model");
  }
  const latency = num(meta.latency_ms);
  if (latency !== null) {
    parts.push(formatMs(latency));
  }
  const finish = str(meta.finish_reason);
  if (finish === "length") {
    parts.push("✂ cut off at max_tokens");
  } else if (finish === "content_filter") {
    parts.push("✂ stopped by the content filter");
  } else if (finish && finish !== "stop") {
    parts.push(`finish: ${finish}`);
  }
  return parts.join(" · ");
}
var MARKDOWN_ROLES = /* @__PURE__ */ new Set(["user", "assistant"]);
function renderMessage(doc, message, md = new MarkdownQueue(void 0)) {
  const role = roleClass(message.role);
  const el = h(doc, "div", { class: `vel-msg vel-role-${role}`, "data-id": message.id });
  el.appendChild(h(doc, "div", { class: "vel-msg-role" }, roleLabel(message)));
  const content = str(message.content);
  if (role === "tool") {
    el.appendChild(toolResult(doc, message));
  } else if (content) {
    el.appendChild(messageContent(doc, content, MARKDOWN_ROLES.has(role) ? md : null));
  }
  for (const call of toolCallsOf(message)) {
    el.appendChild(toolCall(doc, call));
  }
  const meta = metaLine(message);
  if (meta) {
    el.appendChild(h(doc, "div", { class: "vel-msg-meta" }, meta));
  }
  return el;
}
function messageContent(doc, content, md) {
  const el = h(doc, "div", { class: "vel-msg-content" });
  if (md) {
    md.fill(el, content);
  } else {
    el.textContent = content;
    addClass(el, "vel-plain");
  }
  return el;
}
function toolCallsOf(message) {
  return (Array.isArray(message.tool_calls) ? message.tool_calls : []).filter(isObject);
}
function toolCall(doc, call) {
  return h(
    doc,
    "details",
    { class: "vel-tool-call" },
    h(
      doc,
      "summary",
      {},
      h(doc, "span", { class: "vel-tool-icon" }, "🔧 "),
      h(doc, "span", { class: "vel-tool-name" }, str(call.name) || "(unnamed tool)"),
      h(doc, "span", { class: "vel-tool-args-preview" }, " " + preview(call.arguments, 60))
    ),
    h(doc, "pre", { class: "vel-tool-args" }, prettyArguments(call.arguments))
  );
}
function toolResult(doc, message) {
  const content = str(message.content);
  const name = str(message.name);
  return h(
    doc,
    "details",
    { class: "vel-tool-result" },
    h(
      doc,
      "summary",
      {},
      h(doc, "span", { class: "vel-tool-icon" }, "↳ "),
      name ? h(doc, "span", { class: "vel-tool-name" }, name) : null,
      h(doc, "span", { class: "vel-tool-args-preview" }, (name ? " → " : "") + (preview(content, 100) || "(empty result)"))
    ),
    h(doc, "pre", { class: "vel-msg-content" }, content)
  );
}
function renderTranscript(doc, messages, window = 50, md = new MarkdownQueue(void 0)) {
  const el = h(doc, "div", { class: "vel-transcript" });
  let shown = Math.min(messages.length, Math.max(1, window));
  const list = h(doc, "div", { class: "vel-transcript-list" });
  for (const m of messages.slice(messages.length - shown)) {
    list.appendChild(renderMessage(doc, m, md));
  }
  if (shown < messages.length) {
    const more = h(doc, "button", { class: "vel-show-earlier", type: "button" });
    const label = () => {
      const hidden = messages.length - shown;
      const next = Math.min(window, hidden);
      if (next === hidden) {
        return hidden === 1 ? "show the earlier message" : `show the ${formatCount(hidden)} earlier messages`;
      }
      return `show ${formatCount(next)} more of ${formatCount(hidden)} earlier messages`;
    };
    more.textContent = label();
    more.addEventListener("click", () => {
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
    list.appendChild(h(doc, "div", { class: "vel-empty" }, "(no messages)"));
  }
  el.appendChild(list);
  return el;
}

// src/forkTree.ts
var ROW_LIMIT = 160;
var RUN_HEAD = 3;
var RUN_TAIL = 30;
function questionOf(t) {
  const first = t.messages[0];
  return first && first.role === "user" ? first : void 0;
}
function answerOf(t) {
  return [...t.messages].reverse().find((m) => m.role === "assistant" && str(m.content));
}
function lineOf(turn) {
  const out = /* @__PURE__ */ new Set();
  for (let t = turn; t; t = t.parent ?? void 0) {
    out.add(t);
  }
  return out;
}
function renderTree(el, turns, options = {}) {
  clear(el);
  const tree = new ForkTree(el.ownerDocument, turns, options);
  const root = tree.build();
  tree.focusItem = treeKeyboard(root, options.onSelect);
  el.appendChild(root);
}
var ForkTree = class {
  constructor(doc, turns, options) {
    this.doc = doc;
    this.turns = turns;
    this.options = options;
    /** Moves the tree's one tab stop (set once the keyboard is wired: ./forkTreeKeys). */
    this.focusItem = () => void 0;
    this.headIndex = /* @__PURE__ */ new Map();
    const heads = options.heads ?? [];
    heads.forEach((head, index) => {
      const t = typeof head === "string" ? turns.turnOf.get(head) : void 0;
      if (t) {
        this.headIndex.set(t, [...this.headIndex.get(t) ?? [], index]);
      }
    });
    const currentHead = options.currentHead ?? null;
    this.currentTurn = currentHead !== null ? turns.turnOf.get(currentHead) : void 0;
    const focus = options.focusHead === void 0 ? currentHead : options.focusHead;
    this.headTurn = typeof focus === "string" ? turns.turnOf.get(focus) : void 0;
    this.onPath = lineOf(this.headTurn);
    this.selectedTurn = options.selected ? turns.turnOf.get(options.selected) : void 0;
    this.guide = lineOf(this.selectedTurn);
    this.open = options.open ?? /* @__PURE__ */ new Set();
    this.pinned = /* @__PURE__ */ new Set([...this.headIndex.keys()]);
    for (const t of [this.currentTurn, this.selectedTurn]) {
      if (t) {
        this.pinned.add(t);
      }
    }
    this.maxRun = Math.max(RUN_HEAD + RUN_TAIL + 1, options.maxRun ?? 80);
  }
  build() {
    const root = h(this.doc, "div", { class: "vel-ft", role: "tree", "aria-label": "fork tree: turns and their branches" });
    const roots = this.turns.roots;
    if (!roots.length) {
      root.appendChild(h(this.doc, "div", { class: "vel-empty" }, "(no messages)"));
      return root;
    }
    const main = (t) => this.onPath.has(t);
    const first = roots.length === 1 ? roots[0] : roots.find(main);
    const folds = roots.length > 1 ? this.forkBlocks(roots.filter((r) => r !== first), first, 1) : null;
    if (first) {
      this.chain(root, first, 1, main, folds);
    } else if (folds) {
      root.appendChild(folds);
    }
    scrollToCurrent(root);
    return root;
  }
  headLabel(index) {
    return this.options.headLabels?.[index] ?? `branch ${index + 1}`;
  }
  rowText(t) {
    const given = this.options.rows?.get(t.id);
    return {
      question: given ? str(given.question) : preview(questionOf(t)?.content, ROW_LIMIT),
      answer: given ? str(given.answer) : preview(answerOf(t)?.content, ROW_LIMIT)
    };
  }
  row(t, level) {
    const doc = this.doc;
    const first = t.messages[0];
    const classes = ["vel-ft-node", `vel-role-${roleClass(first.role)}`];
    if (this.onPath.has(t)) {
      classes.push("vel-ft-onpath");
    }
    if (t === this.currentTurn) {
      classes.push("vel-ft-current");
    }
    if (t === this.selectedTurn) {
      classes.push("vel-ft-selected");
    }
    const question = questionOf(t);
    const r = h(doc, "div", {
      class: classes.join(" "),
      "data-id": t.last,
      "data-turn": t.id,
      role: "treeitem",
      tabindex: "-1",
      "aria-level": String(level),
      "aria-selected": t === this.selectedTurn ? "true" : "false",
      title: question ? preview(question.content, 400) : "another answer to the question above"
    });
    r.appendChild(h(doc, "span", { class: "vel-ft-num", "aria-label": `turn ${t.number}` }, String(t.number || "")));
    const q = h(doc, "span", { class: "vel-ft-q" });
    const a = h(doc, "span", { class: "vel-ft-a" });
    const given = this.options.rows?.get(t.id);
    const md = this.options.md;
    if (given) {
      q.textContent = str(given.question);
      a.textContent = str(given.answer);
    } else {
      const answer = answerOf(t);
      for (const [span, message] of [
        [q, question],
        [a, answer]
      ]) {
        if (message && md) {
          md.fillPlain(span, str(message.content), ROW_LIMIT);
        } else {
          span.textContent = message ? preview(message.content, ROW_LIMIT) : "";
        }
      }
    }
    if (!question) {
      q.textContent = "(another answer)";
      addClass(q, "vel-ft-muted");
    }
    const calls = t.messages.reduce((n, m) => n + (Array.isArray(m.tool_calls) ? m.tool_calls.length : 0), 0);
    if (!a.textContent && calls) {
      a.textContent = `${calls} tool call${calls > 1 ? "s" : ""}`;
    }
    r.appendChild(h(doc, "span", { class: "vel-ft-text" }, q, a));
    const side = h(doc, "span", { class: "vel-ft-side" });
    for (const index of this.headIndex.get(t) ?? []) {
      side.appendChild(h(doc, "span", { class: "vel-head-label" }, this.headLabel(index)));
    }
    if (t === this.currentTurn) {
      side.appendChild(h(doc, "span", { class: "vel-head-label vel-head-current", title: "where the session continues from" }, "current"));
    }
    const usage = turnUsage(t);
    if (usage) {
      side.appendChild(h(doc, "span", { class: "vel-ft-tokens", title: "tokens sent → tokens of the turn's answers" }, usage));
    }
    r.appendChild(side);
    return r;
  }
  /** A chain of turns from `start` down; at a fork the way on (`ways`) continues, the rest fold. */
  chain(container, start, level, ways, pending = null) {
    let t = start;
    let folds = pending;
    while (t) {
      const run = [t];
      let last = t;
      while (last.children.length === 1 && last !== this.headTurn) {
        last = last.children[0];
        run.push(last);
      }
      container.appendChild(this.run(run, level, folds));
      folds = null;
      if (last.children.length > 1 || last === this.headTurn && last.children.length) {
        const continuing = last.children.find(ways);
        folds = this.forkBlocks(last.children.filter((c) => c !== continuing), continuing, level);
        if (!continuing) {
          container.appendChild(folds);
        }
        t = continuing;
      } else {
        t = void 0;
      }
    }
  }
  forkBlocks(starts, continuing, level) {
    const group = h(this.doc, "div", { class: "vel-ft-fork", role: "group" });
    const reference = continuing ? { question: this.rowText(continuing).question } : null;
    for (const start of starts) {
      group.appendChild(this.branchBlock(start, reference, level));
    }
    return group;
  }
  /** A run of turns: the ends of a long one, every pinned turn (HEAD, heads, the selection); each gap a "show N more". */
  run(run, level, folds) {
    const doc = this.doc;
    const list = h(doc, "div", { class: "vel-ft-run", role: "group" });
    const shown = run.map((t, i2) => run.length <= this.maxRun || i2 < RUN_HEAD || i2 >= run.length - RUN_TAIL || this.pinned.has(t));
    let i = 0;
    while (i < run.length) {
      if (shown[i]) {
        list.appendChild(this.row(run[i], level));
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
      const more = h(doc, "button", { class: "vel-ft-more", type: "button", tabindex: "-1" }, `⋯ show ${formatCount(hidden.length)} more turn${hidden.length === 1 ? "" : "s"}`);
      more.addEventListener("click", () => {
        const rows = hidden.map((t) => this.row(t, level));
        const frag = doc.createDocumentFragment();
        for (const r of rows) {
          frag.appendChild(r);
        }
        const keyboard = more.getAttribute("tabindex") === "0";
        list.replaceChild(frag, more);
        if (keyboard) {
          this.focusItem(rows[0]);
        }
      });
      list.appendChild(more);
    }
    return list;
  }
  /** A folded branch; its rows are built the first time it is opened. */
  branchBlock(start, continuing, level) {
    const doc = this.doc;
    const block = h(doc, "div", { class: "vel-ft-branch", "data-start": start.id });
    const labels = [...new Set(this.turns.headsBelow(start).map((i) => this.headLabel(i)))];
    const isOpen = this.open.has(start.id) || this.guide.has(start);
    const toggle = h(doc, "button", { class: "vel-ft-toggle", type: "button", tabindex: "-1", "aria-expanded": String(isOpen), "data-start": start.id });
    const caret = h(doc, "span", { class: "vel-ft-caret", "aria-hidden": "true" }, isOpen ? "▾" : "▸");
    toggle.appendChild(caret);
    const label = forkLabel({ number: start.number, ...this.rowText(start) }, continuing, this.options.forkLabels ?? FORK_LABELS);
    toggle.appendChild(h(doc, "span", { class: "vel-ft-toggle-label" }, label));
    const info = `${formatCount(start.size)} turn${start.size === 1 ? "" : "s"}` + (labels.length ? ` · ${labels.join(", ")}` : "");
    toggle.appendChild(h(doc, "span", { class: "vel-ft-toggle-info" }, info));
    const body = h(doc, "div", { class: "vel-ft-body", role: "group" });
    body.hidden = !isOpen;
    let built = false;
    const build = () => {
      if (!built) {
        this.chain(body, start, level + 1, (t) => this.guide.has(t));
        built = true;
      }
    };
    if (isOpen) {
      build();
    }
    toggle.addEventListener("click", () => {
      const now = toggle.getAttribute("aria-expanded") !== "true";
      if (now) {
        build();
        this.open.add(start.id);
      } else {
        this.open.delete(start.id);
      }
      body.hidden = !now;
      toggle.setAttribute("aria-expanded", String(now));
      caret.textContent = now ? "▾" : "▸";
    });
    block.appendChild(toggle);
    block.appendChild(body);
    return block;
  }
};
function turnUsage(t) {
  let prompt = 0;
  let completion = 0;
  for (const m of t.messages) {
    const meta = m.meta;
    prompt += typeof meta?.prompt_tokens === "number" ? meta.prompt_tokens : 0;
    completion += typeof meta?.completion_tokens === "number" ? meta.completion_tokens : 0;
  }
  return prompt || completion ? `${formatCount(prompt)} → ${formatCount(completion)} tokens` : "";
}
function scrollToCurrent(root) {
  const win = root.ownerDocument.defaultView;
  if (!win || typeof win.requestAnimationFrame !== "function") {
    return;
  }
  win.requestAnimationFrame(() => {
    const row = root.querySelector(".vel-ft-current");
    if (row && root.scrollHeight > root.clientHeight) {
      root.scrollTop = Math.max(0, row.offsetTop - root.clientHeight / 3);
    }
  });
}

// src/turns.ts
function node(id, parent, number) {
  return { id, messages: [], last: id, parent, children: [], size: 1, order: 0, tokens: 0, number };
}
function linkTurns(turns, heads = []) {
  const byId = /* @__PURE__ */ new Map();
  const parentOf = /* @__PURE__ */ new Map();
  for (const t of turns) {
    if (!t.messages.length || byId.has(t.id)) {
      continue;
    }
    const turn = node(t.id, null, num(t.number) ?? 0);
    turn.messages = t.messages;
    turn.last = str(t.last) || t.messages[t.messages.length - 1].id;
    turn.tokens = num(t.tokens) ?? 0;
    byId.set(t.id, turn);
    parentOf.set(turn, typeof t.parent === "string" && t.parent !== t.id ? t.parent : null);
  }
  const roots = [];
  for (const turn of byId.values()) {
    const id = parentOf.get(turn);
    const parent = id === null || id === void 0 ? void 0 : byId.get(id);
    if (parent) {
      turn.parent = parent;
      parent.children.push(turn);
    } else {
      roots.push(turn);
    }
  }
  const placed = /* @__PURE__ */ new Set();
  const place = (start) => {
    const stack = [start];
    while (stack.length) {
      const t = stack.pop();
      placed.add(t);
      for (const child of t.children) {
        stack.push(child);
      }
    }
  };
  roots.forEach(place);
  if (placed.size < byId.size) {
    const all = [...byId.values()];
    for (let i = all.length - 1; i >= 0; i--) {
      const cut = all[i];
      if (!placed.has(cut)) {
        const siblings = cut.parent.children;
        siblings.splice(siblings.indexOf(cut), 1);
        cut.parent = null;
        roots.push(cut);
        place(cut);
      }
    }
  }
  const turnOf = /* @__PURE__ */ new Map();
  for (const turn of byId.values()) {
    for (const m of turn.messages) {
      if (!turnOf.has(m.id)) {
        turnOf.set(m.id, turn);
      }
    }
  }
  return indexed(roots, turnOf, heads);
}
function endsOnPath(tree, turn, head) {
  const at = typeof head === "string" ? tree.turnOf.get(head) : void 0;
  if (at === turn) {
    return turn.last === head;
  }
  for (let t = at?.parent; t; t = t.parent) {
    if (t === turn) {
      return true;
    }
  }
  return false;
}
function indexed(roots, turnOf, heads) {
  const all = [];
  const stack = [...roots].reverse();
  while (stack.length) {
    const t = stack.pop();
    t.order = all.length;
    t.size = 1;
    all.push(t);
    for (let i = t.children.length - 1; i >= 0; i--) {
      stack.push(t.children[i]);
    }
  }
  for (let i = all.length - 1; i >= 0; i--) {
    const t = all[i];
    if (t.parent) {
      t.parent.size += t.size;
    }
  }
  const placed = heads.map((head, index) => ({ index, order: typeof head === "string" ? turnOf.get(head)?.order ?? -1 : -1 })).filter((p) => p.order >= 0).sort((a, b) => a.order - b.order || a.index - b.index);
  const headsBelow = (turn) => {
    let lo = 0;
    let hi = placed.length;
    while (lo < hi) {
      const mid = lo + hi >> 1;
      if (placed[mid].order < turn.order) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    const out = [];
    for (let i = lo; i < placed.length && placed[i].order < turn.order + turn.size; i++) {
      out.push(placed[i].index);
    }
    return out.sort((a, b) => a - b);
  };
  return { roots, turnOf, headsBelow };
}

// src/treeView.ts
function currentHeads(data) {
  const out = /* @__PURE__ */ new Map();
  for (const hd of data.heads) {
    if (hd.current && !out.has(str(hd.session_id))) {
      out.set(str(hd.session_id), hd);
    }
  }
  return out;
}
function headMessage(head) {
  return head ? str(head.message) || str(head.turn) || null : null;
}
function treeStateView(data, focus = str(data.focus)) {
  const labelled = data.heads.filter((hd) => !(hd.current && str(hd.session_id) === focus));
  const heads = labelled.map((hd) => str(hd.message) || str(hd.turn) || null);
  const rows = /* @__PURE__ */ new Map();
  for (const t of data.turns) {
    if (typeof t.question === "string" || typeof t.answer === "string") {
      rows.set(t.id, { question: str(t.question), answer: str(t.answer) });
    }
  }
  const branches = /* @__PURE__ */ new Map();
  for (const hd of data.heads) {
    branches.set(str(hd.session_id), (branches.get(str(hd.session_id)) ?? 0) + 1);
  }
  const headLabel = (hd) => typeof hd.label === "string" ? hd.label : (branches.get(str(hd.session_id)) ?? 0) > 1 ? treeHeadLabel(hd) : str(hd.session_id);
  return {
    turns: linkTurns(data.turns, heads),
    options: {
      heads,
      headLabels: labelled.map(headLabel),
      currentHead: headMessage(currentHeads(data).get(focus)),
      rows,
      forkLabels: forkLabelsOf(data)
    }
  };
}
function newTreeViewState() {
  return { focus: null, selected: null, open: /* @__PURE__ */ new Set(), status: "" };
}
var TREE_STATE_EVENT = "vel-tree-state";
var NEW_SESSION_ID = /^[\p{L}\p{N}_.:@+=~-](?:[\p{L}\p{N}_ .:@+=~-]{0,198}[\p{L}\p{N}_.:@+=~-])?$/u;
function renderTreeView(el, data, options = {}) {
  const state = options.state ?? newTreeViewState();
  return swapIn(el, options, (md) => buildTreeView(el, data, options, state, md));
}
function buildTreeView(el, data, options, state, md) {
  const doc = el.ownerDocument;
  const sessions = data.sessions.map((s) => str(s.session_id)).filter(Boolean);
  const focus = state.focus && sessions.includes(state.focus) ? state.focus : str(data.focus);
  const view = treeStateView(data, focus);
  if (state.selected !== null && !view.turns.turnOf.has(state.selected)) {
    state.selected = null;
  }
  const root = h(doc, "div", { class: "vel-root vel-tree-view", "data-session": focus });
  const header = h(doc, "div", { class: "vel-session-header" });
  header.appendChild(h(doc, "span", { class: "vel-session-id" }, focus || "(unnamed session)"));
  header.appendChild(h(doc, "span", { class: "vel-session-stats" }, treeStats(data)));
  root.appendChild(header);
  const numbers = /* @__PURE__ */ new Map();
  const rebuild = () => void renderTreeView(el, data, { ...options, state });
  const chips = h(doc, "div", { class: "vel-tree-sessions", role: "toolbar", "aria-label": "sessions of this tree" });
  chips.appendChild(h(doc, "span", { class: "vel-tree-sessions-label" }, "sessions"));
  const turnsById = new Map(data.turns.map((t) => [t.id, t]));
  const current = currentHeads(data);
  for (const sid of sessions) {
    const turn = current.get(sid);
    const head = headMessage(turn);
    const number = turn ? num(turnsById.get(str(turn.turn))?.number) : null;
    numbers.set(sid, number ?? 0);
    const chip = h(
      doc,
      "button",
      {
        class: "vel-tree-session" + (sid === focus ? " vel-tree-session-focus" : ""),
        type: "button",
        "aria-pressed": String(sid === focus),
        "data-session": sid,
        title: sid === focus ? `the tree follows ${sid}` : `follow ${sid}: its path becomes the main column`
      },
      h(doc, "span", { class: "vel-tree-session-name" }, sid),
      h(doc, "span", { class: "vel-tree-session-where" }, head ? number ? `turn ${number}` : "start" : "empty")
    );
    chip.addEventListener("click", () => {
      if (sid !== focus) {
        state.focus = sid;
        state.selected = head;
        rebuild();
      }
    });
    chips.appendChild(chip);
  }
  root.appendChild(chips);
  const treeHost = h(doc, "div", { class: "vel-ft-host" });
  const detail = h(doc, "div", { class: "vel-tree-detail", "aria-live": "polite" });
  root.appendChild(treeHost);
  root.appendChild(detail);
  const turns = view.turns;
  renderTree(treeHost, turns, {
    ...view.options,
    selected: state.selected,
    open: state.open,
    md,
    onSelect: (id) => {
      state.selected = id;
      for (const r of Array.from(treeHost.querySelectorAll(".vel-ft-node"))) {
        const on = r.getAttribute("data-id") === id;
        r.classList.toggle("vel-ft-selected", on);
        r.setAttribute("aria-selected", String(on));
      }
      showDetail();
    }
  });
  function showDetail() {
    clear(detail);
    const turn = state.selected ? turns.turnOf.get(state.selected) : void 0;
    if (!turn) {
      detail.appendChild(h(doc, "div", { class: "vel-tree-hint" }, "Click a turn (or use the arrow keys and Enter) to read it, continue from it or fork it."));
      appendStatus();
      return;
    }
    const where = endsOnPath(turns, turn, view.options.currentHead) ? `on ${focus}'s path` : `not on ${focus}'s current path`;
    detail.appendChild(h(doc, "div", { class: "vel-tree-detail-head" }, `Turn ${turn.number} · ${where}`));
    detail.appendChild(renderTranscript(doc, turn.messages, 50, md));
    const bar = actionsBar(turn.last, turn.number);
    detail.appendChild(bar);
    appendStatus();
    checkSessions(bar);
  }
  function checkSessions(bar) {
    const actions = options.actions;
    const file = actions?.restoreFrom?.() ?? null;
    if (!actions?.missing || !actions.restore || !file || actions.unavailable()) {
      return;
    }
    actions.missing(sessions).then(
      (missing) => {
        if (missing.includes(focus) && bar.isConnected !== false && !bar.querySelectorAll(".vel-tree-restore").length) {
          offerRestore(bar, missing, file);
        }
      },
      () => void 0
      // the kernel cannot say: the buttons stay, and an action's error says why
    );
  }
  function offerRestore(bar, missing, file) {
    const names = missing.join(", ");
    const why = `this kernel does not have ${names} (was it restarted?): restore this notebook's sessions first`;
    for (const control of Array.from(bar.querySelectorAll("button, input"))) {
      control.disabled = true;
      control.setAttribute("title", why);
    }
    const restore = h(
      doc,
      "button",
      {
        class: "vel-tree-restore jp-mod-styled jp-mod-accept",
        type: "button",
        title: `bring back ${names} as ${file} last saved them (%chat restore --notebook ${file}), then act on the tree`
      },
      "Restore this notebook's sessions"
    );
    restore.addEventListener("click", () => {
      restore.disabled = true;
      setStatus(`restoring from ${file}…`);
      options.actions.restore().then(
        (text) => {
          setStatus(text.split("\n").filter((l) => l.trim() && !l.startsWith(" ")).join(" · ") || `restored from ${file}`);
          rebuild();
        },
        (error) => {
          restore.disabled = false;
          setStatus(String(error?.message ?? error).split("\n")[0]);
        }
      );
    });
    bar.insertBefore(restore, bar.firstChild);
    setStatus(`the kernel has no session ${names}: “Restore this notebook's sessions” brings back what ${file} saved`);
  }
  function appendStatus() {
    detail.appendChild(h(doc, "div", { class: "vel-tree-status", role: "status" }, state.status));
  }
  function actionsBar(messageId, number) {
    const bar = h(doc, "div", { class: "vel-tree-actions" });
    const why = options.actions ? options.actions.unavailable() : options.noActions ?? "saved view: run the cell with a kernel to act on the tree";
    const checkout = h(
      doc,
      "button",
      {
        class: "vel-tree-checkout jp-mod-styled jp-mod-accept",
        type: "button",
        title: why || `make turn ${number} the current message of ${focus}: the next %%chat ${focus} cell continues from it (%chat checkout ${focus} ${messageId})`
      },
      `Continue ${focus} from here`
    );
    const name = h(doc, "input", {
      class: "vel-tree-fork-name jp-mod-styled",
      type: "text",
      "aria-label": "name of the new session (optional)",
      title: why || "the new session’s id; leave it empty for a generated one"
    });
    name.placeholder = "new session id (optional)";
    const fork = h(
      doc,
      "button",
      {
        class: "vel-tree-fork jp-mod-styled",
        type: "button",
        title: why || `a new session that continues from turn ${number}; ${focus} stays as it is (%chat fork ${focus} NEW --at ${messageId})`
      },
      "Fork here"
    );
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
      setStatus("working…");
      action().then(
        (text) => {
          button.disabled = false;
          setStatus(text);
        },
        (error) => {
          button.disabled = false;
          setStatus(String(error?.message ?? error));
          checkSessions(bar);
        }
      );
    };
    checkout.addEventListener("click", () => run(checkout, () => options.actions.checkout(focus, messageId)));
    fork.addEventListener("click", () => {
      const wanted = name.value.trim();
      if (wanted && !NEW_SESSION_ID.test(wanted)) {
        setStatus(`“${wanted}” cannot name a session: use letters, digits, spaces inside, or . : @ + = ~ - _`);
        return;
      }
      run(fork, () => options.actions.fork(focus, messageId, wanted));
    });
    name.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        fork.click();
      }
    });
    const group = h(doc, "span", { class: "vel-tree-fork-group" }, name, fork);
    bar.appendChild(checkout);
    bar.appendChild(group);
    return bar;
  }
  function setStatus(text) {
    state.status = text;
    const line = (state.view ?? root).querySelectorAll(".vel-tree-status")[0];
    if (line) {
      line.textContent = text;
    }
  }
  showDetail();
  state.view = root;
  return root;
}

// src/widget.ts
var NO_KERNEL = "no kernel connected: run the cell again to act on the tree";
var PATIENCE_MS = 15e3;
function renderWidget({ model, el: host }) {
  const doc = host.ownerDocument;
  const state = newTreeViewState();
  const frame = doc.createElement("div");
  frame.className = "vel-tree-widget";
  host.append(frame);
  const markdown = markdownFromAncestors(host);
  const pending = /* @__PURE__ */ new Map();
  let requests = 0;
  let dead = false;
  function ask(content) {
    return new Promise((ok, fail) => {
      const request = ++requests;
      pending.set(request, { ok, fail });
      try {
        model.send({ ...content, request });
      } catch {
        pending.delete(request);
        dead = true;
        draw();
        fail(new Error(NO_KERNEL));
        return;
      }
      setTimeout(() => {
        if (pending.delete(request)) {
          fail(new Error("no answer from the kernel: is it still running?"));
        }
      }, PATIENCE_MS);
    });
  }
  function answered(message) {
    const answer = message ?? null;
    const waiting = answer && typeof answer.request === "number" ? pending.get(answer.request) : void 0;
    if (!answer || !waiting) {
      return;
    }
    pending.delete(answer.request);
    const status = String(answer.status || "");
    if (answer.ok) {
      waiting.ok(status);
    } else {
      waiting.fail(new Error(status));
    }
  }
  const actions = {
    unavailable: () => dead ? NO_KERNEL : "",
    checkout: (sessionId, messageId) => ask({ action: "checkout", session_id: sessionId, message_id: messageId }),
    fork: (sessionId, messageId, newId) => ask({ action: "fork", session_id: sessionId, message_id: messageId, new_id: newId })
  };
  function draw() {
    const what = classify(model.get("data"));
    if (what.kind === "tree") {
      void renderTreeView(frame, what.tree, { markdown, actions, state });
    }
  }
  function announce() {
    host.dispatchEvent(new CustomEvent(TREE_STATE_EVENT, { bubbles: true, detail: model.get("data") }));
  }
  function changed() {
    draw();
    announce();
  }
  model.on("change:data", changed);
  model.on("msg:custom", answered);
  draw();
  announce();
  return () => {
    model.off("change:data", changed);
    model.off("msg:custom", answered);
  };
}
var widget_default = { render: renderWidget };
export {
  widget_default as default
};
