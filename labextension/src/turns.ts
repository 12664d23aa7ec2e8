/**
 * The fork tree's nodes: *turns* (a user message with the assistant and tool messages that
 * follow it), linked into a tree the views walk.
 *
 * Messages are grouped into turns in ONE place, vel_jupyter/formats/turns.py::group_turns:
 * a tree payload carries its turns (with their numbers, tokens and row texts), and
 * `linkTurns` only links them by their `parent`. Grouping them here too would let the
 * JupyterLab tree, the widget and the static picture disagree (they did: two answers to one
 * question were one turn in Python and two here). The one exception is `groupTurns`, for a
 * `%chat export` session record, which carries messages only: it follows the same rule,
 * and goes once the export carries its turns.
 *
 * Imports nothing at run time. O(n) and iterative: safe at any depth.
 */
import type { MessageTree, TreeNode } from './messages';
import { MessageData, TreeStateTurn, num, str } from './payload';
import { messageTokens } from './texts';

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
  /** The turn's prompt + completion tokens. */
  tokens: number;
  /** Position on its path, from 1 (a turn that starts with an answer shares its question's). */
  number: number;
}

export interface TurnTree {
  roots: TurnNode[];
  /** Turn of every message id. */
  turnOf: Map<string, TurnNode>;
  /** Indexes (into `heads`) of the branch heads in the subtree rooted at `turn`, ascending. */
  headsBelow(turn: TurnNode): number[];
}

function node(id: string, parent: TurnNode | null, number: number): TurnNode {
  return { id, messages: [], last: id, parent, children: [], size: 1, order: 0, tokens: 0, number };
}

/**
 * A tree payload's turns linked by their `parent` ids. A turn whose parent is unknown, or
 * itself, is a root; duplicate ids keep the first; a turn without messages is left out;
 * children keep the payload's order. Turns a loop keeps from every root (a crafted payload)
 * are placed from the last one in the payload up, each made a root until all are placed.
 */
export function linkTurns(turns: TreeStateTurn[], heads: (string | null)[] = []): TurnTree {
  const byId = new Map<string, TurnNode>();
  const parentOf = new Map<TurnNode, string | null>();
  for (const t of turns) {
    if (!t.messages.length || byId.has(t.id)) {
      continue;
    }
    const turn = node(t.id, null, num(t.number) ?? 0);
    turn.messages = t.messages;
    turn.last = str(t.last) || t.messages[t.messages.length - 1].id;
    turn.tokens = num(t.tokens) ?? 0;
    byId.set(t.id, turn);
    parentOf.set(turn, typeof t.parent === 'string' && t.parent !== t.id ? t.parent : null);
  }
  const roots: TurnNode[] = [];
  for (const turn of byId.values()) {
    const id = parentOf.get(turn);
    const parent = id === null || id === undefined ? undefined : byId.get(id);
    if (parent) {
      turn.parent = parent;
      parent.children.push(turn);
    } else {
      roots.push(turn);
    }
  }
  const placed = new Set<TurnNode>();
  const place = (start: TurnNode) => {
    const stack = [start];
    while (stack.length) {
      const t = stack.pop()!;
      placed.add(t);
      for (const child of t.children) {
        stack.push(child);
      }
    }
  };
  roots.forEach(place);
  if (placed.size < byId.size) {
    const all = [...byId.values()];
    for (let i = all.length - 1; i >= 0; i--) {
      const cut = all[i];
      if (!placed.has(cut)) {
        const siblings = cut.parent!.children;
        siblings.splice(siblings.indexOf(cut), 1);
        cut.parent = null;
        roots.push(cut);
        place(cut);
      }
    }
  }
  const turnOf = new Map<string, TurnNode>();
  for (const turn of byId.values()) {
    for (const m of turn.messages) {
      if (!turnOf.has(m.id)) {
        turnOf.set(m.id, turn);
      }
    }
  }
  return indexed(roots, turnOf, heads);
}

/** Whether the message path to `head` goes through `turn`'s last message. */
export function endsOnPath(tree: TurnTree, turn: TurnNode, head: string | null | undefined): boolean {
  const at = typeof head === 'string' ? tree.turnOf.get(head) : undefined;
  if (at === turn) {
    return turn.last === head; // a turn holds one chain: past the head is off its path
  }
  for (let t = at?.parent; t; t = t.parent) {
    if (t === turn) {
      return true; // a turn's children start after its last message
    }
  }
  return false;
}

/**
 * A session record's messages grouped into turns, by the rule of formats/turns.py (only for
 * records, which carry no turns: see the module comment).
 */
export function groupTurns(messages: MessageTree, heads: (string | null)[] = []): TurnTree {
  const turnOf = new Map<string, TurnNode>();
  const roots: TurnNode[] = [];
  const stack: TreeNode[] = [...messages.roots].reverse();
  while (stack.length) {
    const n = stack.pop()!;
    const m = n.message;
    const above = n.parent ? turnOf.get(n.parent.message.id) : undefined;
    let turn: TurnNode;
    if (!above || m.role === 'user' || n.parent!.children.length > 1) {
      turn = node(m.id, above ?? null, (above?.number ?? 0) + (m.role === 'user' ? 1 : 0));
      (above ? above.children : roots).push(turn);
    } else {
      turn = above;
    }
    turn.messages.push(m);
    turn.last = m.id;
    const tokens = messageTokens(m);
    if (tokens) {
      turn.tokens += tokens.prompt + tokens.completion;
    }
    turnOf.set(m.id, turn);
    for (let i = n.children.length - 1; i >= 0; i--) {
      stack.push(n.children[i]);
    }
  }
  return indexed(roots, turnOf, heads);
}

/**
 * Preorder positions and subtree sizes, and where the heads are: heads are found below a
 * turn by its preorder range, not by walking up from every head (which costs heads × depth).
 */
function indexed(roots: TurnNode[], turnOf: Map<string, TurnNode>, heads: (string | null)[]): TurnTree {
  const all: TurnNode[] = [];
  const stack = [...roots].reverse();
  while (stack.length) {
    const t = stack.pop()!;
    t.order = all.length;
    t.size = 1;
    all.push(t);
    for (let i = t.children.length - 1; i >= 0; i--) {
      stack.push(t.children[i]);
    }
  }
  for (let i = all.length - 1; i >= 0; i--) {
    const t = all[i];
    if (t.parent) {
      t.parent.size += t.size;
    }
  }
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
  return { roots, turnOf, headsBelow };
}
