/**
 * JupyterLab MIME renderers for vel_jupyter outputs:
 *
 * - application/vnd.vel.session+json: a `%%chat` turn or a `%chat export` session.
 * - application/vnd.vel.tree+json: a fork tree: a `%chat tree` output (interactive, acting
 *   through `%chat` commands in the notebook's kernel), or the state the `session.tree()`
 *   widget carries beside itself (see VelTreeRenderer).
 *
 * These are the thin widgets and factories; the DOM is built by the pure render functions of
 * ./render (framework-free), and the kernel is reached through ./kernel. Both renderers are
 * `safe`: they show
 * untrusted outputs (a notebook opened without trust or without a kernel), because every
 * payload string is inserted as text, except Markdown (model answers, user messages),
 * which ./markdown renders with JupyterLab's own Markdown renderer and sanitizer, always
 * in untrusted mode.
 */
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Panel, Widget } from '@lumino/widgets';

import { KernelWatch, NO_KERNEL, SAFE_ID, followTree, kernelOf, notebookFileOf, restoreNotebookSessions, runChat, sessionsMissing } from './kernel';
import { labMarkdown } from './markdown';
import { insertCellBelow } from './notebookCell';
import { CheckoutHook, MARKDOWN_EVENT, MarkdownHook, MarkdownRequest } from './markdownQueue';
import { MIME_TYPE, TREE_MIME_TYPE, classify, str } from './payload';
import { render } from './render';
import { askState, followState, sessionsMoved } from './stateSync';
import { SessionState, askedIds, deriveTurn, withDerived } from './turnState';
import { TREE_STATE_EVENT, TreeActions, newTreeViewState, renderTreeView } from './treeView';

export { MIME_TYPE, TREE_MIME_TYPE, TREE_STATE_EVENT };

/**
 * Rank: lower wins. JupyterLab's defaults are html 50, markdown 60, latex 70, svg 80,
 * images 90, javascript 110, plain text 120, and the JSON viewer (application/json) 0.
 * At 0 we beat the Markdown fallback every turn carries; for a bundle that also carries
 * application/json (format=json or structured output) the JSON viewer, registered
 * earlier at the same rank, wins the tie.
 */
export const RANK = 0;

/**
 * Ahead of the widget manager (-10, for application/vnd.jupyter.widget-view+json): for a
 * tree output we, not the widget manager, decide between the live widget and the saved
 * tree. Only `%chat tree` outputs carry this MIME type, so nothing else is affected.
 */
export const TREE_RANK = -20;

export const WIDGET_MIME_TYPE = 'application/vnd.jupyter.widget-view+json';


/**
 * How long a live widget may take to appear before the saved tree is shown instead (a
 * live widget normally appears within a frame; with no kernel it never does, and with a
 * new kernel the widget manager gives up on an old model after about 2 s).
 */
export const SAVED_TREE_DELAY_MS = 300;

export class VelSessionRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._mimeType = options.mimeType;
    this._markdown = labMarkdown(options, { insertCell: code => insertCellBelow(this, code) });
    this.addClass('vel-jupyter-output');
  }

  /**
   * Called for each frame of a streaming turn too (the output area reuses its renderer
   * for an updated display): the new view replaces the old one only once its Markdown is
   * rendered, so the output never flashes or jumps.
   */
  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    if (model !== this._model) {
      this._state = null; // (a kernel's redraw carries the state it knows; we ask again below)
    }
    this._model = model;
    this._askState();
    return this._draw();
  }

  /** The payload as shown: a turn's derived parts from the kernel's state, when it has told us. */
  private _draw(): Promise<void> {
    const data = this._model?.data[this._mimeType];
    const what = classify(data);
    const shown = what.kind === 'turn' && !what.turn.live ? withDerived(what.turn, deriveTurn(what.turn, this._state)) : data;
    const stop = kernelOf(this) ? () => void kernelOf(this)?.interrupt() : undefined; // (■ Stop on a live turn, with a kernel)
    return render(this.node, shown, { markdown: this._markdown, checkout: this._checkout, stop });
  }

  /** Ask the kernel where this turn's session stands (batched per notebook); redraw if that changes what we show. */
  private _askState = (): void => {
    const model = this._model;
    const what = classify(model?.data[this._mimeType]);
    if (!model || what.kind !== 'turn' || what.turn.live || this.isDisposed) {
      return;
    }
    const sid = str(what.turn.session_id);
    const ids = askedIds(what.turn).filter(id => SAFE_ID.test(id));
    if (!SAFE_ID.test(sid) || !ids.length) {
      return;
    }
    askState(this, sid, ids, state => {
      if (this._model !== model || this.isDisposed) {
        return;
      }
      const before = JSON.stringify(deriveTurn(what.turn, this._state));
      this._state = state;
      if (JSON.stringify(deriveTurn(what.turn, state)) !== before) {
        void this._draw();
      }
    });
  };

  protected onAfterAttach(): void {
    this._kernel.attach();
    this._unfollow?.();
    this._unfollow = followState(this, this._askState);
    this._askState();
  }

  dispose(): void {
    this._kernel.detach();
    this._unfollow?.();
    super.dispose();
  }

  /** "continue with this answer": `%chat checkout ID MESSAGE --follow` in this notebook's kernel, silently (the cells below follow). */
  private _checkout: CheckoutHook = {
    available: () => kernelOf(this) !== null,
    run: async (sessionId: string, head: string): Promise<void> => {
      const kernel = kernelOf(this);
      if (!kernel) {
        throw new Error('no kernel connected: run the notebook first');
      }
      if (!SAFE_ID.test(sessionId) || !SAFE_ID.test(head)) {
        throw new Error('this output names an unusual session or message id: use %chat checkout in a cell');
      }
      await runChat(this, ['checkout', sessionId, head, '--follow']);
      sessionsMoved(this);
    }
  };

  /** With a kernel or without, the "continue from this answer" button and the derived state change: redraw. */
  private _kernel = new KernelWatch(this, () => {
    if (this._model && !this.isDisposed) {
      this._state = null; // a new kernel (or none): what it says, else the saved payload
      void this.renderModel(this._model);
    }
  });

  private _mimeType: string;
  private _markdown: MarkdownHook | undefined;
  private _model: IRenderMime.IMimeModel | null = null;
  private _state: SessionState | null = null; // the kernel's last word on this turn's session
  private _unfollow: (() => void) | null = null;
}

/** What we need of a rendermime registry: JupyterLab's output areas expose theirs. */
interface IFactoryLookup {
  getFactory(mimeType: string): IRenderMime.IRendererFactory | undefined;
}


/** The registry of the output area this widget sits in (notebooks and consoles have one). */
function registryOf(widget: Widget): IFactoryLookup | null {
  for (let w = widget.parent; w; w = w.parent) {
    const registry = (w as Widget & { rendermime?: IFactoryLookup }).rendermime;
    if (registry && typeof registry.getFactory === 'function') {
      return registry;
    }
  }
  return null;
}

/**
 * A fork tree output.
 *
 * - `%chat tree` (no widget in the bundle): we draw the tree (./tree) and carry out its
 *   actions with `%chat checkout` / `%chat fork` in the notebook's kernel; the kernel
 *   redraws the output when the family changes. With no kernel the tree is still there to
 *   read, its buttons disabled with a tooltip, enabled again when a kernel connects.
 * - `session.tree()` (an anywidget): the live widget while its kernel has it. The widget
 *   manager's own renderer (from this output area's registry) draws it as a child of this
 *   panel; if no view appears (no kernel, a restarted kernel, an untrusted notebook, no
 *   widget manager), or the kernel goes away, the tree it last showed is drawn instead of
 *   "Loading widget…", read only. While live, the widget announces each new tree
 *   (TREE_STATE_EVENT) and we copy it into the output's data, so saving the notebook saves
 *   what the user last saw.
 */
export class VelTreeRenderer extends Panel implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._options = options;
    this._markdown = labMarkdown(options, { insertCell: code => insertCellBelow(this, code) });
    this.addClass('vel-jupyter-output');
    this._saved.addClass('vel-tree-saved');
    this._saved.hide();
    this.addWidget(this._saved);
    this.node.addEventListener(TREE_STATE_EVENT, this._onState);
    this.node.addEventListener(MARKDOWN_EVENT, this._onMarkdown);
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this._model = model;
    const json = JSON.stringify(model.data[TREE_MIME_TYPE]) ?? '';
    if (json !== this._json) {
      this._json = json;
      this._savedDrawn = false;
    }
    if (this._live || !model.trusted || !model.data[WIDGET_MIME_TYPE]) {
      this._update();
      return;
    }
    // The output area adds us to itself right after this call: wait for that, then look
    // up the widget manager's renderer in its registry.
    await Promise.resolve();
    const factory = registryOf(this)?.getFactory(WIDGET_MIME_TYPE);
    if (!factory || this.isDisposed) {
      this._update();
      return;
    }
    const live = factory.createRenderer({ ...this._options, mimeType: WIDGET_MIME_TYPE });
    this._live = live;
    live.hide();
    this.addWidget(live);
    this._observer = new MutationObserver(() => this._update());
    this._observer.observe(live.node, { childList: true });
    this._timer = window.setTimeout(() => {
      this._patient = false;
      this._update();
    }, SAVED_TREE_DELAY_MS);
    await live.renderModel(model).catch(() => undefined);
    this._update();
  }

  /** Whether the live widget has a view to show. */
  get isLive(): boolean {
    const live = this._live as (IRenderMime.IRenderer & { widgets?: readonly Widget[] }) | null;
    return !!live && !live.isDisposed && (live.widgets?.length ?? 0) > 0;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._kernel.detach();
    this._unfollow?.();
    this._observer?.disconnect();
    window.clearTimeout(this._timer);
    this.node.removeEventListener(TREE_STATE_EVENT, this._onState);
    this.node.removeEventListener(MARKDOWN_EVENT, this._onMarkdown);
    super.dispose();
  }

  private _update(): void {
    if (this.isDisposed) {
      return;
    }
    if (this.isLive && kernelOf(this)) {
      this._saved.hide();
      this._live!.show();
      return;
    }
    this._live?.hide();
    if (this._live && this._patient) {
      return; // give the live widget a moment before showing the saved tree
    }
    if (!this._savedDrawn && this._model) {
      const what = classify(this._model.data[TREE_MIME_TYPE]);
      if (what.kind === 'tree') {
        this._commands = what.tree.commands === '%chat';
        void renderTreeView(this._saved.node, what.tree, { markdown: this._markdown, actions: this._actions, state: this._state });
      } else {
        void render(this._saved.node, this._model.data[TREE_MIME_TYPE], { markdown: this._markdown });
      }
      this._savedDrawn = true;
    }
    this._saved.show();
  }

  protected onAfterAttach(): void {
    this._kernel.attach();
  }

  /** The buttons of a drawn tree: `%chat` commands in this notebook's kernel. */
  private _actions: TreeActions = {
    unavailable: () => {
      if (!this._commands) {
        return 'a saved view of the session.tree() widget: run its cell again to act on the tree';
      }
      return kernelOf(this) ? '' : NO_KERNEL;
    },
    checkout: (sessionId, messageId) => runChat(this, ['checkout', sessionId, messageId]).finally(() => sessionsMoved(this)),
    fork: (sessionId, messageId, newId) =>
      runChat(this, ['fork', sessionId, ...(newId ? [newId] : []), '--at', messageId]).finally(() => sessionsMoved(this)),
    // After a restart: the sessions the kernel lacks, brought back from this notebook's file.
    missing: ids => sessionsMissing(kernelOf(this), ids),
    restoreFrom: () => notebookFileOf(this),
    restore: () =>
      restoreNotebookSessions(this)
        .then(text => (this._follow(), text))
        .finally(() => sessionsMoved(this))
  };

  /** After a restore the new kernel does not know this output: draw its tree there again, and follow its redraws. */
  private _follow(): void {
    const kernel = kernelOf(this);
    const what = classify(this._model?.data[TREE_MIME_TYPE]);
    this._unfollow?.();
    this._unfollow = kernel && what.kind === 'tree' ? followTree(kernel, str(what.tree.focus), TREE_MIME_TYPE, data => {
      const model = this._model;
      if (model && !this.isDisposed) {
        model.setData({ data: { ...model.data, [TREE_MIME_TYPE]: data as IRenderMime.IMimeModel['data'][string] } });
        void this.renderModel(model);
      }
    }) : null;
  }

  /** A kernel came or went: the buttons change, and a live widget may be gone. */
  private _kernel = new KernelWatch(this, () => {
    this._savedDrawn = false;
    this._update();
  });

  private _onState = (event: Event): void => {
    const detail = (event as CustomEvent).detail as { kind?: unknown } | null;
    if (!this._model || !detail || detail.kind !== 'vel_jupyter.tree') {
      return;
    }
    const json = JSON.stringify(detail);
    if (json === this._json) {
      return;
    }
    this._json = json;
    this._savedDrawn = false;
    this._model.setData({ data: { ...this._model.data, [TREE_MIME_TYPE]: JSON.parse(json) } });
  };

  /** The live widget asks for Markdown (see markdownQueue.ts::markdownFromAncestors). */
  private _onMarkdown = (event: Event): void => {
    const request = (event as CustomEvent).detail as MarkdownRequest | null;
    const hook = this._markdown;
    if (!hook || !request || typeof request.source !== 'string' || !request.host) {
      return;
    }
    request.done = hook.render(request.host, request.source).then(() => hook.typeset?.(request.host));
  };

  private _options: IRenderMime.IRendererOptions;
  private _markdown: MarkdownHook | undefined;
  private _model: IRenderMime.IMimeModel | null = null;
  private _json = '';
  private _saved = new Widget();
  private _savedDrawn = false;
  private _commands = false;
  private _state = newTreeViewState(); // the reader's place, kept across redraws
  private _live: IRenderMime.IRenderer | null = null;
  private _observer: MutationObserver | null = null;
  private _patient = true;
  private _timer = 0;
  private _unfollow: (() => void) | null = null;
}

export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [MIME_TYPE],
  defaultRank: RANK,
  createRenderer: options => new VelSessionRenderer(options)
};

export const treeRendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [TREE_MIME_TYPE],
  defaultRank: TREE_RANK,
  createRenderer: options => new VelTreeRenderer(options)
};

const extensions: IRenderMime.IExtension[] = [
  {
    id: 'vel-jupyter:renderer',
    description: 'Renders vel_jupyter turns and sessions (application/vnd.vel.session+json).',
    rendererFactory,
    rank: RANK,
    dataType: 'json'
  },
  {
    id: 'vel-jupyter:tree-renderer',
    description: 'Shows a %chat tree output live, or as last saved (application/vnd.vel.tree+json).',
    rendererFactory: treeRendererFactory,
    rank: TREE_RANK,
    dataType: 'json'
  }
];

export default extensions;
