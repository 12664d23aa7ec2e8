/**
 * Markdown through a hook, and views swapped in whole once their Markdown is rendered.
 *
 * Markdown is not rendered here: a `MarkdownHook` does it (in JupyterLab, ./markdown.ts,
 * which is JupyterLab's own Markdown renderer with its sanitizer in untrusted mode; in the
 * anywidget, the extension around it, asked through MARKDOWN_EVENT). Without a hook,
 * Markdown content is shown as its text.
 */
import { addClass, clear } from './dom';
import { preview } from './texts';

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
  /** Interrupts the kernel running a live turn (the extension's ■ Stop); without it, no button. */
  stop?: () => void;
}

export interface CheckoutHook {
  /** Whether a kernel is connected now (else the button is disabled, with a tooltip). */
  available(): boolean;
  /** Make `head` the session's current message; the kernel then redraws the outputs. */
  run(sessionId: string, head: string): Promise<void>;
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
