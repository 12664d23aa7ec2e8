/**
 * The tree view: the `%chat tree` output and the anywidget. A header, the family's sessions
 * (click one to follow its HEAD), the fork tree (./forkTree), and the selected turn read in
 * full with "Continue from here" and "Fork here", which a `TreeActions` carries out (the
 * notebook's kernel, or the widget's); without one, or with no kernel, they are disabled and
 * say why. When the kernel lacks the followed session (it was restarted), they offer
 * "Restore this notebook's sessions" from the notebook file instead. The turns, their row
 * texts and the tree's words come with the payload.
 */
import { clear, h } from './dom';
import { TreeOptions, TurnRow, renderTree } from './forkTree';
import { MarkdownQueue, RenderOptions, swapIn } from './markdownQueue';
import { TreeStateHead, TreeStatePayload, num, str } from './payload';
import { forkLabelsOf, treeHeadLabel, treeStats } from './texts';
import { renderTranscript } from './transcript';
import { TurnTree, endsOnPath, linkTurns } from './turns';

/** Each session's current head in a tree payload (the first marked current), by session id. */
function currentHeads(data: TreeStatePayload): Map<string, TreeStateHead> {
  const out = new Map<string, TreeStateHead>();
  for (const hd of data.heads) {
    if (hd.current && !out.has(str(hd.session_id))) {
      out.set(str(hd.session_id), hd);
    }
  }
  return out;
}

/** The message id a head entry points at, or null. */
function headMessage(head: TreeStateHead | undefined): string | null {
  return head ? str(head.message) || str(head.turn) || null : null;
}

/**
 * A tree payload as `renderTree` input: its turns linked, every session's heads labelled
 * by session (the focused session's current one says HEAD instead), its row texts and words.
 */
export function treeStateView(
  data: TreeStatePayload,
  focus = str(data.focus)
): { turns: TurnTree; options: TreeOptions & { currentHead: string | null } } {
  const labelled = data.heads.filter(hd => !(hd.current && str(hd.session_id) === focus));
  const heads = labelled.map(hd => str(hd.message) || str(hd.turn) || null);
  const rows = new Map<string, TurnRow>();
  for (const t of data.turns) {
    if (typeof t.question === 'string' || typeof t.answer === 'string') {
      rows.set(t.id, { question: str(t.question), answer: str(t.answer) });
    }
  }
  const branches = new Map<string, number>();
  for (const hd of data.heads) {
    branches.set(str(hd.session_id), (branches.get(str(hd.session_id)) ?? 0) + 1);
  }
  // A session with one branch is named alone; otherwise which branch of it (the payload's
  // `label`; computed for trees saved before heads carried one).
  const headLabel = (hd: TreeStateHead) =>
    typeof hd.label === 'string' ? hd.label : (branches.get(str(hd.session_id)) ?? 0) > 1 ? treeHeadLabel(hd) : str(hd.session_id);
  return {
    turns: linkTurns(data.turns, heads),
    options: {
      heads,
      headLabels: labelled.map(headLabel),
      currentHead: headMessage(currentHeads(data).get(focus)),
      rows,
      forkLabels: forkLabelsOf(data)
    }
  };
}

/** What the tree's buttons do; the JupyterLab extension runs `%chat` commands, the widget asks its model. */
export interface TreeActions {
  /** '' when the actions can run now, else why not (the disabled buttons' tooltip). */
  unavailable(): string;
  /** Make `messageId` the current message of `sessionId`; resolves to a status line. */
  checkout(sessionId: string, messageId: string): Promise<string>;
  /** A new session (`newId`, or a generated one when empty) continuing from `messageId`. */
  fork(sessionId: string, messageId: string, newId: string): Promise<string>;
  /** Which of the sessions `ids` the kernel lacks (a restarted kernel lacks them all); absent: never asked. */
  missing?(ids: string[]): Promise<string[]>;
  /** The notebook file `restore` reads, or null (a console: then the kernel's own advice stands). */
  restoreFrom?(): string | null;
  /** Bring the notebook's sessions back into the kernel (`%chat restore --notebook`); resolves to a status line. */
  restore?(): Promise<string>;
}

/** What a redraw keeps: the followed session, the selected turn, the opened blocks, the last status. */
export interface TreeViewState {
  focus: string | null;
  selected: string | null;
  open: Set<string>;
  status: string;
  /** The newest view built (on the page, or about to be): where an action's answer is shown. */
  view?: HTMLElement;
}

export function newTreeViewState(): TreeViewState {
  return { focus: null, selected: null, open: new Set(), status: '' };
}

export interface TreeViewOptions extends RenderOptions {
  actions?: TreeActions;
  /** Kept by the caller across redraws (a new payload keeps the reader's place). */
  state?: TreeViewState;
  /** Why there are no actions (their tooltip), when `actions` is absent. */
  noActions?: string;
}

/** Dispatched (bubbling) by the widget (./widget) with its new tree after each redraw; ./index listens. */
export const TREE_STATE_EVENT = 'vel-tree-state';

/** A session id a user may type for a fork (the Python side checks it again). */
export const NEW_SESSION_ID = /^[\p{L}\p{N}_.:@+=~-](?:[\p{L}\p{N}_ .:@+=~-]{0,198}[\p{L}\p{N}_.:@+=~-])?$/u;

/**
 * The fork tree with its header, the family's sessions, and the selected turn below in
 * full width with its actions. Redrawn (same `state`) when a new payload arrives.
 */
export function renderTreeView(el: HTMLElement, data: TreeStatePayload, options: TreeViewOptions = {}): Promise<void> {
  const state = options.state ?? newTreeViewState();
  return swapIn(el, options, md => buildTreeView(el, data, options, state, md));
}

function buildTreeView(el: HTMLElement, data: TreeStatePayload, options: TreeViewOptions, state: TreeViewState, md: MarkdownQueue): HTMLElement {
  const doc = el.ownerDocument;
  const sessions = data.sessions.map(s => str(s.session_id)).filter(Boolean);
  const focus = state.focus && sessions.includes(state.focus) ? state.focus : str(data.focus);
  const view = treeStateView(data, focus);
  if (state.selected !== null && !view.turns.turnOf.has(state.selected)) {
    state.selected = null;
  }
  const root = h(doc, 'div', { class: 'vel-root vel-tree-view', 'data-session': focus });
  const header = h(doc, 'div', { class: 'vel-session-header' });
  header.appendChild(h(doc, 'span', { class: 'vel-session-id' }, focus || '(unnamed session)'));
  header.appendChild(h(doc, 'span', { class: 'vel-session-stats' }, treeStats(data)));
  root.appendChild(header);

  // The family's sessions, each with where its HEAD is; the followed one is pressed.
  const numbers = new Map<string, number>();
  const rebuild = () => void renderTreeView(el, data, { ...options, state });
  const chips = h(doc, 'div', { class: 'vel-tree-sessions', role: 'toolbar', 'aria-label': 'sessions of this tree' });
  chips.appendChild(h(doc, 'span', { class: 'vel-tree-sessions-label' }, 'sessions'));
  const turnsById = new Map(data.turns.map(t => [t.id, t]));
  const current = currentHeads(data);
  for (const sid of sessions) {
    const turn = current.get(sid);
    const head = headMessage(turn);
    const number = turn ? num(turnsById.get(str(turn.turn))?.number) : null;
    numbers.set(sid, number ?? 0);
    const chip = h(
      doc,
      'button',
      {
        class: 'vel-tree-session' + (sid === focus ? ' vel-tree-session-focus' : ''),
        type: 'button',
        'aria-pressed': String(sid === focus),
        'data-session': sid,
        title: sid === focus ? `the tree follows ${sid}` : `follow ${sid}: its path becomes the main column`
      },
      h(doc, 'span', { class: 'vel-tree-session-name' }, sid),
      h(doc, 'span', { class: 'vel-tree-session-where' }, head ? (number ? `turn ${number}` : 'start') : 'empty')
    );
    chip.addEventListener('click', () => {
      if (sid !== focus) {
        state.focus = sid;
        state.selected = head;
        rebuild();
      }
    });
    chips.appendChild(chip);
  }
  root.appendChild(chips);

  const treeHost = h(doc, 'div', { class: 'vel-ft-host' });
  const detail = h(doc, 'div', { class: 'vel-tree-detail', 'aria-live': 'polite' });
  root.appendChild(treeHost);
  root.appendChild(detail);

  const turns = view.turns;
  renderTree(treeHost, turns, {
    ...view.options,
    selected: state.selected,
    open: state.open,
    md,
    onSelect: id => {
      state.selected = id;
      for (const r of Array.from(treeHost.querySelectorAll('.vel-ft-node') as ArrayLike<HTMLElement>)) {
        const on = r.getAttribute('data-id') === id;
        r.classList.toggle('vel-ft-selected', on);
        r.setAttribute('aria-selected', String(on));
      }
      showDetail();
    }
  });


  function showDetail(): void {
    clear(detail);
    const turn = state.selected ? turns.turnOf.get(state.selected) : undefined;
    if (!turn) {
      detail.appendChild(h(doc, 'div', { class: 'vel-tree-hint' }, 'Click a turn (or use the arrow keys and Enter) to read it, continue from it or fork it.'));
      appendStatus();
      return;
    }
    const where = endsOnPath(turns, turn, view.options.currentHead) ? `on ${focus}'s path` : `not on ${focus}'s current path`;
    detail.appendChild(h(doc, 'div', { class: 'vel-tree-detail-head' }, `Turn ${turn.number} · ${where}`));
    detail.appendChild(renderTranscript(doc, turn.messages, 50, md));
    const bar = actionsBar(turn.last, turn.number);
    detail.appendChild(bar);
    appendStatus();
    checkSessions(bar);
  }

  /**
   * Ask the kernel whether it has the tree's sessions (each time a turn is shown, and after
   * a failed action: a restart sends no redraw); lacking the followed one, offer to restore
   * the notebook's sessions from its file. In a console, the buttons stay as they are.
   */
  function checkSessions(bar: HTMLElement): void {
    const actions = options.actions;
    const file = actions?.restoreFrom?.() ?? null;
    if (!actions?.missing || !actions.restore || !file || actions.unavailable()) {
      return;
    }
    actions.missing(sessions).then(
      missing => {
        if (missing.includes(focus) && bar.isConnected !== false && !bar.querySelectorAll('.vel-tree-restore').length) {
          offerRestore(bar, missing, file);
        }
      },
      () => undefined // the kernel cannot say: the buttons stay, and an action's error says why
    );
  }

  function offerRestore(bar: HTMLElement, missing: string[], file: string): void {
    const names = missing.join(', ');
    const why = `this kernel does not have ${names} (was it restarted?): restore this notebook's sessions first`;
    for (const control of Array.from(bar.querySelectorAll('button, input') as ArrayLike<HTMLButtonElement>)) {
      control.disabled = true;
      control.setAttribute('title', why);
    }
    const restore = h(
      doc,
      'button',
      {
        class: 'vel-tree-restore jp-mod-styled jp-mod-accept',
        type: 'button',
        title: `bring back ${names} as ${file} last saved them (%chat restore --notebook ${file}), then act on the tree`
      },
      "Restore this notebook's sessions"
    ) as HTMLButtonElement;
    restore.addEventListener('click', () => {
      restore.disabled = true;
      setStatus(`restoring from ${file}…`);
      options.actions!.restore!().then(
        text => {
          // What it restored and skipped (its servers' table, indented, stays in the kernel's word).
          setStatus(text.split('\n').filter(l => l.trim() && !l.startsWith(' ')).join(' · ') || `restored from ${file}`);
          rebuild(); // the kernel sends no new tree: redraw, and the buttons ask again
        },
        (error: unknown) => {
          restore.disabled = false;
          setStatus(String((error as Error)?.message ?? error).split('\n')[0]);
        }
      );
    });
    bar.insertBefore(restore, bar.firstChild);
    setStatus(`the kernel has no session ${names}: “Restore this notebook's sessions” brings back what ${file} saved`);
  }

  function appendStatus(): void {
    detail.appendChild(h(doc, 'div', { class: 'vel-tree-status', role: 'status' }, state.status));
  }

  function actionsBar(messageId: string, number: number): HTMLElement {
    const bar = h(doc, 'div', { class: 'vel-tree-actions' });
    const why = options.actions ? options.actions.unavailable() : (options.noActions ?? 'saved view: run the cell with a kernel to act on the tree');
    const checkout = h(
      doc,
      'button',
      {
        class: 'vel-tree-checkout jp-mod-styled jp-mod-accept',
        type: 'button',
        title: why || `make turn ${number} the current message of ${focus}: the next %%chat ${focus} cell continues from it (%chat checkout ${focus} ${messageId})`
      },
      `Continue ${focus} from here`
    ) as HTMLButtonElement;
    const name = h(doc, 'input', {
      class: 'vel-tree-fork-name jp-mod-styled',
      type: 'text',
      'aria-label': 'name of the new session (optional)',
      title: why || 'the new session’s id; leave it empty for a generated one'
    }) as HTMLInputElement;
    name.placeholder = 'new session id (optional)';
    const fork = h(
      doc,
      'button',
      {
        class: 'vel-tree-fork jp-mod-styled',
        type: 'button',
        title: why || `a new session that continues from turn ${number}; ${focus} stays as it is (%chat fork ${focus} NEW --at ${messageId})`
      },
      'Fork here'
    ) as HTMLButtonElement;
    for (const control of [checkout, name, fork]) {
      (control as HTMLButtonElement).disabled = !!why;
    }
    const run = (button: HTMLButtonElement, action: () => Promise<string>) => {
      const reason = options.actions ? options.actions.unavailable() : why;
      if (reason) {
        setStatus(reason);
        return;
      }
      button.disabled = true;
      setStatus('working…');
      action().then(
        text => {
          button.disabled = false;
          setStatus(text);
        },
        (error: unknown) => {
          button.disabled = false;
          setStatus(String((error as Error)?.message ?? error));
          checkSessions(bar);
        }
      );
    };
    checkout.addEventListener('click', () => run(checkout, () => options.actions!.checkout(focus, messageId)));
    fork.addEventListener('click', () => {
      const wanted = name.value.trim();
      if (wanted && !NEW_SESSION_ID.test(wanted)) {
        setStatus(`“${wanted}” cannot name a session: use letters, digits, spaces inside, or . : @ + = ~ - _`);
        return;
      }
      run(fork, () => options.actions!.fork(focus, messageId, wanted));
    });
    name.addEventListener('keydown', (event: Event) => {
      if ((event as KeyboardEvent).key === 'Enter') {
        fork.click();
      }
    });
    const group = h(doc, 'span', { class: 'vel-tree-fork-group' }, name, fork);
    bar.appendChild(checkout);
    bar.appendChild(group);
    return bar;
  }

  function setStatus(text: string): void {
    // The answer may come after a redraw (the kernel redraws the tree as it acts): show it
    // in the newest view, which the state remembers.
    state.status = text;
    const line = (state.view ?? root).querySelectorAll('.vel-tree-status')[0] as HTMLElement | undefined;
    if (line) {
      line.textContent = text;
    }
  }

  showDetail();
  state.view = root;
  return root;
}
