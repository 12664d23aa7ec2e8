/**
 * The fork tree: every branch and fork of a session family, one turn per row.
 *
 * - `renderTree` draws a message tree as turns: the focused path (the session's HEAD) is
 *   one flat column; at a fork, the other continuations fold into a block named by where
 *   they diverge ("another answer to turn 2: …", "another question at turn 3: …"). Blocks
 *   build their rows when first opened and long runs show their ends, so 1,000 turns cost
 *   a few dozen rows until the reader asks for more. Rows are a tree for the keyboard
 *   (arrows, Home/End, Enter), with one tab stop.
 * - `renderTreeView` is the `%chat tree` output and the anywidget: a header, the family's
 *   sessions (click one to follow its HEAD), the tree, and the selected turn read in full
 *   with "Continue from here" and "Fork here", which a `TreeActions` carries out (the
 *   notebook's kernel, or the widget's); without one, or with no kernel, they are disabled
 *   and say why.
 *
 * As in ./render: payload text only ever becomes text nodes; Markdown goes through the hook.
 */
import {
  MarkdownQueue,
  MessageData,
  MessageTree,
  RenderOptions,
  TreeStateHead,
  TreeStatePayload,
  addClass,
  buildTree,
  clear,
  formatCount,
  h,
  messageTokens,
  num,
  pathIds,
  preview,
  renderTranscript,
  roleClass,
  str,
  swapIn
} from './render';

// ---------------------------------------------------------------------------------------
// Turns

/**
 * A node of the fork tree: a *turn*, i.e. a user message with the assistant and tool
 * messages that follow it. A turn also starts at a root and after a fork point (a
 * message with several children), so alternative answers to one question are separate
 * nodes. `tokens` is the turn's prompt + completion tokens.
 */
export interface TurnNode {
  id: string;
  messages: MessageData[];
  /** Id of the turn's last message: what "continue from here" / "fork here" act on. */
  last: string;
  parent: TurnNode | null;
  children: TurnNode[];
  /** Turns in the subtree rooted here (this one included). */
  size: number;
  /** Position in a preorder walk of all turns: the subtree is `order` to `order + size - 1`. */
  order: number;
  tokens: number;
  /** Position on its path, from 1 (a turn that starts with an answer shares its question's). */
  number: number;
}

export interface TurnTree {
  roots: TurnNode[];
  /** Turn of every message id. */
  turnOf: Map<string, TurnNode>;
  messages: MessageTree;
  /** Indexes (into `heads`) of the branch heads in the subtree rooted at `turn`, ascending. */
  headsBelow(turn: TurnNode): number[];
}

/**
 * Group a message tree into turns. Iterative (safe at any depth) and O(n): heads are found
 * below a turn by its preorder range, not by walking up from every head (which costs
 * heads × depth, and lists each head on every turn above it).
 */
export function buildTurnTree(messages: MessageTree, heads: (string | null)[] = []): TurnTree {
  const turnOf = new Map<string, TurnNode>();
  const roots: TurnNode[] = [];
  const all: TurnNode[] = [];
  const stack = [...messages.roots].reverse();
  while (stack.length) {
    const node = stack.pop()!;
    const m = node.message;
    const parentTurn = node.parent ? turnOf.get(node.parent.message.id) : undefined;
    let turn: TurnNode;
    if (!parentTurn || m.role === 'user' || node.parent!.children.length > 1) {
      const number = (parentTurn?.number ?? 0) + (m.role === 'user' ? 1 : 0);
      turn = { id: m.id, messages: [], last: m.id, parent: parentTurn ?? null, children: [], size: 1, order: all.length, tokens: 0, number };
      (parentTurn ? parentTurn.children : roots).push(turn);
      all.push(turn);
    } else {
      turn = parentTurn;
    }
    turn.messages.push(m);
    turn.last = m.id;
    const tokens = messageTokens(m);
    if (tokens) {
      turn.tokens += tokens.prompt + tokens.completion;
    }
    turnOf.set(m.id, turn);
    for (let i = node.children.length - 1; i >= 0; i--) {
      stack.push(node.children[i]);
    }
  }
  // `all` is a preorder walk (a turn's subtree follows it): sizes bottom-up.
  for (let i = all.length - 1; i >= 0; i--) {
    const t = all[i];
    if (t.parent) {
      t.parent.size += t.size;
    }
  }
  // Heads by the preorder position of their turn; a turn's are one run of this list.
  const placed = heads
    .map((head, index) => ({ index, order: typeof head === 'string' ? (turnOf.get(head)?.order ?? -1) : -1 }))
    .filter(p => p.order >= 0)
    .sort((a, b) => a.order - b.order || a.index - b.index);
  const headsBelow = (turn: TurnNode): number[] => {
    let lo = 0;
    let hi = placed.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (placed[mid].order < turn.order) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    const out: number[] = [];
    for (let i = lo; i < placed.length && placed[i].order < turn.order + turn.size; i++) {
      out.push(placed[i].index);
    }
    return out.sort((a, b) => a - b);
  };
  return { roots, turnOf, messages, headsBelow };
}

/** What a row shows of a turn: the question and the answer, one plain line each. */
export interface TurnRow {
  question?: string;
  answer?: string;
}

const ROW_LIMIT = 160;

function questionOf(t: TurnNode): MessageData | undefined {
  const first = t.messages[0];
  return first && first.role === 'user' ? first : undefined;
}

function answerOf(t: TurnNode): MessageData | undefined {
  return [...t.messages].reverse().find(m => m.role === 'assistant' && str(m.content));
}

/**
 * How a folded branch is named, by where it diverges from the turn the path takes there
 * (`continuing`, or none past the HEAD): the same words as tree_view.py::fork_label.
 */
export function forkLabel(start: { number: number; question: string; answer: string }, continuing?: { question: string } | null): string {
  const n = start.number;
  const answer = start.answer ? `: “${start.answer}”` : '';
  if (!start.question) {
    return `another answer to turn ${n}${answer}`;
  }
  if (continuing && continuing.question === start.question) {
    return start.answer ? `another answer to turn ${n}${answer}` : `a re-run of turn ${n}`;
  }
  if (!continuing) {
    return `continues at turn ${n}: “${start.question}”`;
  }
  return `another question at turn ${n}: “${start.question}”`;
}

// ---------------------------------------------------------------------------------------
// The tree

export interface TreeOptions {
  /** Branch heads (a session's `heads`, or every head of a family), labelled in the tree. */
  heads?: (string | null)[];
  /** Labels of `heads` by index (default "branch N"). */
  headLabels?: string[];
  /** The focused session's current message: its turn says HEAD. */
  currentHead?: string | null;
  /** The path drawn as the main column; defaults to `currentHead`. */
  focusHead?: string | null;
  /** The selected turn (its last message id): marked, and the blocks on its path open. */
  selected?: string | null;
  /** Start turns of the folded branches the reader opened: kept open across redraws (updated here). */
  open?: Set<string>;
  /** Row texts by turn id (from a tree payload); other turns are previewed through `md`. */
  rows?: Map<string, TurnRow>;
  /** Renders plain previews for turns without `rows` (a session export). */
  md?: MarkdownQueue;
  /** Called with a turn's last message id when the turn is chosen (click, Enter). */
  onSelect?: (messageId: string) => void;
  /** Linear runs of more turns than this show their ends and "show N more" in between. */
  maxRun?: number;
}

const RUN_HEAD = 3;
const RUN_TAIL = 30;

/**
 * The fork tree of `tree` into `el` (replacing what was there); returns the turn tree so
 * a caller can look turns up.
 */
export function renderTree(el: HTMLElement, tree: MessageTree, options: TreeOptions = {}): TurnTree {
  const doc = el.ownerDocument;
  clear(el);
  const heads = options.heads ?? [];
  const headLabel = (index: number): string => options.headLabels?.[index] ?? `branch ${index + 1}`;
  const turns = buildTurnTree(tree, heads);
  const headIndex = new Map<TurnNode, number[]>();
  heads.forEach((head, index) => {
    const t = typeof head === 'string' ? turns.turnOf.get(head) : undefined;
    if (t) {
      const list = headIndex.get(t);
      if (list) {
        list.push(index);
      } else {
        headIndex.set(t, [index]);
      }
    }
  });
  const currentHead = options.currentHead ?? null;
  const currentTurn = currentHead !== null ? turns.turnOf.get(currentHead) : undefined;
  const focus = options.focusHead === undefined ? currentHead : options.focusHead;
  const onPath = pathIds(tree, focus);
  const headTurn = focus !== null && focus !== undefined ? turns.turnOf.get(focus) : undefined;
  const selectedTurn = options.selected ? turns.turnOf.get(options.selected) : undefined;
  // Blocks holding the selected turn open, and at their forks the way to it continues.
  const guide = new Set<TurnNode>();
  for (let t = selectedTurn; t; t = t.parent ?? undefined) {
    guide.add(t);
  }
  const open = options.open ?? new Set<string>();
  const pinned = new Set<TurnNode>([...headIndex.keys()]);
  for (const t of [currentTurn, selectedTurn]) {
    if (t) {
      pinned.add(t);
    }
  }
  const maxRun = Math.max(RUN_HEAD + RUN_TAIL + 1, options.maxRun ?? 80);
  const rowText = (t: TurnNode): { question: string; answer: string } => {
    const given = options.rows?.get(t.id);
    return {
      question: given ? str(given.question) : preview(questionOf(t)?.content, ROW_LIMIT),
      answer: given ? str(given.answer) : preview(answerOf(t)?.content, ROW_LIMIT)
    };
  };

  const root = h(doc, 'div', { class: 'vel-ft', role: 'tree', 'aria-label': 'fork tree: turns and their branches' });

  const row = (t: TurnNode, level: number): HTMLElement => {
    const first = t.messages[0];
    const classes = ['vel-ft-node', `vel-role-${roleClass(first.role)}`];
    if (onPath.has(first.id)) {
      classes.push('vel-ft-onpath');
    }
    if (t === currentTurn) {
      classes.push('vel-ft-current');
    }
    if (t === selectedTurn) {
      classes.push('vel-ft-selected');
    }
    const question = questionOf(t);
    const r = h(doc, 'div', {
      class: classes.join(' '),
      'data-id': t.last,
      'data-turn': t.id,
      role: 'treeitem',
      tabindex: '-1',
      'aria-level': String(level),
      'aria-selected': t === selectedTurn ? 'true' : 'false',
      title: question ? preview(question.content, 400) : 'another answer to the question above'
    });
    r.appendChild(h(doc, 'span', { class: 'vel-ft-num', 'aria-label': `turn ${t.number}` }, String(t.number || '')));
    const text = h(doc, 'span', { class: 'vel-ft-text' });
    const q = h(doc, 'span', { class: 'vel-ft-q' });
    const a = h(doc, 'span', { class: 'vel-ft-a' });
    const given = options.rows?.get(t.id);
    if (given) {
      q.textContent = str(given.question);
      a.textContent = str(given.answer);
    } else {
      if (question && options.md) {
        options.md.fillPlain(q, str(question.content), ROW_LIMIT);
      } else {
        q.textContent = question ? preview(question.content, ROW_LIMIT) : '';
      }
      const answer = answerOf(t);
      if (answer && options.md) {
        options.md.fillPlain(a, str(answer.content), ROW_LIMIT);
      } else {
        a.textContent = answer ? preview(answer.content, ROW_LIMIT) : '';
      }
    }
    if (!question) {
      q.textContent = '(another answer)';
      addClass(q, 'vel-ft-muted');
    }
    const calls = t.messages.reduce((n, m) => n + (Array.isArray(m.tool_calls) ? m.tool_calls.length : 0), 0);
    if (!a.textContent && calls) {
      a.textContent = `${calls} tool call${calls > 1 ? 's' : ''}`;
    }
    text.appendChild(q);
    text.appendChild(a);
    r.appendChild(text);
    const side = h(doc, 'span', { class: 'vel-ft-side' });
    for (const index of headIndex.get(t) ?? []) {
      side.appendChild(h(doc, 'span', { class: 'vel-head-label' }, headLabel(index)));
    }
    if (t === currentTurn) {
      side.appendChild(h(doc, 'span', { class: 'vel-head-label vel-head-current', title: 'where the session continues from' }, 'HEAD'));
    }
    if (t.tokens) {
      side.appendChild(h(doc, 'span', { class: 'vel-ft-tokens' }, `${formatCount(t.tokens)} tok`));
    }
    r.appendChild(side);
    return r;
  };

  /** A chain of turns from `start` down; at a fork the way on (`ways`) continues, the rest fold. */
  const renderChain = (
    container: HTMLElement,
    start: TurnNode,
    level: number,
    ways: (t: TurnNode) => boolean,
    pending: HTMLElement | null = null
  ): void => {
    let t: TurnNode | undefined = start;
    let folds = pending; // the other branches of a fork, shown after the row of the way taken
    while (t) {
      const run: TurnNode[] = [t];
      let last: TurnNode = t;
      while (last.children.length === 1 && last !== headTurn) {
        last = last.children[0];
        run.push(last);
      }
      container.appendChild(renderRun(run, level, folds));
      folds = null;
      // A fork folds the ways not taken; past HEAD every way folds (the column is HEAD's path).
      if (last.children.length > 1 || (last === headTurn && last.children.length)) {
        const continuing = last.children.find(ways);
        folds = forkBlocks(last.children.filter(c => c !== continuing), continuing, level);
        if (!continuing) {
          container.appendChild(folds);
        }
        t = continuing;
      } else {
        t = undefined;
      }
    }
  };

  const forkBlocks = (starts: TurnNode[], continuing: TurnNode | undefined, level: number): HTMLElement => {
    const group = h(doc, 'div', { class: 'vel-ft-fork', role: 'group' });
    const reference = continuing ? { question: rowText(continuing).question } : null;
    for (const start of starts) {
      group.appendChild(branchBlock(start, reference, level));
    }
    return group;
  };

  const renderRun = (run: TurnNode[], level: number, folds: HTMLElement | null): HTMLElement => {
    const list = h(doc, 'div', { class: 'vel-ft-run', role: 'group' });
    // Which rows show: the ends of a long run, and every pinned turn (HEAD, heads, the
    // selection); each gap becomes a "show N more" button that builds its rows on demand.
    const shown = run.map((t, i) => run.length <= maxRun || i < RUN_HEAD || i >= run.length - RUN_TAIL || pinned.has(t));
    let i = 0;
    while (i < run.length) {
      if (shown[i]) {
        list.appendChild(row(run[i], level));
        if (i === 0 && folds) {
          list.appendChild(folds);
        }
        i++;
        continue;
      }
      const gapStart = i;
      while (i < run.length && !shown[i]) {
        i++;
      }
      const hidden = run.slice(gapStart, i);
      const more = h(doc, 'button', { class: 'vel-ft-more', type: 'button', tabindex: '-1' }, `⋯ show ${formatCount(hidden.length)} more turns`);
      more.addEventListener('click', () => {
        const rows = hidden.map(t => row(t, level));
        const frag = doc.createDocumentFragment();
        for (const r of rows) {
          frag.appendChild(r);
        }
        const keyboard = more.getAttribute('tabindex') === '0';
        list.replaceChild(frag, more);
        if (keyboard) {
          focusItem(rows[0]); // the reader was on the button: stay where it was
        }
      });
      list.appendChild(more);
    }
    return list;
  };

  /** A folded branch; its rows are built the first time it is opened. */
  const branchBlock = (start: TurnNode, continuing: { question: string } | null, level: number): HTMLElement => {
    const block = h(doc, 'div', { class: 'vel-ft-branch', 'data-start': start.id });
    const text = rowText(start);
    const labels = [...new Set(turns.headsBelow(start).map(headLabel))];
    const isOpen = open.has(start.id) || guide.has(start);
    const toggle = h(doc, 'button', {
      class: 'vel-ft-toggle',
      type: 'button',
      tabindex: '-1',
      'aria-expanded': String(isOpen),
      'data-start': start.id
    });
    const caret = h(doc, 'span', { class: 'vel-ft-caret', 'aria-hidden': 'true' }, isOpen ? '▾' : '▸');
    toggle.appendChild(caret);
    toggle.appendChild(h(doc, 'span', { class: 'vel-ft-toggle-label' }, forkLabel({ number: start.number, ...text }, continuing)));
    toggle.appendChild(
      h(
        doc,
        'span',
        { class: 'vel-ft-toggle-info' },
        `${formatCount(start.size)} turn${start.size === 1 ? '' : 's'}` + (labels.length ? ` · ${labels.join(', ')}` : '')
      )
    );
    const body = h(doc, 'div', { class: 'vel-ft-body', role: 'group' });
    body.hidden = !isOpen;
    let built = false;
    const build = () => {
      if (!built) {
        renderChain(body, start, level + 1, t => guide.has(t));
        built = true;
      }
    };
    if (isOpen) {
      build();
    }
    toggle.addEventListener('click', () => {
      const now = toggle.getAttribute('aria-expanded') !== 'true';
      if (now) {
        build();
        open.add(start.id);
      } else {
        open.delete(start.id);
      }
      body.hidden = !now;
      toggle.setAttribute('aria-expanded', String(now));
      caret.textContent = now ? '▾' : '▸';
    });
    block.appendChild(toggle);
    block.appendChild(body);
    return block;
  };

  if (!turns.roots.length) {
    root.appendChild(h(doc, 'div', { class: 'vel-empty' }, '(no messages)'));
  } else {
    const main = (t: TurnNode) => onPath.has(t.id);
    const first = turns.roots.length === 1 ? turns.roots[0] : turns.roots.find(main);
    const folds = turns.roots.length > 1 ? forkBlocks(turns.roots.filter(r => r !== first), first, 1) : null;
    if (first) {
      renderChain(root, first, 1, main, folds);
    } else if (folds) {
      root.appendChild(folds);
    }
  }

  // -- keyboard: one tab stop (the selected row, else HEAD, else the first); arrows move --
  const items = (): HTMLElement[] =>
    Array.from(root.querySelectorAll('.vel-ft-node, .vel-ft-toggle, .vel-ft-more') as ArrayLike<HTMLElement>).filter(
      item => !hiddenInside(item, root)
    );
  const focusItem = (item: HTMLElement | null): void => {
    if (!item) {
      return;
    }
    for (const other of Array.from(root.querySelectorAll('[tabindex="0"]') as ArrayLike<HTMLElement>)) {
      other.setAttribute('tabindex', '-1');
    }
    item.setAttribute('tabindex', '0');
    item.focus?.();
  };
  const stop =
    (root.querySelectorAll('.vel-ft-selected')[0] as HTMLElement | undefined) ??
    (root.querySelectorAll('.vel-ft-current')[0] as HTMLElement | undefined) ??
    items()[0];
  stop?.setAttribute('tabindex', '0');

  root.addEventListener('click', (event: Event) => {
    const target = event.target as HTMLElement | null;
    const nodeEl = target?.closest?.('.vel-ft-node') as HTMLElement | null;
    const id = nodeEl?.getAttribute('data-id');
    if (nodeEl && id) {
      focusItem(nodeEl);
      options.onSelect?.(id);
    }
  });
  root.addEventListener('keydown', (event: Event) => {
    const key = (event as KeyboardEvent).key;
    const target = event.target as HTMLElement | null;
    if (!target) {
      return;
    }
    const list = items();
    const at = list.indexOf(target);
    if (at < 0) {
      return;
    }
    const isToggle = target.classList.contains('vel-ft-toggle');
    const expanded = target.getAttribute('aria-expanded') === 'true';
    let handled = true;
    if (key === 'ArrowDown') {
      focusItem(list[at + 1] ?? null);
    } else if (key === 'ArrowUp') {
      focusItem(list[at - 1] ?? null);
    } else if (key === 'Home') {
      focusItem(list[0] ?? null);
    } else if (key === 'End') {
      focusItem(list[list.length - 1] ?? null);
    } else if (key === 'ArrowRight' && isToggle) {
      if (!expanded) {
        target.click();
      } else {
        focusItem(items()[at + 1] ?? null);
      }
    } else if (key === 'ArrowLeft') {
      if (isToggle && expanded) {
        target.click();
      } else {
        // Up to the toggle of the block this item is in.
        const block = target.parentElement?.closest?.('.vel-ft-branch') as HTMLElement | null;
        const toggle = (block?.querySelectorAll('.vel-ft-toggle')[0] as HTMLElement | undefined) ?? null;
        focusItem(toggle && toggle !== target ? toggle : null);
      }
    } else if (key === 'Enter' || key === ' ') {
      if (target.classList.contains('vel-ft-node')) {
        const id = target.getAttribute('data-id');
        if (id) {
          options.onSelect?.(id);
        }
      } else {
        target.click();
      }
    } else {
      handled = false;
    }
    if (handled) {
      event.preventDefault();
    }
  });
  el.appendChild(root);
  return turns;
}

/** Whether `item` sits in a folded block (not shown) below `root`. */
function hiddenInside(item: HTMLElement, root: HTMLElement): boolean {
  for (let n: HTMLElement | null = item.parentElement; n && n !== root; n = n.parentElement) {
    if (n.hidden) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// The tree view: `%chat tree` outputs, the widget, saved trees

/** "fam · branch 1", "fam-fork (detached)": how the tree labels a session's head (branches count from 1, as everywhere). */
export function treeHeadLabel(head: TreeStateHead): string {
  const branch = num(head.branch);
  return str(head.session_id) + (branch === null ? ' (detached)' : ` · branch ${branch + 1}`);
}

/** "fork tree · 5 turns · 2 sessions". */
export function treeStats(data: TreeStatePayload): string {
  const count = (n: number, noun: string) => `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`;
  return `fork tree · ${count(data.turns.length, 'turn')} · ${count(data.sessions.length, 'session')}`;
}

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
 * A tree payload as `renderTree` input: the message tree, every session's heads labelled
 * by session (the focused session's current one says HEAD instead), its row texts.
 */
export function treeStateView(data: TreeStatePayload, focus = str(data.focus)): { tree: MessageTree; options: TreeOptions & { currentHead: string | null } } {
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
  return {
    tree: buildTree(data.turns.flatMap(t => t.messages)),
    options: {
      heads,
      // A session with one branch is named alone; otherwise which branch of it.
      headLabels: labelled.map(hd => ((branches.get(str(hd.session_id)) ?? 0) > 1 ? treeHeadLabel(hd) : str(hd.session_id))),
      currentHead: headMessage(currentHeads(data).get(focus)),
      rows
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
  if (state.selected !== null && !view.tree.byId.has(state.selected)) {
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
      h(doc, 'span', { class: 'vel-tree-session-where' }, head ? (number ? `turn ${number}` : 'HEAD') : 'empty')
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

  const turns = renderTree(treeHost, view.tree, {
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

  const onFocusPath = () => pathIds(view.tree, view.options.currentHead);

  function showDetail(): void {
    clear(detail);
    const turn = state.selected ? turns.turnOf.get(state.selected) : undefined;
    if (!turn) {
      detail.appendChild(h(doc, 'div', { class: 'vel-tree-hint' }, 'Click a turn (or use the arrow keys and Enter) to read it, continue from it or fork it.'));
      appendStatus();
      return;
    }
    const where = onFocusPath().has(turn.last) ? `on ${focus}'s path` : `not on ${focus}'s current path`;
    detail.appendChild(h(doc, 'div', { class: 'vel-tree-detail-head' }, `Turn ${turn.number} · ${where}`));
    detail.appendChild(renderTranscript(doc, turn.messages, 50, md));
    detail.appendChild(actionsBar(turn.last, turn.number));
    appendStatus();
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
