/**
 * The `%chat export` session view: header, branch navigation, the fork tree (collapsible)
 * and the transcript of the chosen branch.
 */
import { clear, h } from './dom';
import { renderTree } from './forkTree';
import { MarkdownQueue, RenderOptions, swapIn } from './markdownQueue';
import { MessageTree, TreeNode, buildTree, pathIds, pathTo } from './messages';
import { MessageData, SessionPayload, isObject, num, str } from './payload';
import { formatCount, preview } from './texts';
import { renderTranscript } from './transcript';
import { groupTurns } from './turns';

export interface SessionOptions extends RenderOptions {
  /** Messages of a long transcript shown at first (default 50); earlier ones load on demand. */
  transcriptWindow?: number;
  /** Whether the fork tree panel starts open (default: only when there are several branches). */
  treeOpen?: boolean;
}

function headsOf(data: SessionPayload): (string | null)[] {
  return Array.isArray(data.heads) ? data.heads.map(x => (typeof x === 'string' ? x : null)) : [];
}

export interface BranchChoice {
  /** Index into `heads`, or -1 for a head that is not one of the branches. */
  index: number;
  head: string | null;
  label: string;
  current: boolean;
  length: number;
}

/** The branches a session view can switch between (plus a detached head, if any). */
export function branchChoices(session: SessionPayload, tree: MessageTree): BranchChoice[] {
  const heads = Array.isArray(session.heads) ? session.heads : [];
  const head = typeof session.head === 'string' ? session.head : null;
  const current = num(session.current);
  const paths = pathFacts(tree);
  const facts = (id: string | null) => (id === null ? undefined : paths.get(id));
  const choices: BranchChoice[] = heads.map((h, index) => {
    const id = typeof h === 'string' ? h : null;
    const path = facts(id);
    return {
      index,
      head: id,
      label: `branch ${index + 1}: ${path?.said ? preview(path.said.content, 50) : '(empty)'}`,
      current: index === current && id === head,
      length: path?.length ?? 0
    };
  });
  if (!choices.some(c => c.current) && (head !== null || !choices.length)) {
    const path = facts(head);
    choices.push({
      index: -1,
      head,
      label: `detached head: ${path?.said ? preview(path.said.content, 50) : '(empty)'}`,
      current: true,
      length: path?.length ?? 0
    });
  }
  return choices;
}

/**
 * For every message: the length of its path from the root and the last message with text
 * on it, in one walk down the tree, so labelling heads costs O(n), not heads × depth.
 */
function pathFacts(tree: MessageTree): Map<string, { length: number; said?: MessageData }> {
  const out = new Map<string, { length: number; said?: MessageData }>();
  const stack: TreeNode[] = [...tree.roots];
  while (stack.length) {
    const node = stack.pop()!;
    const above = node.parent ? out.get(node.parent.message.id) : undefined;
    const said = str(node.message.content) ? node.message : above?.said;
    out.set(node.message.id, { length: (above?.length ?? 0) + 1, said });
    for (const child of node.children) {
      stack.push(child);
    }
  }
  return out;
}

/**
 * A whole session: header, branch navigation, the fork tree (collapsible) and the
 * transcript of the chosen branch. Switching branches or clicking a turn changes what is
 * shown (reading only: a `%chat export` is a record, `%chat checkout` moves the session).
 */
export function renderSession(el: HTMLElement, data: SessionPayload, options: SessionOptions = {}): Promise<void> {
  return swapIn(el, options, md => buildSession(el.ownerDocument, data, options, md));
}

function buildSession(doc: Document, data: SessionPayload, options: SessionOptions, md: MarkdownQueue): HTMLElement {
  const heads = headsOf(data);
  const tree = buildTree(data.messages);
  const choices = branchChoices(data, tree);
  const currentHead = typeof data.head === 'string' ? data.head : null;
  let selected = Math.max(0, choices.findIndex(c => c.current));
  let shownHead: string | null = choices[selected]?.head ?? currentHead;

  const root = h(doc, 'div', { class: 'vel-root vel-session', 'data-session': str(data.session_id) });

  // Header
  const header = h(doc, 'div', { class: 'vel-session-header' });
  header.appendChild(h(doc, 'span', { class: 'vel-session-id' }, str(data.session_id) || '(unnamed session)'));
  const branchCount = heads.length;
  header.appendChild(
    h(
      doc,
      'span',
      { class: 'vel-session-stats' },
      `${formatCount(data.messages.length)} messages · ${formatCount(branchCount)} branch${branchCount === 1 ? '' : 'es'}`
    )
  );
  const forked = isObject(data.forked_from) ? data.forked_from : null;
  if (forked && forked.session_id) {
    header.appendChild(h(doc, 'span', { class: 'vel-session-forked' }, `forked from ${str(forked.session_id)}`));
  }
  root.appendChild(header);
  if (data.system) {
    root.appendChild(
      h(
        doc,
        'details',
        { class: 'vel-system' },
        h(doc, 'summary', {}, `System: ${preview(data.system, 80)}`),
        h(doc, 'div', { class: 'vel-msg-content' }, str(data.system))
      )
    );
  }

  // Branch navigation
  const nav = h(doc, 'div', { class: 'vel-branch-nav' });
  const prev = h(doc, 'button', { class: 'vel-branch-prev', type: 'button', title: 'previous branch', 'aria-label': 'previous branch' }, '‹');
  const next = h(doc, 'button', { class: 'vel-branch-next', type: 'button', title: 'next branch', 'aria-label': 'next branch' }, '›');
  const select = h(doc, 'select', { class: 'vel-branch-select', 'aria-label': 'branch' }) as HTMLSelectElement;
  choices.forEach((choice, i) => {
    select.appendChild(
      h(doc, 'option', { value: String(i) }, choice.label + (choice.current ? ' (current)' : ''))
    );
  });
  const marker = h(doc, 'span', { class: 'vel-branch-marker' });
  nav.appendChild(prev);
  nav.appendChild(select);
  nav.appendChild(next);
  nav.appendChild(marker);
  root.appendChild(nav);

  const transcriptHost = h(doc, 'div', { class: 'vel-transcript-host' });

  const treePanel = h(doc, 'details', { class: 'vel-ft-panel' }) as HTMLDetailsElement;
  const treeSummary = h(
    doc,
    'summary',
    {},
    `Fork tree (${formatCount(data.messages.length)} messages, ${formatCount(branchCount)} branch${branchCount === 1 ? '' : 'es'})`
  );
  treePanel.appendChild(treeSummary);
  const treeHost = h(doc, 'div', { class: 'vel-ft-host' });
  treePanel.appendChild(treeHost);
  root.appendChild(treePanel);
  root.appendChild(transcriptHost);

  const showPath = (head: string | null, label: string) => {
    clear(transcriptHost);
    transcriptHost.appendChild(renderTranscript(doc, pathTo(tree, head), options.transcriptWindow ?? 50, md));
    marker.textContent = label;
  };
  let treeBuilt = false;
  const open = new Set<string>(); // folded branches the reader opened, kept across redraws
  const drawTree = () => {
    renderTree(treeHost, groupTurns(tree, heads), {
      heads,
      currentHead,
      focusHead: shownHead,
      selected: shownHead,
      open,
      md,
      onSelect: id => {
        shownHead = id;
        const choice = choices.findIndex(c => c.head === id);
        if (choice >= 0) {
          choose(choice);
        } else {
          showPath(id, 'selected turn (not a branch head)');
          markTree();
        }
      }
    });
    treeBuilt = true;
  };
  const markTree = () => {
    // Re-mark the path shown without rebuilding the tree.
    const ids = pathIds(tree, shownHead);
    treeHost.querySelectorAll?.('.vel-ft-node').forEach(n => {
      n.classList.toggle('vel-ft-onpath', ids.has(n.getAttribute('data-turn') ?? ''));
    });
  };
  const choose = (i: number) => {
    if (!choices.length) {
      showPath(currentHead, '');
      return;
    }
    selected = (i + choices.length) % choices.length;
    const choice = choices[selected];
    shownHead = choice.head;
    select.value = String(selected);
    const position = choice.index >= 0 ? `branch ${choice.index + 1} of ${branchCount}` : 'detached head';
    showPath(choice.head, position + (choice.current ? ' (current)' : ''));
    (prev as HTMLButtonElement).disabled = choices.length < 2;
    (next as HTMLButtonElement).disabled = choices.length < 2;
    if (treeBuilt) {
      drawTree(); // expand the newly shown branch
    }
  };
  prev.addEventListener('click', () => choose(selected - 1));
  next.addEventListener('click', () => choose(selected + 1));
  select.addEventListener('change', () => choose(Number(select.value)));
  // The tree is built when its panel is first opened.
  treePanel.addEventListener('toggle', () => {
    if (treePanel.open && !treeBuilt) {
      drawTree();
    }
  });
  choose(selected);
  const openTree = options.treeOpen ?? branchCount > 1;
  if (openTree) {
    treePanel.open = true;
    if (!treeBuilt) {
      drawTree();
    }
  }
  return root;
}
