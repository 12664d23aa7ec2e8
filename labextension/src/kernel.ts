/**
 * The kernel of the notebook (or console) an output is in, through JupyterLab's public
 * session context (`ISessionContext`): whether one is connected, when that changes, and
 * `%chat` commands run in it silently.
 *
 * A MIME renderer is given no session (IRenderMime.IRendererOptions has none), so the
 * session context is the one of the document panel the output sits in: a NotebookPanel's or
 * ConsolePanel's public `sessionContext`, found among the output's Lumino ancestors. That
 * look-up is here and only here; the renderers (./index) ask `kernelOf` / `KernelWatch`. The
 * notebook's file (for `%chat restore --notebook` after a restart) is found the same way.
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
  return runSilently(kernel, '%chat ' + words.map(quoted).join(' '));
}

/** A checked word as one shell-like word: bare when plain, else single-quoted (checked words hold no quote). */
function quoted(word: string): string {
  return /^[A-Za-z0-9_.:-]+$/.test(word) ? word : `'${word}'`;
}

/** Run constant or checked code silently; resolves to what it printed, rejects with the kernel's error. */
async function runSilently(kernel: Kernel.IKernelConnection, code: string): Promise<string> {
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
 * A notebook file `%chat restore --notebook` may be given: a relative path of plain segments
 * (letters, digits, space and `_.,()+@-`; none `.` or `..`, none starting with `-` or a
 * space) ending in `.ipynb`. Like SAFE_ID, it keeps the path one quoted word: no quote,
 * `$`, `{`, backslash or newline can reach the kernel.
 */
export const NOTEBOOK_FILE = /^(?:(?![-. ]|\.\.?\/)[A-Za-z0-9 _.,()+@-]{1,200}\/){0,20}(?![- ])[A-Za-z0-9 _.,()+@-]{0,200}\.ipynb$/;

/** Whether `path` is a notebook file we may name in `%chat restore --notebook`. */
export function isNotebookFile(path: string): boolean {
  return NOTEBOOK_FILE.test(path) && !path.split('/').some(s => s === '.' || s === '..');
}

/**
 * The file of the notebook `widget` is in, as the kernel finds it (its working directory
 * is the notebook's folder, so the name alone), or null: in a console, or a name
 * NOTEBOOK_FILE refuses. The panel holding the session context is a NotebookPanel when
 * its public `context.path` (`folder/name.ipynb`, maybe after a `drive:` prefix) is a notebook's.
 */
export function notebookFileOf(widget: Widget): string | null {
  for (let w = widget.parent; w; w = w.parent) {
    const panel = w as Widget & { sessionContext?: unknown; context?: { path?: unknown } };
    if (panel.sessionContext) {
      const path = panel.context?.path;
      const name = typeof path === 'string' ? path.replace(/^[^/:]*:/, '').split('/').pop() ?? '' : '';
      return isNotebookFile(name) ? name : null;
    }
  }
  return null;
}

/**
 * Which of the sessions `ids` the kernel lacks (`%chat state`'s "known": false; every one
 * when `%chat` is not even loaded, as after a restart). Rejects when the kernel cannot say.
 */
export async function sessionsMissing(kernel: Kernel.IKernelConnection | null, ids: string[]): Promise<string[]> {
  const asked = ids.filter(id => SAFE_ID.test(id));
  if (!asked.length) {
    return [];
  }
  let reply: string;
  try {
    reply = await runChatIn(kernel, ['state', ...asked]);
  } catch (error) {
    if (/magic function `%?chat` not found/.test(String((error as Error)?.message))) {
      return asked;
    }
    throw error;
  }
  const line = reply.split('\n').pop() ?? '';
  const sessions = (JSON.parse(line) as { sessions?: Record<string, { known?: unknown }> }).sessions ?? {};
  return asked.filter(id => sessions[id]?.known === false);
}

/**
 * `%chat restore --notebook FILE` in the kernel of the notebook `widget` is in, silently,
 * after `%load_ext vel_jupyter` (a restarted kernel has forgotten it; a loaded one ignores
 * it). Resolves to what the restore printed; rejects with its one-line error.
 */
export async function restoreNotebookSessions(widget: Widget): Promise<string> {
  const kernel = kernelOf(widget);
  const file = notebookFileOf(widget);
  if (!kernel) {
    throw new Error(NO_KERNEL);
  }
  if (!file) {
    throw new Error('no notebook file to restore from: use %chat restore --notebook PATH in a cell');
  }
  await runSilently(kernel, '%load_ext vel_jupyter');
  return runSilently(kernel, `%chat restore --notebook ${quoted(file)}`);
}

/**
 * Run `%chat tree SESSION` silently and follow what it draws, as a cell's output area does:
 * `onTree` gets the payload of `mime` now and each time the kernel redraws it (the family
 * changed), until the returned stop is called. A tree output drawn by a kernel since
 * restarted is unknown to the new one; followed, the new kernel's redraws reach it again.
 */
export function followTree(kernel: Kernel.IKernelConnection, sessionId: string, mime: string, onTree: (data: unknown) => void): () => void {
  if (!SAFE_ID.test(sessionId) && !NEW_SESSION_ID.test(sessionId)) {
    return () => undefined;
  }
  // Kept after it is done (disposeOnDone false), so the kernel's updates by display id reach it.
  const future = kernel.requestExecute({ code: `%chat tree ${quoted(sessionId)}`, silent: true, store_history: false }, false);
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    const type = msg.header.msg_type;
    const data = (msg.content as { data?: Record<string, unknown> }).data?.[mime];
    if ((type === 'display_data' || type === 'update_display_data') && data && typeof data === 'object') {
      onTree(data);
    }
  };
  future.done.catch(() => undefined);
  return () => future.dispose();
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
