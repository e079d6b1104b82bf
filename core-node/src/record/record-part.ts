// The core's part of a call's record (protocol call-record.ts): the words read from the history as
// the caller heard it (protocol record-words.ts, the edge reads a lost core's state the same way),
// this call's id and how this part ended. Pure: messages in, the part out.
import { clip, recordWords, type CoreRecordPart } from "@voice/protocol";
import type { ChatMessage } from "../llm/types.js";

/** The part without what the summary adds (summary, outcome, summaryError). */
export type RecordPartBody = Omit<CoreRecordPart, "summary" | "outcome" | "summaryError">;

/** coreRecordPart's bound on endReason. */
const MAX_END_REASON_CHARS = 40;

export function recordPart(callSid: string, endReason: string, history: readonly ChatMessage[]): RecordPartBody {
  return { callSid, ...recordWords(history), endReason: clip(endReason, MAX_END_REASON_CHARS) };
}
