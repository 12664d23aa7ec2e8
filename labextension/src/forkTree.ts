/**
 * The fork tree: every branch and fork of a session family, one turn per row.
 *
 * The focused path (the session's HEAD) is one flat column; at a fork, the other
 * continuations fold into a block named by where they diverge ("another answer to turn 2:
 * …", "another question at turn 3: …"). Blocks build their rows when first opened and long
 * runs show their ends, so 1,000 turns cost a few dozen rows until the reader asks for more.
 * Rows are a tree for the keyboard (./forkTreeKeys). The turns come from ./turns.
 *
 * As everywhere: payload text only ever becomes text nodes; Markdown goes through the hook.
 */
import { addClass, clear, h } from './dom';
import { treeKeyboard } from './forkTreeKeys';
import { MarkdownQueue } from './markdownQueue';
import { MessageData, str } from './payload';
import { FORK_LABELS, ForkLabels, forkLabel, formatCount, preview } from './texts';
import { roleClass } from './transcript';
import { TurnNode, TurnTree } from './turns';

/** What a row shows of a turn: the question and the answer, one plain line each. */
export interface TurnRow {
  question?: string;
  answer?: string;
}

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
  /** The words of folded branches' labels (a tree payload's; default FORK_LABELS). */
  forkLabels?: ForkLabels;
  /** Renders plain previews for turns without `rows` (a session export). */
  md?: MarkdownQueue;
  /** Called with a turn's last message id when the turn is chosen (click, Enter). */
  onSelect?: (messageId: string) => void;
  /** Linear runs of more turns than this show their ends and "show N more" in between. */
  maxRun?: number;
}

const ROW_LIMIT = 160;
const RUN_HEAD = 3;
const RUN_TAIL = 30;

function questionOf(t: TurnNode): MessageData | undefined {
  const first = t.messages[0];
  return first && first.role === 'user' ? first : undefined;
}

function answerOf(t: TurnNode): MessageData | undefined {
  return [...t.messages].reverse().find(m => m.role === 'assistant' && str(m.content));
}

/** The turns from `turn` up to its root. */
function lineOf(turn: TurnNode | undefined): Set<TurnNode> {
  const out = new Set<TurnNode>();
  for (let t = turn; t; t = t.parent ?? undefined) {
    out.add(t);
  }
  return out;
}

/** The fork tree of `turns` into `el` (replacing what was there). */
export function renderTree(el: HTMLElement, turns: TurnTree, options: TreeOptions = {}): void {
  clear(el);
  const tree = new ForkTree(el.ownerDocument, turns, options);
  const root = tree.build();
  tree.focusItem = treeKeyboard(root, options.onSelect);
  el.appendChild(root);
}

/** One drawing of the tree: what it marks, and how it builds rows, runs and folded blocks. */
class ForkTree {
  constructor(
    private doc: Document,
    private turns: TurnTree,
    private options: TreeOptions
  ) {
    const heads = options.heads ?? [];
    heads.forEach((head, index) => {
      const t = typeof head === 'string' ? turns.turnOf.get(head) : undefined;
      if (t) {
        this.headIndex.set(t, [...(this.headIndex.get(t) ?? []), index]);
      }
    });
    const currentHead = options.currentHead ?? null;
    this.currentTurn = currentHead !== null ? turns.turnOf.get(currentHead) : undefined;
    const focus = options.focusHead === undefined ? currentHead : options.focusHead;
    this.headTurn = typeof focus === 'string' ? turns.turnOf.get(focus) : undefined;
    this.onPath = lineOf(this.headTurn);
    this.selectedTurn = options.selected ? turns.turnOf.get(options.selected) : undefined;
    // Blocks holding the selected turn open, and at their forks the way to it continues.
    this.guide = lineOf(this.selectedTurn);
    this.open = options.open ?? new Set<string>();
    this.pinned = new Set<TurnNode>([...this.headIndex.keys()]);
    for (const t of [this.currentTurn, this.selectedTurn]) {
      if (t) {
        this.pinned.add(t);
      }
    }
    this.maxRun = Math.max(RUN_HEAD + RUN_TAIL + 1, options.maxRun ?? 80);
  }

  build(): HTMLElement {
    const root = h(this.doc, 'div', { class: 'vel-ft', role: 'tree', 'aria-label': 'fork tree: turns and their branches' });
    const roots = this.turns.roots;
    if (!roots.length) {
      root.appendChild(h(this.doc, 'div', { class: 'vel-empty' }, '(no messages)'));
      return root;
    }
    const main = (t: TurnNode) => this.onPath.has(t);
    const first = roots.length === 1 ? roots[0] : roots.find(main);
    const folds = roots.length > 1 ? this.forkBlocks(roots.filter(r => r !== first), first, 1) : null;
    if (first) {
      this.chain(root, first, 1, main, folds);
    } else if (folds) {
      root.appendChild(folds);
    }
    scrollToCurrent(root);
    return root;
  }

  private headLabel(index: number): string {
    return this.options.headLabels?.[index] ?? `branch ${index + 1}`;
  }

  private rowText(t: TurnNode): { question: string; answer: string } {
    const given = this.options.rows?.get(t.id);
    return {
      question: given ? str(given.question) : preview(questionOf(t)?.content, ROW_LIMIT),
      answer: given ? str(given.answer) : preview(answerOf(t)?.content, ROW_LIMIT)
    };
  }

  private row(t: TurnNode, level: number): HTMLElement {
    const doc = this.doc;
    const first = t.messages[0];
    const classes = ['vel-ft-node', `vel-role-${roleClass(first.role)}`];
    if (this.onPath.has(t)) {
      classes.push('vel-ft-onpath');
    }
    if (t === this.currentTurn) {
      classes.push('vel-ft-current');
    }
    if (t === this.selectedTurn) {
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
      'aria-selected': t === this.selectedTurn ? 'true' : 'false',
      title: question ? preview(question.content, 400) : 'another answer to the question above'
    });
    r.appendChild(h(doc, 'span', { class: 'vel-ft-num', 'aria-label': `turn ${t.number}` }, String(t.number || '')));
    const q = h(doc, 'span', { class: 'vel-ft-q' });
    const a = h(doc, 'span', { class: 'vel-ft-a' });
    const given = this.options.rows?.get(t.id);
    const md = this.options.md;
    if (given) {
      q.textContent = str(given.question);
      a.textContent = str(given.answer);
    } else {
      const answer = answerOf(t);
      for (const [span, message] of [
        [q, question],
        [a, answer]
      ] as const) {
        if (message && md) {
          md.fillPlain(span, str(message.content), ROW_LIMIT);
        } else {
          span.textContent = message ? preview(message.content, ROW_LIMIT) : '';
        }
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
    r.appendChild(h(doc, 'span', { class: 'vel-ft-text' }, q, a));
    const side = h(doc, 'span', { class: 'vel-ft-side' });
    for (const index of this.headIndex.get(t) ?? []) {
      side.appendChild(h(doc, 'span', { class: 'vel-head-label' }, this.headLabel(index)));
    }
    if (t === this.currentTurn) {
      side.appendChild(h(doc, 'span', { class: 'vel-head-label vel-head-current', title: 'where the session continues from' }, 'current'));
    }
    const usage = turnUsage(t);
    if (usage) {
      side.appendChild(h(doc, 'span', { class: 'vel-ft-tokens', title: "tokens sent → tokens of the turn's answers" }, usage));
    }
    r.appendChild(side);
    return r;
  }

  /** A chain of turns from `start` down; at a fork the way on (`ways`) continues, the rest fold. */
  private chain(container: HTMLElement, start: TurnNode, level: number, ways: (t: TurnNode) => boolean, pending: HTMLElement | null = null): void {
    let t: TurnNode | undefined = start;
    let folds = pending; // the other branches of a fork, shown after the row of the way taken
    while (t) {
      const run: TurnNode[] = [t];
      let last: TurnNode = t;
      while (last.children.length === 1 && last !== this.headTurn) {
        last = last.children[0];
        run.push(last);
      }
      container.appendChild(this.run(run, level, folds));
      folds = null;
      // A fork folds the ways not taken; past HEAD every way folds (the column is HEAD's path).
      if (last.children.length > 1 || (last === this.headTurn && last.children.length)) {
        const continuing = last.children.find(ways);
        folds = this.forkBlocks(last.children.filter(c => c !== continuing), continuing, level);
        if (!continuing) {
          container.appendChild(folds);
        }
        t = continuing;
      } else {
        t = undefined;
      }
    }
  }

  private forkBlocks(starts: TurnNode[], continuing: TurnNode | undefined, level: number): HTMLElement {
    const group = h(this.doc, 'div', { class: 'vel-ft-fork', role: 'group' });
    const reference = continuing ? { question: this.rowText(continuing).question } : null;
    for (const start of starts) {
      group.appendChild(this.branchBlock(start, reference, level));
    }
    return group;
  }

  /** A run of turns: the ends of a long one, every pinned turn (HEAD, heads, the selection); each gap a "show N more". */
  private run(run: TurnNode[], level: number, folds: HTMLElement | null): HTMLElement {
    const doc = this.doc;
    const list = h(doc, 'div', { class: 'vel-ft-run', role: 'group' });
    const shown = run.map((t, i) => run.length <= this.maxRun || i < RUN_HEAD || i >= run.length - RUN_TAIL || this.pinned.has(t));
    let i = 0;
    while (i < run.length) {
      if (shown[i]) {
        list.appendChild(this.row(run[i], level));
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
      const more = h(doc, 'button', { class: 'vel-ft-more', type: 'button', tabindex: '-1' }, `⋯ show ${formatCount(hidden.length)} more turn${hidden.length === 1 ? '' : 's'}`);
      more.addEventListener('click', () => {
        const rows = hidden.map(t => this.row(t, level));
        const frag = doc.createDocumentFragment();
        for (const r of rows) {
          frag.appendChild(r);
        }
        const keyboard = more.getAttribute('tabindex') === '0';
        list.replaceChild(frag, more);
        if (keyboard) {
          this.focusItem(rows[0]); // the reader was on the button: stay where it was
        }
      });
      list.appendChild(more);
    }
    return list;
  }

  /** A folded branch; its rows are built the first time it is opened. */
  private branchBlock(start: TurnNode, continuing: { question: string } | null, level: number): HTMLElement {
    const doc = this.doc;
    const block = h(doc, 'div', { class: 'vel-ft-branch', 'data-start': start.id });
    const labels = [...new Set(this.turns.headsBelow(start).map(i => this.headLabel(i)))];
    const isOpen = this.open.has(start.id) || this.guide.has(start);
    const toggle = h(doc, 'button', { class: 'vel-ft-toggle', type: 'button', tabindex: '-1', 'aria-expanded': String(isOpen), 'data-start': start.id });
    const caret = h(doc, 'span', { class: 'vel-ft-caret', 'aria-hidden': 'true' }, isOpen ? '▾' : '▸');
    toggle.appendChild(caret);
    const label = forkLabel({ number: start.number, ...this.rowText(start) }, continuing, this.options.forkLabels ?? FORK_LABELS);
    toggle.appendChild(h(doc, 'span', { class: 'vel-ft-toggle-label' }, label));
    const info = `${formatCount(start.size)} turn${start.size === 1 ? '' : 's'}` + (labels.length ? ` · ${labels.join(', ')}` : '');
    toggle.appendChild(h(doc, 'span', { class: 'vel-ft-toggle-info' }, info));
    const body = h(doc, 'div', { class: 'vel-ft-body', role: 'group' });
    body.hidden = !isOpen;
    let built = false;
    const build = () => {
      if (!built) {
        this.chain(body, start, level + 1, t => this.guide.has(t));
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
        this.open.add(start.id);
      } else {
        this.open.delete(start.id);
      }
      body.hidden = !now;
      toggle.setAttribute('aria-expanded', String(now));
      caret.textContent = now ? '▾' : '▸';
    });
    block.appendChild(toggle);
    block.appendChild(body);
    return block;
  }

  /** Moves the tree's one tab stop (set once the keyboard is wired: ./forkTreeKeys). */
  focusItem: (item: HTMLElement | null) => void = () => undefined;
  private headIndex = new Map<TurnNode, number[]>();
  private currentTurn: TurnNode | undefined;
  private headTurn: TurnNode | undefined;
  private onPath: Set<TurnNode>;
  private selectedTurn: TurnNode | undefined;
  private guide: Set<TurnNode>;
  private open: Set<string>;
  private pinned: Set<TurnNode>;
  private maxRun: number;
}

/** "12 → 85 tokens": a turn's prompt and completion tokens (its answers' usage summed), or ''. */
export function turnUsage(t: TurnNode): string {
  let prompt = 0;
  let completion = 0;
  for (const m of t.messages) {
    const meta = m.meta as { prompt_tokens?: unknown; completion_tokens?: unknown } | null | undefined;
    prompt += typeof meta?.prompt_tokens === 'number' ? meta.prompt_tokens : 0;
    completion += typeof meta?.completion_tokens === 'number' ? meta.completion_tokens : 0;
  }
  return prompt || completion ? `${formatCount(prompt)} → ${formatCount(completion)} tokens` : '';
}

/**
 * A tree taller than its box opens scrolled to the current turn (a long conversation opened at
 * turn 1 with the turn that matters out of sight), once it is laid out; the page does not move.
 */
function scrollToCurrent(root: HTMLElement): void {
  const win = root.ownerDocument.defaultView;
  if (!win || typeof win.requestAnimationFrame !== 'function') {
    return;
  }
  win.requestAnimationFrame(() => {
    const row = root.querySelector('.vel-ft-current') as HTMLElement | null;
    if (row && root.scrollHeight > root.clientHeight) {
      root.scrollTop = Math.max(0, row.offsetTop - root.clientHeight / 3);
    }
  });
}
