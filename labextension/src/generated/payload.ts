/* Generated from vel_jupyter/formats/shapes.py (payload.schema.json) by labextension/scripts/payload-types.mjs: edit the shapes, then run `jlpm build:types`. */

/**
 * Every payload the extension reads, for its generated types (``schema``).
 */
export interface PayloadsShape {
  session: RecordShape;
  tree: TreePayloadShape;
  turn: TurnPayloadShape;
}
/**
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "RecordShape".
 */
export interface RecordShape {
  created_at?: string | null;
  current?: number | null;
  forked_from?: ForkedFromShape | null;
  head?: string | null;
  heads?: (string | null)[] | null;
  kind?: 'vel_jupyter.session' | null;
  lineage?: string[] | null;
  /**
   * @maxItems 1000000
   */
  messages?: MessageShape[];
  rev?: number | null;
  session_id: string;
  settings?: SettingsShape | null;
  stats?: StatsShape | null;
  summaries?: SummaryShape[] | null;
  system?: string | null;
  tree?: string | null;
  updated_at?: string | null;
  version: number;
}
/**
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "ForkedFromShape".
 */
export interface ForkedFromShape {
  message_id?: string | null;
  session_id: string;
}
/**
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "MessageShape".
 */
export interface MessageShape {
  cell_id?: string | null;
  content?: string | null;
  created_at?: string | null;
  id: string;
  meta?: MetaShape | null;
  name?: string | null;
  parent_id?: string | null;
  role: 'system' | 'user' | 'assistant' | 'tool';
  session_id?: string | null;
  tool_call_id?: string | null;
  tool_calls?: ToolCallShape[] | null;
}
/**
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "MetaShape".
 */
export interface MetaShape {
  completion_tokens?: number | null;
  finish_reason?: string | null;
  latency_ms?: number | null;
  model?: string | null;
  prompt_tokens?: number | null;
  provider?: string | null;
  refusal?: string | null;
  ttft_ms?: number | null;
}
/**
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "ToolCallShape".
 */
export interface ToolCallShape {
  arguments?: string | null;
  id: string;
  name: string;
}
/**
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "SettingsShape".
 */
export interface SettingsShape {
  base_url?: string | null;
  model?: string | null;
  params?: {} | null;
  provider?: string | null;
  ttl?: number | null;
}
/**
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "StatsShape".
 */
export interface StatsShape {
  messages: number;
  tokens: number;
}
/**
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "SummaryShape".
 */
export interface SummaryShape {
  completion_tokens?: number | null;
  covers: string;
  model?: string | null;
  prompt_tokens?: number | null;
  text: string;
}
/**
 * A ``%chat tree`` output's or the tree widget's payload (``jupyter.tree_data``).
 *
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "TreePayloadShape".
 */
export interface TreePayloadShape {
  commands?: '%chat';
  focus: string;
  heads: TreeHeadShape[];
  kind: 'vel_jupyter.tree';
  sessions: TreeSessionShape[];
  texts?: TreeTextsShape;
  turns: TreeTurnShape[];
  version: number;
}
/**
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "TreeHeadShape".
 */
export interface TreeHeadShape {
  branch: number | null;
  current: boolean;
  label?: string;
  message: string;
  session_id: string;
  turn: string;
}
/**
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "TreeSessionShape".
 */
export interface TreeSessionShape {
  forked_from?: ForkedFromShape | null;
  head: string | null;
  session_id: string;
  system?: string | null;
}
/**
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "TreeTextsShape".
 */
export interface TreeTextsShape {
  fork_labels: ForkLabelsShape;
  stats: string;
}
/**
 * Templates of a folded branch's label ({number}, {question}, {answer}: ``jupyter.texts``).
 *
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "ForkLabelsShape".
 */
export interface ForkLabelsShape {
  answer: string;
  answer_quoted: string;
  continues: string;
  question: string;
  rerun: string;
}
/**
 * A turn of the fork tree (``formats.turns.group_turns``) with what its row shows.
 *
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "TreeTurnShape".
 */
export interface TreeTurnShape {
  answer?: string;
  cell_id?: string | null;
  id: string;
  last: string;
  messages: MessageShape[];
  number: number;
  parent: string | null;
  preview?: string;
  question?: string;
  tokens: number;
}
/**
 * A ``%%chat`` output's payload (``jupyter.turn_payload``), or a live frame of it (``live``).
 *
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "TurnPayloadShape".
 */
export interface TurnPayloadShape {
  alternatives?: AlternativeShape[];
  branch: number | null;
  branches: number;
  current?: boolean;
  default_cap?: number;
  echo_note?: string;
  elsewhere?: AlternativeShape[];
  finish_note?: string;
  format?: 'markdown' | 'text' | 'code' | 'json';
  head: string;
  kind: 'vel_jupyter.turn';
  latency_ms?: number | null;
  live?: boolean | null;
  /**
   * @minItems 1
   * @maxItems 1000000
   */
  messages: [MessageShape, ...MessageShape[]];
  model?: string | null;
  note?: string;
  prompt?: string | null;
  provider?: string | null;
  session_id: string;
  showing?: string;
  ttft_ms?: number | null;
  usage?: UsageShape | null;
  usage_line?: string;
  version: number;
}
/**
 * One answer a cell has had (its re-runs), for the output's switcher.
 *
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "AlternativeShape".
 */
export interface AlternativeShape {
  current: boolean;
  echo_note?: string;
  finish_note?: string;
  head: string;
  messages: MessageShape[];
  usage_line?: string;
}
/**
 * This interface was referenced by `PayloadsShape`'s JSON-Schema
 * via the `definition` "UsageShape".
 */
export interface UsageShape {
  completion_tokens?: number | null;
  prompt_tokens?: number | null;
}
