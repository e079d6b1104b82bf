// A call's record (protocol call-record.ts) from what the record desk was told: the edge's facts and
// ending, the core's part, and the last conversation state the core sent. Pure: notes in, record out.
//
// The words, tools, message and summary come from the core's part when it is the latest word on the
// conversation. When a core state came after it (or no part came at all), the core that held the call
// last was lost: the record is read from that state, without a summary. A later part replaces an
// earlier one (a call that came back from a transfer and went on has a second core part).
import type { CallRecord, CoreRecordPart } from "@voice/protocol/call-record";
import type { ConversationState } from "@voice/protocol/core-link";
import type { CallEnding, CallFacts } from "./record-notes.js";

/** A note and its place in the order the desk received notes in. */
export interface Sequenced<T> {
  value: T;
  seq: number;
}

/** Everything the desk keeps of a call until its record is built. */
export interface DeskNotes {
  facts: CallFacts | null;
  state: Sequenced<ConversationState> | null;
  part: Sequenced<CoreRecordPart> | null;
  ending: CallEnding | null;
}

export const LOST_CORE_SUMMARY_ERROR = "the core did not report (it was lost)";

/** The built-in tool whose arguments are the message the caller left (core-node's take_message). */
export const TAKE_MESSAGE_TOOL = "take_message";

// The bounds of protocol's coreRecordPart, kept when the words are read from a state.
const MAX_UTTERANCES = 400;
const MAX_TOOLS = 100;

export type Assembly = { ok: true; record: CallRecord } | { ok: false; reason: string };

/** `isoTime`: epoch ms as an ISO 8601 string (the shell's Date; this module reads no clock and makes no dates). */
export function assembleRecord(notes: DeskNotes, isoTime: (ms: number) => string): Assembly {
  const { facts, ending } = notes;
  if (!facts) return { ok: false, reason: "no stream of the call was ever admitted (no call facts)" };
  if (!ending) return { ok: false, reason: "the call has no ending" };
  const endedAt = Math.max(ending.endedAt, facts.startedAt);
  return {
    ok: true,
    record: {
      recordId: facts.callSid,
      callSid: facts.callSid,
      from: facts.from,
      to: facts.to,
      startedAt: isoTime(facts.startedAt),
      endedAt: isoTime(endedAt),
      durationMs: Math.round(endedAt - facts.startedAt),
      endReason: ending.endReason,
      ...words(notes),
      transfer: ending.transfer ?? null,
    },
  };
}

type Words = Pick<CallRecord, "conversation" | "tools" | "callback" | "summary" | "outcome" | "summaryError">;

/**
 * Whether a core's part speaks for the call as the edge last saw it: it holds at least as much of the
 * conversation as the latest state. Arrival order cannot tell: the part of the core a transfer left
 * may arrive after the caller came back to another core, whose later state holds more.
 */
export function partCovers(part: CoreRecordPart, state: ConversationState | undefined): boolean {
  return state === undefined || part.conversation.length >= wordsOfState(state).conversation.length;
}

function words({ part, state }: DeskNotes): Words {
  if (part && partCovers(part.value, state?.value)) {
    const { conversation, tools, callback, summary, outcome, summaryError } = part.value;
    return { conversation, tools, callback, summary, outcome, ...(summaryError === undefined ? {} : { summaryError }) };
  }
  return { ...wordsOfState(state?.value ?? null), summary: null, outcome: null, summaryError: LOST_CORE_SUMMARY_ERROR };
}

/**
 * The conversation, tools and message read from a core state, as a core reads its own history for its
 * part: a tool's content `{"result": x}` is a success with result x, `{"error": e}` a failure, anything
 * else a failure whose result is the text; a call without a result is a failure with result null.
 */
export function wordsOfState(state: ConversationState | null): Pick<CallRecord, "conversation" | "tools" | "callback"> {
  const conversation: CallRecord["conversation"] = [];
  const tools: CallRecord["tools"] = [];
  let callback: CallRecord["callback"] = null;
  const history = state?.history ?? [];
  const results = new Map(history.flatMap((message) => (message.role === "tool" ? [[message.toolCallId, message.content] as const] : [])));
  for (const message of history) {
    if (message.role === "tool") continue;
    const text = message.content.trim();
    if (text) conversation.push({ speaker: message.role === "user" ? "caller" : "agent", text });
    if (message.role !== "assistant") continue;
    for (const call of message.toolCalls ?? []) {
      const args = parsed(call.arguments);
      tools.push({ name: call.name, arguments: args === undefined ? call.arguments : args, ...toolOutcome(results.get(call.id)) });
      if (call.name === TAKE_MESSAGE_TOOL) callback = messageLeft(args) ?? callback;
    }
  }
  // Over the bounds, the latest are kept: how the call ended matters more than how it began.
  return { conversation: conversation.slice(-MAX_UTTERANCES), tools: tools.slice(-MAX_TOOLS), callback };
}

function toolOutcome(content: string | undefined): { ok: boolean; result: unknown } {
  if (content === undefined) return { ok: false, result: null };
  const value = parsed(content);
  if (isObject(value) && typeof value.error === "string") return { ok: false, result: { error: value.error } };
  if (isObject(value) && "result" in value) return { ok: true, result: value.result };
  return { ok: false, result: content };
}

/** take_message's arguments as the caller's message; undefined when they are not an object. */
function messageLeft(args: unknown): CallRecord["callback"] | undefined {
  if (!isObject(args)) return undefined;
  const field = (value: unknown, max: number) => (typeof value === "string" && value.trim() ? value.trim().slice(0, max) : null);
  return { name: field(args.name, 200), phone: field(args.phone, 40), reason: field(args.reason, 1000) ?? "" };
}

/** The facts to keep when a stream starts: the first stream's start time, and numbers once known. */
export function mergeFacts(kept: CallFacts | null, next: CallFacts): CallFacts {
  if (!kept) return next;
  return { callSid: kept.callSid, from: kept.from ?? next.from, to: kept.to ?? next.to, startedAt: Math.min(kept.startedAt, next.startedAt) };
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
