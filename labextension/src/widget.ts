/**
 * The fork-tree widget (anywidget), for frontends with a widget manager and without the
 * vel-jupyter extension: the entry module esbuild bundles into
 * vel_jupyter/jupyter/static/render.js (scripts/widget-assets.mjs), so the tree is the same
 * `renderTreeView` as a `%chat tree` output's. This module adds what needs the widget's
 * kernel: its actions, sent as messages to tree_widget.py, which answers each one.
 *
 * Model text is only ever inserted as text, except the selected turn's Markdown, which the
 * JupyterLab extension around the widget renders with JupyterLab's own renderer and
 * sanitizer (markdownFromAncestors); with no extension it stays text.
 */
import { markdownFromAncestors } from './markdownQueue';
import { classify } from './payload';
import { TREE_STATE_EVENT, TreeActions, newTreeViewState, renderTreeView } from './treeView';

const NO_KERNEL = 'no kernel connected: run the cell again to act on the tree';
const PATIENCE_MS = 15000;

/** What anywidget gives a widget's `render` (the part of its model we use). */
interface WidgetModel {
  get(name: 'data'): unknown;
  send(content: Record<string, unknown>): void;
  on(event: string, callback: (message?: unknown) => void): void;
  off(event: string, callback: (message?: unknown) => void): void;
}

interface Answer {
  request?: number;
  ok?: boolean;
  status?: string;
}

function renderWidget({ model, el: host }: { model: WidgetModel; el: HTMLElement }): () => void {
  const doc = host.ownerDocument;
  const state = newTreeViewState();
  const frame = doc.createElement('div');
  frame.className = 'vel-tree-widget';
  host.append(frame);
  const markdown = markdownFromAncestors(host);
  const pending = new Map<number, { ok: (status: string) => void; fail: (error: Error) => void }>();
  let requests = 0;
  let dead = false;

  // Each action is a message; tree_widget.py answers it with {request, ok, status}.
  function ask(content: Record<string, unknown>): Promise<string> {
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
          fail(new Error('no answer from the kernel: is it still running?'));
        }
      }, PATIENCE_MS);
    });
  }
  function answered(message?: unknown): void {
    const answer = (message ?? null) as Answer | null;
    const waiting = answer && typeof answer.request === 'number' ? pending.get(answer.request) : undefined;
    if (!answer || !waiting) {
      return;
    }
    pending.delete(answer.request!);
    const status = String(answer.status || '');
    if (answer.ok) {
      waiting.ok(status);
    } else {
      waiting.fail(new Error(status));
    }
  }
  // (In JupyterLab the extension around the widget draws the saved tree instead once the
  // kernel is gone; elsewhere the first message that cannot be sent says so.)
  const actions: TreeActions = {
    unavailable: () => (dead ? NO_KERNEL : ''),
    checkout: (sessionId, messageId) => ask({ action: 'checkout', session_id: sessionId, message_id: messageId }),
    fork: (sessionId, messageId, newId) => ask({ action: 'fork', session_id: sessionId, message_id: messageId, new_id: newId })
  };

  function draw(): void {
    const what = classify(model.get('data'));
    if (what.kind === 'tree') {
      void renderTreeView(frame, what.tree, { markdown, actions, state });
    }
  }

  // The JupyterLab extension (an ancestor of `host`) copies each new tree into the output,
  // so a saved notebook shows the widget's last state with no kernel. No extension, no
  // listener: the event goes nowhere.
  function announce(): void {
    host.dispatchEvent(new CustomEvent(TREE_STATE_EVENT, { bubbles: true, detail: model.get('data') }));
  }
  function changed(): void {
    draw();
    announce();
  }

  model.on('change:data', changed);
  model.on('msg:custom', answered);
  draw();
  announce();
  return () => {
    model.off('change:data', changed);
    model.off('msg:custom', answered);
  };
}

export default { render: renderWidget };
