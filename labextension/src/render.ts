/**
 * Framework-free rendering of vel_jupyter payloads, the rendermime way: pure
 * `renderX(el, data, options)` functions the widgets call (./index for JupyterLab, ./widget
 * for the anywidget). `render` draws any payload with the view for its kind; the rest of this
 * module is the public surface of the views (the node tests and the bench use it).
 *
 *   payload.ts       the payload types (generated from Python's shapes) and `classify`
 *   texts.ts         text helpers; fallbacks of the words the payloads carry
 *   messages.ts      messages linked into a tree, paths through it
 *   turns.ts         turns of the fork tree (grouped in Python; linked here)
 *   dom.ts           elements with text only and inert attributes
 *   markdownQueue.ts Markdown through a hook; views swapped in once rendered
 *   transcript.ts    messages and transcripts
 *   turn.ts          a `%%chat` turn, live or finished
 *   turnState.ts     what a turn output derives from where its session stands
 *   forkTree.ts      the fork tree (forkTreeKeys.ts: its keyboard)
 *   treeView.ts      the `%chat tree` output and the widget's view
 *   sessionView.ts   a `%chat export` session
 *
 * These modules import nothing at run time and touch no globals: every element is created
 * through `el.ownerDocument`, so they work in any document (or a test's fake one).
 */
import { swapIn } from './markdownQueue';
import { classify } from './payload';
import { SessionOptions, renderSession } from './sessionView';
import { unknownPayload } from './transcript';
import { TreeViewOptions, renderTreeView } from './treeView';
import { renderTurn } from './turn';

export { h } from './dom';
export { MARKDOWN_EVENT, MarkdownQueue, markdownFromAncestors, swapIn } from './markdownQueue';
export type { CheckoutHook, MarkdownHook, MarkdownRequest, RenderOptions } from './markdownQueue';
export { buildTree, pathIds, pathTo } from './messages';
export { MIME_TYPE, TREE_MIME_TYPE, classify, messagesOf } from './payload';
export type { Classified, MessageData, SessionPayload, TreeStatePayload, TurnPayload } from './payload';
export { branchChoices, renderSession } from './sessionView';
export type { SessionOptions } from './sessionView';
export { ECHO_NOTE, FORK_LABELS, STALE_NOTE, answerLabel, branchLabel, finishNote, forkLabel, formatCount, formatMs, preview, treeHeadLabel, treeStats, turnUsage } from './texts';
export { renderMessage, renderTranscript } from './transcript';
export { NEW_SESSION_ID, newTreeViewState, renderTreeView, treeStateView } from './treeView';
export type { TreeActions, TreeViewOptions, TreeViewState } from './treeView';
export { buildTurn, renderTurn } from './turn';
export { StateQueue, UNKNOWN, askedIds, deriveTurn, parseStateReply, withDerived } from './turnState';
export type { Derived, SessionState } from './turnState';
export { groupTurns, linkTurns } from './turns';
export { renderTree } from './forkTree';

/**
 * Render any vel_jupyter payload (turn, session, export or saved tree) into `el`. The
 * promise settles when the view, its Markdown rendered, is in `el` (at once without a
 * Markdown hook).
 */
export function render(el: HTMLElement, data: unknown, options: SessionOptions & TreeViewOptions = {}): Promise<void> {
  const what = classify(data);
  if (what.kind === 'turn') {
    return renderTurn(el, what.turn, options);
  } else if (what.kind === 'session') {
    return renderSession(el, what.session, options);
  } else if (what.kind === 'tree') {
    return renderTreeView(el, what.tree, options);
  }
  return swapIn(el, options, () => unknownPayload(el.ownerDocument, what.reason));
}
