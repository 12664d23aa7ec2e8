/**
 * What a turn output derives from where its session stands — whether the session's current
 * path still goes through its answer, and which other answer of its cell the session
 * continues from — computed from the kernel's `%chat state` reply when there is a kernel, and
 * from the saved payload when there is none. Nothing derived is frozen into an output: the
 * extension asks again whenever it draws one and whenever the notebook's kernel ran something.
 *
 * `StateQueue` batches the questions of every output of a notebook into one `%chat state`
 * request per ~200 ms. Imports nothing at run time and touches no globals.
 */
import { TurnPayload, isObject, num, str } from './payload';

/** One session as `%chat state ID --on …` reports it (vel_jupyter/jupyter/state_commands.py). */
export interface SessionState {
  /** Whether the kernel has the session (after a restart it has none). */
  known: boolean;
  head?: string | null;
  /** 0-based index of the current branch (null: the head is no branch's tip). */
  branch?: number | null;
  heads?: (string | null)[];
  /** Of the ids asked about, those on the current path (or, without `--on`, the whole path). */
  on?: string[];
}

export const UNKNOWN: SessionState = { known: false };

/** The `%chat state` reply, read field by field (a kernel may be of another version). */
export function parseStateReply(text: string): Record<string, SessionState> {
  let value: unknown;
  try {
    value = JSON.parse(text.trim().split('\n').pop() ?? '');
  } catch {
    return {};
  }
  const sessions = isObject(value) && isObject(value.sessions) ? value.sessions : {};
  const out: Record<string, SessionState> = {};
  for (const [sid, entry] of Object.entries(sessions)) {
    if (!isObject(entry) || entry.known !== true) {
      out[sid] = UNKNOWN;
      continue;
    }
    const ids = Array.isArray(entry.on) ? entry.on : Array.isArray(entry.path) ? entry.path : [];
    out[sid] = {
      known: true,
      head: typeof entry.head === 'string' ? entry.head : null,
      branch: num(entry.branch),
      heads: Array.isArray(entry.heads) ? entry.heads.map(h => (typeof h === 'string' ? h : null)) : [],
      on: ids.filter((id): id is string => typeof id === 'string')
    };
  }
  return out;
}

/** The ids a turn output asks about: its own answer's last message, then each alternative's head. */
export function askedIds(turn: TurnPayload): string[] {
  const own = turn.messages.length ? str(turn.messages[turn.messages.length - 1].id) : '';
  const heads = (Array.isArray(turn.alternatives) ? turn.alternatives : []).map(a => (isObject(a) ? str(a.head) : ''));
  return [...new Set([own, ...heads].filter(Boolean))];
}

/** What a turn output derives: on the current path or not; the other answer the session continues from. */
export interface Derived {
  current: boolean;
  showing: string | null;
}

/**
 * From the kernel's state of the turn's session; with none (no kernel, or a kernel without
 * the session), from the saved payload, as it was when last written.
 */
export function deriveTurn(turn: TurnPayload, state: SessionState | null | undefined): Derived {
  if (!state || !state.known) {
    return { current: turn.current !== false, showing: typeof turn.showing === 'string' ? turn.showing : null };
  }
  const on = new Set(state.on ?? []);
  const own = turn.messages.length ? str(turn.messages[turn.messages.length - 1].id) : '';
  const current = !!own && on.has(own);
  const other = (Array.isArray(turn.alternatives) ? turn.alternatives : []).find(
    a => isObject(a) && a.current !== true && on.has(str(a.head))
  );
  return { current, showing: current || !other ? null : str(other.head) };
}

/** The turn payload as drawn: its derived parts replaced by `derived`. */
export function withDerived(turn: TurnPayload, derived: Derived): TurnPayload {
  const out: TurnPayload = { ...turn, current: derived.current };
  if (derived.showing) {
    out.showing = derived.showing;
  } else {
    delete out.showing;
  }
  return out;
}

interface Pending {
  ids: string[];
  done: (state: SessionState) => void;
}

/**
 * The questions of one notebook's outputs, asked together: the first `ask` starts a
 * `delayMs` timer, and when it fires every session asked about since goes in one
 * `%chat state S1 S2 … --on ID …` (so at most one request per session per `delayMs`).
 * A failed request (no kernel, no vel_jupyter in it) answers "unknown": outputs keep what
 * their payloads say.
 */
export class StateQueue {
  constructor(
    private _run: (words: string[]) => Promise<string>,
    private _delayMs = 200,
    private _timer: (fn: () => void, ms: number) => unknown = (fn, ms) => setTimeout(fn, ms)
  ) {}

  ask(sessionId: string, ids: string[], done: (state: SessionState) => void): void {
    const list = this._pending.get(sessionId) ?? [];
    list.push({ ids, done });
    this._pending.set(sessionId, list);
    if (!this._scheduled) {
      this._scheduled = true;
      this._timer(() => void this._flush(), this._delayMs);
    }
  }

  /** How many `%chat state` requests were sent (for tests and the bench). */
  get sent(): number {
    return this._sent;
  }

  private async _flush(): Promise<void> {
    this._scheduled = false;
    const batch = this._pending;
    this._pending = new Map();
    if (!batch.size) {
      return;
    }
    const sessions = [...batch.keys()];
    const ids = [...new Set([...batch.values()].flat().flatMap(p => p.ids))];
    let reply: Record<string, SessionState> = {};
    this._sent += 1;
    try {
      reply = parseStateReply(await this._run(['state', ...sessions, '--on', ...ids]));
    } catch {
      reply = {};
    }
    for (const [sid, list] of batch) {
      for (const pending of list) {
        pending.done(reply[sid] ?? UNKNOWN);
      }
    }
  }

  private _pending = new Map<string, Pending[]>();
  private _scheduled = false;
  private _sent = 0;
}
