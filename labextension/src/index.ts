/**
 * JupyterLab MIME renderers for vel_jupyter outputs:
 *
 * - application/vnd.vel.session+json: a `%%chat` turn or a `%chat export` session.
 * - application/vnd.vel.tree+json: the fork-tree widget's state, which `%chat tree` outputs
 *   carry beside the widget itself (see VelTreeRenderer).
 *
 * The DOM is built by ./render (framework-free). Both renderers are `safe`: they show
 * untrusted outputs (a notebook opened without trust or without a kernel), because every
 * payload string is inserted as text, except Markdown (model answers, user messages),
 * which ./markdown renders with JupyterLab's own Markdown renderer and sanitizer, always
 * in untrusted mode.
 */
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Panel, Widget } from '@lumino/widgets';

import { labMarkdown } from './markdown';
import { CheckoutHook, MARKDOWN_EVENT, MIME_TYPE, MarkdownHook, MarkdownRequest, TREE_MIME_TYPE, render } from './render';

export { MIME_TYPE, TREE_MIME_TYPE };

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

/** Dispatched (bubbling) by the widget's tree.js with its new state after each redraw. */
export const TREE_STATE_EVENT = 'vel-tree-state';

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
    this._markdown = labMarkdown(options);
    this.addClass('vel-jupyter-output');
  }

  /**
   * Called for each frame of a streaming turn too (the output area reuses its renderer
   * for an updated display): the new view replaces the old one only once its Markdown is
   * rendered, so the output never flashes or jumps.
   */
  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    return render(this.node, model.data[this._mimeType], { markdown: this._markdown, checkout: this._checkout });
  }

  /** "continue from this answer": `%chat checkout` in this notebook's kernel, silently. */
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
      const reply = await kernel.requestExecute({ code: `%chat checkout ${sessionId} ${head}`, silent: true, store_history: false })
        .done;
      if (reply.content.status !== 'ok') {
        const content = reply.content as { evalue?: string };
        throw new Error(content.evalue || 'the kernel could not switch; try %chat checkout in a cell');
      }
    }
  };

  private _mimeType: string;
  private _markdown: MarkdownHook | undefined;
}

/** Session and message ids we put into `%chat checkout ID HEAD` (nothing a shell word could break). */
const SAFE_ID = /^[A-Za-z0-9_.:-]{1,200}$/;

interface IKernelLike {
  connectionStatus: string;
  requestExecute(content: { code: string; silent: boolean; store_history: boolean }): {
    done: Promise<{ content: { status: string } }>;
  };
}

/** The connected kernel of the notebook (or console) this widget is in, else null. */
function kernelOf(widget: Widget): IKernelLike | null {
  const context = fromAncestor<{ session?: { kernel?: IKernelLike | null } | null }>(widget, 'sessionContext');
  const kernel = context?.session?.kernel ?? null;
  return kernel && kernel.connectionStatus === 'connected' ? kernel : null;
}

/** What we need of a rendermime registry: JupyterLab's output areas expose theirs. */
interface IFactoryLookup {
  getFactory(mimeType: string): IRenderMime.IRendererFactory | undefined;
}

/** The nearest ancestor of `widget` that has property `name` (and that property's value). */
function fromAncestor<T>(widget: Widget, name: string, accept: (value: T) => boolean = () => true): T | null {
  for (let w = widget.parent; w; w = w.parent) {
    const value = (w as unknown as Record<string, T | undefined>)[name];
    if (value && accept(value)) {
      return value;
    }
  }
  return null;
}

/** The registry of the output area this widget sits in (notebooks and consoles have one). */
function registryOf(widget: Widget): IFactoryLookup | null {
  return fromAncestor<IFactoryLookup>(widget, 'rendermime', r => typeof r.getFactory === 'function');
}

/**
 * A `%chat tree` output: the live anywidget when its kernel still has it, else the tree
 * as it was last saved.
 *
 * - Live: the widget manager's own renderer (from this output area's registry) draws the
 *   widget as a child of this panel. We show it as soon as it has a view.
 * - Saved: if no view appears (no kernel, a restarted kernel, an untrusted notebook, no
 *   widget manager), the payload is drawn by ./render instead of "Loading widget…".
 * - Last state: while live, the widget announces each new tree (TREE_STATE_EVENT) and we
 *   copy it into the output's data, so saving the notebook saves what the user last saw.
 */
export class VelTreeRenderer extends Panel implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._options = options;
    this._markdown = labMarkdown(options);
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
    if (this.isLive) {
      this._saved.hide();
      this._live!.show();
      return;
    }
    this._live?.hide();
    if (this._live && this._patient) {
      return; // give the live widget a moment before showing the saved tree
    }
    if (!this._savedDrawn && this._model) {
      void render(this._saved.node, this._model.data[TREE_MIME_TYPE], { markdown: this._markdown });
      this._savedDrawn = true;
    }
    this._saved.show();
  }

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

  /** The live widget asks for Markdown (see render.ts::markdownFromAncestors). */
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
  private _live: IRenderMime.IRenderer | null = null;
  private _observer: MutationObserver | null = null;
  private _patient = true;
  private _timer = 0;
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
