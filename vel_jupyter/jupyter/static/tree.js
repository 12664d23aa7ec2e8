// The fork-tree widget (anywidget). tree_widget.py prepends render.js, the JupyterLab
// renderer's own code, so the tree here is drawn by the same `renderTree` as a saved
// notebook's (collapsed side branches, long runs shown by their ends); this file adds what
// needs the kernel: the selected turn's messages with "continue from here" and "fork here".
// Model text is only ever inserted as text (render.js, and textContent below), except the
// selected turn's Markdown, which the JupyterLab extension around the widget renders with
// JupyterLab's own renderer and sanitizer (markdownFromAncestors); with no extension
// (another frontend) it stays text.

function el(doc, tag, className, text) {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function emptyTree() {
  return { kind: "vel_jupyter.tree", focus: "", sessions: [], turns: [], heads: [] };
}

function renderWidget({ model, el: host }) {
  const doc = host.ownerDocument;
  // `selected`: the last message id of the clicked turn. The tree keeps that turn's path
  // open across redraws, so a fork or a new turn elsewhere does not lose the user's place.
  const state = { selected: null };
  const root = el(doc, "div", "vel-root vel-tree-widget");
  const header = el(doc, "div", "vel-session-header");
  const status = el(doc, "div", "vel-tree-status");
  const body = el(doc, "div", "vel-tree-body");
  const treeHost = el(doc, "div", "vel-ft-host vel-tree-list");
  const details = el(doc, "div", "vel-tree-details");
  body.append(treeHost, details);
  root.append(header, status, body);
  host.append(root);
  let turns = null;
  const markdown = new MarkdownQueue(markdownFromAncestors(host));

  function data() {
    const what = classify(model.get("data"));
    return what.kind === "tree" ? what.tree : emptyTree();
  }

  function showDetails(focus) {
    details.replaceChildren();
    const turn = state.selected === null ? undefined : turns.turnOf.get(state.selected);
    for (const row of treeHost.querySelectorAll(".vel-ft-node")) {
      row.classList.toggle("vel-ft-selected", !!turn && row.getAttribute("data-id") === turn.last);
    }
    if (!turn) return;
    details.append(renderTranscript(doc, turn.messages, 50, markdown));
    const actions = el(doc, "div", "vel-tree-actions");
    const checkout = el(doc, "button", "vel-tree-checkout", "continue from here");
    checkout.type = "button";
    checkout.title = `make this turn the head of ${focus}; the next %%chat ${focus} cell continues from it`;
    checkout.addEventListener("click", () =>
      model.send({ action: "checkout", session_id: focus, message_id: turn.last }),
    );
    const name = el(doc, "input", "vel-tree-fork-name");
    name.placeholder = "new session id (optional)";
    const fork = el(doc, "button", "vel-tree-fork", "fork here");
    fork.type = "button";
    fork.addEventListener("click", () =>
      model.send({ action: "fork", session_id: focus, message_id: turn.last, new_id: name.value.trim() }),
    );
    actions.append(checkout, name, fork);
    details.append(actions);
  }

  function draw() {
    const tree = data();
    const focus = str(tree.focus);
    header.replaceChildren(el(doc, "span", "vel-session-id", focus), el(doc, "span", "vel-session-stats", treeStats(tree)));
    const view = treeStateView(tree);
    if (state.selected !== null && !view.tree.byId.has(state.selected)) state.selected = null;
    turns = renderTree(treeHost, view.tree, {
      ...view.options,
      focusHead: state.selected ?? view.options.currentHead,
      onSelect: (id) => {
        state.selected = id;
        showDetails(focus);
      },
    });
    showDetails(focus);
    status.textContent = model.get("status") || "";
  }

  // The JupyterLab extension (an ancestor of `host`) copies each new tree into the output,
  // so a saved notebook shows the widget's last state with no kernel. No extension, no
  // listener: the event goes nowhere.
  function announce() {
    host.dispatchEvent(new CustomEvent("vel-tree-state", { bubbles: true, detail: model.get("data") }));
  }
  function changed() {
    draw();
    announce();
  }
  function statusChanged() {
    status.textContent = model.get("status") || "";
  }

  model.on("change:data", changed);
  model.on("change:status", statusChanged);
  draw();
  announce();
  return () => {
    model.off("change:data", changed);
    model.off("change:status", statusChanged);
  };
}

export default { render: renderWidget };
