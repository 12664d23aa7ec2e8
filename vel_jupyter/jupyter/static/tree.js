// The fork-tree widget (anywidget ES module). Model text is only ever inserted with
// textContent / createTextNode: nothing the model says can become markup.

function h(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined && text !== null) el.textContent = String(text);
  return el;
}

function index(data) {
  const byId = new Map();
  const children = new Map();
  for (const turn of data.turns) {
    byId.set(turn.id, turn);
    const key = turn.parent ?? "";
    if (!children.has(key)) children.set(key, []);
    children.get(key).push(turn);
  }
  const heads = new Map();
  for (const head of data.heads) {
    if (!heads.has(head.turn)) heads.set(head.turn, []);
    heads.get(head.turn).push(head);
  }
  return { byId, children, heads };
}

function turnRow(turn, idx, state, onSelect) {
  const row = h("div", "vel-tree-turn");
  row.dataset.turn = turn.id;
  if (state.selected === turn.id) row.classList.add("vel-tree-selected");
  const labels = idx.heads.get(turn.id) || [];
  if (labels.some((l) => l.current && l.session_id === state.focus)) row.classList.add("vel-tree-current");
  const user = turn.messages.find((m) => m.role === "user");
  const answer = [...turn.messages].reverse().find((m) => m.role === "assistant" && m.content);
  row.append(h("span", "vel-tree-role", user ? "user" : turn.messages[0]?.role || "?"));
  row.append(h("span", "vel-tree-preview", turn.preview));
  if (answer) row.append(h("span", "vel-tree-answer", "→ " + answer.content.slice(0, 60)));
  if (turn.tokens) row.append(h("span", "vel-tree-tokens", turn.tokens + " tok"));
  for (const label of labels) {
    const text = label.session_id + (label.branch === null ? " (detached)" : " #" + label.branch);
    row.append(h("span", "vel-tree-head" + (label.current ? " vel-tree-head-current" : ""), text));
  }
  row.addEventListener("click", (event) => {
    event.stopPropagation();
    onSelect(turn.id);
  });
  return row;
}

// A chain of single-child turns stays at one indentation level; only branch points nest,
// so a 1,000-turn conversation is a flat list, not a staircase.
function renderChain(first, idx, state, onSelect, container) {
  let turn = first;
  while (turn) {
    container.append(turnRow(turn, idx, state, onSelect));
    const kids = idx.children.get(turn.id) || [];
    if (kids.length === 1) {
      turn = kids[0];
      continue;
    }
    if (kids.length > 1) {
      for (const kid of kids) {
        const branch = h("details", "vel-tree-branch");
        branch.open = !state.collapsed.has(kid.id);
        branch.addEventListener("toggle", () => {
          if (branch.open) state.collapsed.delete(kid.id);
          else state.collapsed.add(kid.id);
        });
        branch.append(h("summary", "vel-tree-branch-label", "branch: " + kid.preview));
        const inner = h("div", "vel-tree-chain");
        renderChain(kid, idx, state, onSelect, inner);
        branch.append(inner);
        container.append(branch);
      }
    }
    turn = null;
  }
}

function renderDetails(turn, model, state, panel) {
  panel.replaceChildren();
  if (!turn) return;
  for (const message of turn.messages) {
    const box = h("div", "vel-tree-message vel-tree-" + message.role);
    box.append(h("div", "vel-tree-message-role", message.role));
    if (message.content) box.append(h("pre", "vel-tree-message-text", message.content));
    for (const call of message.tool_calls || []) {
      box.append(h("pre", "vel-tree-tool-call", "🔧 " + call.name + " " + call.arguments));
    }
    if (message.meta) {
      const meta = message.meta;
      const usage = (meta.prompt_tokens || 0) + "+" + (meta.completion_tokens || 0) + " tokens";
      box.append(h("div", "vel-tree-meta", [meta.model, usage, meta.latency_ms ? meta.latency_ms.toFixed(0) + " ms" : ""].filter(Boolean).join(" · ")));
    }
    panel.append(box);
  }
  const actions = h("div", "vel-tree-actions");
  const checkout = h("button", "vel-tree-checkout", "continue from here");
  checkout.addEventListener("click", () =>
    model.send({ action: "checkout", session_id: state.focus, message_id: turn.last }),
  );
  const name = h("input", "vel-tree-fork-name");
  name.placeholder = "new session id";
  const fork = h("button", "vel-tree-fork", "fork here");
  fork.addEventListener("click", () =>
    model.send({ action: "fork", session_id: state.focus, message_id: turn.last, new_id: name.value.trim() }),
  );
  actions.append(checkout, name, fork);
  panel.append(actions);
}

function render({ model, el }) {
  const state = { selected: null, collapsed: new Set(), focus: null };
  const root = h("div", "vel-tree");
  const header = h("div", "vel-tree-header");
  const status = h("div", "vel-tree-status");
  const body = h("div", "vel-tree-body");
  const list = h("div", "vel-tree-list");
  const panel = h("div", "vel-tree-details");
  body.append(list, panel);
  root.append(header, status, body);
  el.append(root);

  function draw() {
    const data = model.get("data") || { turns: [], heads: [], sessions: [] };
    state.focus = data.focus;
    const idx = index(data);
    header.textContent = "";
    header.append(h("strong", null, data.focus || ""));
    header.append(h("span", "vel-tree-counts", " · " + data.turns.length + " turns · " + data.sessions.length + " sessions"));
    list.replaceChildren();
    const select = (id) => {
      state.selected = id;
      draw();
    };
    for (const first of idx.children.get("") || []) renderChain(first, idx, state, select, list);
    renderDetails(idx.byId.get(state.selected), model, state, panel);
    status.textContent = model.get("status") || "";
  }

  // The JupyterLab extension (an ancestor of `el`) copies each new tree into the output,
  // so a saved notebook shows the widget's last state with no kernel. No extension, no
  // listener: the event goes nowhere.
  function announce() {
    el.dispatchEvent(new CustomEvent("vel-tree-state", { bubbles: true, detail: model.get("data") }));
  }
  function changed() {
    draw();
    announce();
  }

  model.on("change:data", changed);
  model.on("change:status", () => {
    status.textContent = model.get("status") || "";
  });
  draw();
  announce();
  return () => model.off("change:data", changed);
}

export default { render };
