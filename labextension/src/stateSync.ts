/**
 * Turn outputs kept in step with their sessions in the kernel, per notebook: one
 * `StateQueue` (./turnState) per session context, and a re-ask of every output after each
 * cell the user runs in that kernel. The kernel redraws outputs it knows by display id, but
 * JupyterLab forgets those ids for outputs restored on a page reload; asking, rather than
 * waiting to be told, keeps restored outputs right too.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { Widget } from '@lumino/widgets';

import { liveKernel, runChatIn, sessionContextOf } from './kernel';
import { SessionState, StateQueue } from './turnState';

/** The outputs of one notebook (or console) and the one queue their questions go through. */
class NotebookStates {
  constructor(private _context: ISessionContext) {
    _context.kernelChanged.connect(this._follow);
    this._follow();
  }

  readonly queue = new StateQueue(words => runChatIn(liveKernel(this._context), words));
  readonly outputs = new Set<() => void>();

  /** Every output asks again (batched by the queue): the session may have moved. */
  refresh(): void {
    for (const ask of this.outputs) {
      ask();
    }
  }

  private _follow = (): void => {
    this._kernel?.iopubMessage.disconnect(this._onIOPub);
    this._kernel = this._context.session?.kernel ?? null;
    this._kernel?.iopubMessage.connect(this._onIOPub);
  };

  // A cell the user ran (not our silent requests, which broadcast no execute_input) ends
  // with the kernel idle: then every output asks where its session stands.
  private _onIOPub = (_: Kernel.IKernelConnection, msg: KernelMessage.IIOPubMessage): void => {
    const parent = (msg.parent_header as { msg_id?: string } | undefined)?.msg_id ?? '';
    if (msg.header.msg_type === 'execute_input') {
      this._ran.add(parent);
    } else if (msg.header.msg_type === 'status' && (msg.content as { execution_state?: string }).execution_state === 'idle') {
      if (this._ran.delete(parent) && this.outputs.size) {
        this.refresh();
      }
    }
  };

  private _kernel: Kernel.IKernelConnection | null = null;
  private _ran = new Set<string>();
}

const notebooks = new WeakMap<ISessionContext, NotebookStates>();

function statesOf(widget: Widget): NotebookStates | null {
  const context = sessionContextOf(widget);
  if (!context) {
    return null;
  }
  let states = notebooks.get(context);
  if (!states) {
    states = new NotebookStates(context);
    notebooks.set(context, states);
  }
  return states;
}

/** Ask, for the output `widget`, where session `sessionId` stands (about `ids`); false: no notebook. */
export function askState(widget: Widget, sessionId: string, ids: string[], done: (state: SessionState) => void): boolean {
  const states = statesOf(widget);
  if (!states || !liveKernel(sessionContextOf(widget))) {
    return false;
  }
  states.queue.ask(sessionId, ids, done);
  return true;
}

/** Call `ask` whenever the outputs of `widget`'s notebook should ask again; returns the undo. */
export function followState(widget: Widget, ask: () => void): () => void {
  const states = statesOf(widget);
  states?.outputs.add(ask);
  return () => states?.outputs.delete(ask);
}

/** After a command that moved a session (a button's checkout or fork): every output of the notebook asks again. */
export function sessionsMoved(widget: Widget): void {
  statesOf(widget)?.refresh();
}
