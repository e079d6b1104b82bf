// A call's record (protocol call-record.ts) from what the record desk was told: the edge's facts and
// ending, the core's part, and the last conversation state the core sent. Pure: notes in, record out.
//
// The words, tools, message and summary come from the core's part when it is the latest word on the
// conversation. When a core state came after it (or no part came at all), the core that held the call
// last was lost: the record is read from that state, without a summary. A later part replaces an
// earlier one (a call that came back from a transfer and went on has a second core part).
import type { CallRecord, CoreRecordPart } from "@voice/protocol/call-record";
import type { ConversationState } from "@voice/protocol/core-link";
import { recordWords, type RecordWords } from "@voice/protocol/record-words";
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

/** The conversation, tools and message read from a core state, as a core reads its own history for its part. */
export function wordsOfState(state: ConversationState | null): RecordWords {
  return recordWords(state?.history ?? []);
}

/** The facts to keep when a stream starts: the first stream's start time, and numbers once known. */
export function mergeFacts(kept: CallFacts | null, next: CallFacts): CallFacts {
  if (!kept) return next;
  return { callSid: kept.callSid, from: kept.from ?? next.from, to: kept.to ?? next.to, startedAt: Math.min(kept.startedAt, next.startedAt) };
}
