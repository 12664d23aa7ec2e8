/**
 * The kernel of the notebook (or console) an output is in, through JupyterLab's public
 * session context (`ISessionContext`): whether one is connected, when that changes, and
 * `%chat` commands run in it silently.
 *
 * A MIME renderer is given no session (IRenderMime.IRendererOptions has none), so the
 * session context is the one of the document panel the output sits in: a NotebookPanel's or
 * ConsolePanel's public `sessionContext`, found among the output's Lumino ancestors. That
 * look-up is here and only here; the renderers (./index) ask `kernelOf` / `KernelWatch`.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { Widget } from '@lumino/widgets';

import { NEW_SESSION_ID } from './treeView';

/** Message ids we put into `%chat` commands (ours are 26-character ULIDs). */
export const SAFE_ID = /^[A-Za-z0-9_.:-]{1,200}$/;

export const NO_KERNEL = 'no kernel connected: run the notebook (or this cell) to act on it';

/** The session context of the panel `widget` is in (a notebook or a console), else null. */
export function sessionContextOf(widget: Widget): ISessionContext | null {
  for (let w = widget.parent; w; w = w.parent) {
    const context = (w as Widget & { sessionContext?: ISessionContext }).sessionContext;
    if (context && typeof context === 'object' && 'kernelChanged' in context) {
      return context;
    }
  }
  return null;
}

/** The connected, living kernel of the notebook (or console) `widget` is in, else null. */
export function kernelOf(widget: Widget): Kernel.IKernelConnection | null {
  return liveKernel(sessionContextOf(widget));
}

/**
 * Run `%chat WORDS` in the kernel, silently (no execution count, no output in any cell);
 * resolves to what the command printed, rejects with the kernel's error. Every word is an id
 * checked here (session ids as the Python side allows them, message ids as ours are) and
 * single-quoted, so nothing typed can become more than one word, a variable or code.
 */
export async function runChat(widget: Widget, words: string[]): Promise<string> {
  return runChatIn(kernelOf(widget), words);
}

/** The connected, living kernel of a session context, else null. */
export function liveKernel(context: ISessionContext | null): Kernel.IKernelConnection | null {
  const kernel = context?.session?.kernel ?? null;
  return kernel && kernel.connectionStatus === 'connected' && kernel.status !== 'dead' ? kernel : null;
}

/** `runChat` in a given kernel (null: rejects with NO_KERNEL). */
export async function runChatIn(kernel: Kernel.IKernelConnection | null, words: string[]): Promise<string> {
  if (!kernel) {
    throw new Error(NO_KERNEL);
  }
  for (const word of words) {
    if (!SAFE_ID.test(word) && !NEW_SESSION_ID.test(word)) {
      throw new Error(`“${word}” is an unusual id: use %chat ${words[0]} in a cell`);
    }
  }
  const code = '%chat ' + words.map(w => (/^[A-Za-z0-9_.:-]+$/.test(w) ? w : `'${w}'`)).join(' ');
  const future = kernel.requestExecute({ code, silent: true, store_history: false });
  let printed = '';
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    if (msg.header.msg_type === 'stream') {
      printed += (msg.content as KernelMessage.IStreamMsg['content']).text ?? '';
    }
  };
  const reply = await future.done;
  const content = reply.content as { status: string; evalue?: string };
  if (content.status !== 'ok') {
    throw new Error(content.evalue || `the kernel could not do it; try ${code} in a cell`);
  }
  return printed.trim();
}

/**
 * Calls `changed` when the kernel of the widget's notebook comes or goes (started, shut
 * down, restarted, dead), so buttons that need it are enabled or disabled with a tooltip.
 */
export class KernelWatch {
  constructor(
    private _widget: Widget,
    private _changed: () => void
  ) {}

  attach(): void {
    const context = sessionContextOf(this._widget);
    if (!context || context === this._context) {
      return;
    }
    this.detach();
    this._context = context;
    this._available = kernelOf(this._widget) !== null;
    context.statusChanged.connect(this._check);
    context.connectionStatusChanged.connect(this._check);
    context.kernelChanged.connect(this._check);
  }

  detach(): void {
    const context = this._context;
    if (context) {
      context.statusChanged.disconnect(this._check);
      context.connectionStatusChanged.disconnect(this._check);
      context.kernelChanged.disconnect(this._check);
    }
    this._context = null;
  }

  private _check = (): void => {
    const now = kernelOf(this._widget) !== null;
    if (now !== this._available) {
      this._available = now;
      this._changed();
    }
  };

  private _context: ISessionContext | null = null;
  private _available = false;
}
