/**
 * Messages linked into a tree by their parent ids, and paths through it: safe on any
 * payload (a long chain, a cycle, duplicate ids) and O(n). Imports nothing at run time.
 */
import type { MessageData } from './payload';

export interface TreeNode {
  message: MessageData;
  parent: TreeNode | null;
  children: TreeNode[];
  /** Messages in the subtree rooted here (this one included). */
  size: number;
}

export interface MessageTree {
  byId: Map<string, TreeNode>;
  roots: TreeNode[];
}

/**
 * Link messages into a tree. Order-independent; a message whose parent is missing, or
 * that is its own parent, is a root; duplicate ids keep the first entry; a parent cycle is
 * broken at its member that comes last (it becomes a root). O(n) and iterative, so a
 * crafted payload (a long chain, a cycle) cannot stall the page.
 */
export function buildTree(messages: MessageData[]): MessageTree {
  const byId = new Map<string, TreeNode>();
  const order: TreeNode[] = [];
  const index = new Map<TreeNode, number>(); // position in the input
  for (const message of messages) {
    if (!byId.has(message.id)) {
      const node: TreeNode = { message, parent: null, children: [], size: 1 };
      byId.set(message.id, node);
      index.set(node, order.length);
      order.push(node);
    }
  }
  const parentOf = (node: TreeNode): TreeNode | undefined => {
    const id = node.message.parent_id;
    const parent = typeof id === 'string' ? byId.get(id) : undefined;
    return parent === node ? undefined : parent;
  };
  // A message has one parent, so a walk up from each message ends at a root, at a message
  // an earlier walk passed (stop: what is above is known), or back on itself: a cycle. Each
  // message is walked once. (Asking of every link whether it closes a cycle, by walking up
  // its ancestors, was O(n²): 24 s for a chain of 100,000 messages; scripts/bench-tree.mjs.)
  const walkOf = new Map<TreeNode, number>();
  const cut = new Set<TreeNode>();
  order.forEach((start, walk) => {
    const path: TreeNode[] = [];
    let node: TreeNode | undefined = start;
    while (node && !walkOf.has(node)) {
      walkOf.set(node, walk);
      path.push(node);
      node = parentOf(node);
    }
    if (node && walkOf.get(node) === walk) {
      // The cycle is `path` from `node` on; its member that comes last in the input is cut
      // (linking in input order and refusing the link that would close it does the same).
      const cycle = path.slice(path.indexOf(node));
      cut.add(cycle.reduce((a, b) => (index.get(a)! > index.get(b)! ? a : b)));
    }
  });
  const roots: TreeNode[] = [];
  for (const node of order) {
    const parent = cut.has(node) ? undefined : parentOf(node);
    if (parent) {
      node.parent = parent;
      parent.children.push(node);
    } else {
      roots.push(node);
    }
  }
  // Subtree sizes, bottom-up, without recursion.
  const postorder: TreeNode[] = [];
  const stack = [...roots];
  while (stack.length) {
    const node = stack.pop()!;
    postorder.push(node);
    for (const child of node.children) {
      stack.push(child); // not push(...children): a message may have 100,000 answers
    }
  }
  for (let i = postorder.length - 1; i >= 0; i--) {
    const node = postorder[i];
    if (node.parent) {
      node.parent.size += node.size;
    }
  }
  return { byId, roots };
}

/** The messages from the root down to `head` (empty for a null or unknown head). */
export function pathTo(tree: MessageTree, head: string | null | undefined): MessageData[] {
  const out: MessageData[] = [];
  let node = typeof head === 'string' ? tree.byId.get(head) : undefined;
  while (node) {
    out.push(node.message);
    node = node.parent ?? undefined;
  }
  return out.reverse();
}

/** The ids on the path to `head`, for highlighting. */
export function pathIds(tree: MessageTree, head: string | null | undefined): Set<string> {
  return new Set(pathTo(tree, head).map(m => m.id));
}

