// The fork-tree widget (anywidget), for frontends with a widget manager and without the
// vel-jupyter extension. tree_widget.py prepends render.js (labextension/src/render.ts and
// tree.ts, joined), so the tree is the same `renderTreeView` as a `%chat tree` output's;
// this file adds what needs the widget's kernel: its actions, sent as messages to
// tree_widget.py, which answers each one.
// Model text is only ever inserted as text (render.js), except the selected turn's
// Markdown, which the JupyterLab extension around the widget renders with JupyterLab's own
// renderer and sanitizer (markdownFromAncestors); with no extension it stays text.

const NO_KERNEL = "no kernel connected: run the cell again to act on the tree";
const PATIENCE_MS = 15000;

function renderWidget({ model, el: host }) {
  const doc = host.ownerDocument;
  const state = newTreeViewState();
  const frame = doc.createElement("div");
  frame.className = "vel-tree-widget";
  host.append(frame);
  const markdown = markdownFromAncestors(host);
  const pending = new Map(); // request number -> {ok, fail}
  let requests = 0;
  let dead = false;

  // Each action is a message; tree_widget.py answers it with {request, ok, status}.
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
        if (pending.delete(request)) fail(new Error("no answer from the kernel: is it still running?"));
      }, PATIENCE_MS);
    });
  }
  function answered(message) {
    const waiting = message && pending.get(message.request);
    if (!waiting) return;
    pending.delete(message.request);
    (message.ok ? waiting.ok : (text) => waiting.fail(new Error(text)))(String(message.status || ""));
  }
  // (In JupyterLab the extension around the widget draws the saved tree instead once the
  // kernel is gone; elsewhere the first message that cannot be sent says so.)
  const actions = {
    unavailable: () => (dead ? NO_KERNEL : ""),
    checkout: (sessionId, messageId) => ask({ action: "checkout", session_id: sessionId, message_id: messageId }),
    fork: (sessionId, messageId, newId) => ask({ action: "fork", session_id: sessionId, message_id: messageId, new_id: newId }),
  };

  function draw() {
    const what = classify(model.get("data"));
    if (what.kind === "tree") {
      void renderTreeView(frame, what.tree, { markdown, actions, state });
    }
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
  function custom(message) {
    answered(message);
  }

  model.on("change:data", changed);
  model.on("msg:custom", custom);
  draw();
  announce();
  return () => {
    model.off("change:data", changed);
    model.off("msg:custom", custom);
  };
}

export default { render: renderWidget };
