/**
 * The payloads we read, and the one reader of them: `classify` says what a payload is and
 * keeps only entries of the right kind. Field names and types are generated from the Python
 * shapes (./generated/payload.ts, from vel_jupyter/formats/shapes.py); everything is optional
 * here, because the data comes from a notebook file and is read field by field.
 *
 * Imports nothing at run time and touches no globals.
 */
import type {
  AlternativeShape,
  MessageShape,
  MetaShape,
  RecordShape,
  ToolCallShape,
  TreeHeadShape,
  TreePayloadShape,
  TreeSessionShape,
  TreeTurnShape,
  TurnPayloadShape
} from './generated/payload';

export const MIME_TYPE = 'application/vnd.vel.session+json';

/**
 * The fork-tree payload (vel_jupyter/jupyter/tree_data.py::tree_payload), saved beside the
 * widget under TREE_MIME_TYPE so the tree shows with no kernel.
 */
export const TREE_MIME_TYPE = 'application/vnd.vel.tree+json';

/** A shape as read from outside: every field may be missing. */
type Loose<T> = { [K in keyof T]?: T[K] };

export type ToolCallData = Loose<ToolCallShape>;
export type MessageMetaData = Loose<MetaShape>;

export interface MessageData extends Omit<Loose<MessageShape>, 'id' | 'role' | 'tool_calls' | 'meta'> {
  id: string;
  role?: string;
  tool_calls?: ToolCallData[] | null;
  meta?: MessageMetaData | null;
}

export interface TurnAlternative extends Omit<Loose<AlternativeShape>, 'messages'> {
  messages?: MessageData[];
}

export interface TurnPayload extends Omit<Loose<TurnPayloadShape>, 'kind' | 'messages' | 'alternatives' | 'format'> {
  kind: 'vel_jupyter.turn';
  /** How the answer is shown: 'markdown' (default), or verbatim for 'text', 'code', 'json'. */
  format?: string;
  alternatives?: TurnAlternative[];
  messages: MessageData[];
}

export interface SessionPayload extends Omit<Loose<RecordShape>, 'kind' | 'messages'> {
  kind: 'vel_jupyter.session';
  messages: MessageData[];
}

export interface TreeStateTurn extends Omit<Loose<TreeTurnShape>, 'id' | 'messages'> {
  id: string;
  messages: MessageData[];
}

export type TreeStateHead = Loose<TreeHeadShape>;

export interface TreeStatePayload extends Omit<Loose<TreePayloadShape>, 'kind' | 'sessions' | 'turns' | 'heads'> {
  kind: 'vel_jupyter.tree';
  sessions: Loose<TreeSessionShape>[];
  turns: TreeStateTurn[];
  heads: TreeStateHead[];
}

export type Classified =
  | { kind: 'turn'; turn: TurnPayload }
  | { kind: 'session'; session: SessionPayload }
  | { kind: 'tree'; tree: TreeStatePayload }
  | { kind: 'unknown'; reason: string };

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string for display, whatever the value is (never throws, never `[object Object]`). */
export function str(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    return String(value);
  }
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}

export function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The entries of `value` that are messages (objects with an id), ids as strings. */
export function messagesOf(value: unknown): MessageData[] {
  if (!Array.isArray(value)) {
    return [];
  }
  const out: MessageData[] = [];
  for (const entry of value) {
    if (isObject(entry) && (typeof entry.id === 'string' || typeof entry.id === 'number')) {
      out.push({ ...(entry as unknown as MessageData), id: String(entry.id) });
    }
  }
  return out;
}

function objectsOf(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

/** What a payload is: a turn, a session (plain or wrapped in an export), a tree, or neither. */
export function classify(data: unknown): Classified {
  if (!isObject(data)) {
    return { kind: 'unknown', reason: 'the payload is not a JSON object' };
  }
  let value: Record<string, unknown> = data;
  if (value.kind === 'vel_jupyter.export') {
    if (!isObject(value.session)) {
      return { kind: 'unknown', reason: 'an export without a session' };
    }
    value = value.session;
  }
  if (value.kind === 'vel_jupyter.turn') {
    return {
      kind: 'turn',
      turn: { ...(value as unknown as TurnPayload), messages: messagesOf(value.messages) }
    };
  }
  if (value.kind === 'vel_jupyter.session') {
    return {
      kind: 'session',
      session: { ...(value as unknown as SessionPayload), messages: messagesOf(value.messages) }
    };
  }
  if (value.kind === 'vel_jupyter.tree') {
    const turns = objectsOf(value.turns)
      .filter(t => typeof t.id === 'string')
      .map(t => ({ ...(t as unknown as TreeStateTurn), messages: messagesOf(t.messages) }));
    return {
      kind: 'tree',
      tree: {
        ...(value as unknown as TreeStatePayload),
        sessions: objectsOf(value.sessions),
        turns,
        heads: objectsOf(value.heads)
      }
    };
  }
  return { kind: 'unknown', reason: `unknown payload kind ${JSON.stringify(str(value.kind))}` };
}
