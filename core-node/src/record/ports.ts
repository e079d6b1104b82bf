// What a call session hands over when its part of the call ends, for the call's record
// (protocol call-record.ts): the conversation as the caller heard it (tool calls and results
// included, so the tools and a message taken with take_message follow from it), how this part
// ended, and where the edge takes the record. The sender runs after the caller is gone, off the
// latency path: it makes the summary (one LLM call) and posts the core's part to the edge.
import type { ChatMessage } from "../llm/types.js";

export interface CallRecordInput {
  callSid: string;
  /** The CALL line's end_reason for this part. */
  endReason: string;
  /** The conversation as heard, greeting first. */
  history: readonly ChatMessage[];
  /** From edge.greeting / edge.resume; absent: the edge takes no record (nothing is sent). */
  recordUrl?: string;
}

/** Never throws and never rejects: a failure is one log line, and the edge still delivers a record without a summary. */
export type RecordSender = (input: CallRecordInput) => Promise<void>;
