// What the edge tells a call's record desk (one Durable Object per CallSid, binding RECORDS) as the
// call goes, so that the business gets one record per call (protocol call-record.ts) even when the
// core died mid-call: the desk assembles it from these notes and from the core's part, and
// delivers it once the call is over. Every note is idempotent; the latest of a kind wins.
import type { ConversationState } from "@voice/protocol/core-link";
import type { CoreRecordPart } from "@voice/protocol/call-record";

export interface CallFacts {
  callSid: string;
  from: string | null;
  to: string | null;
  /** Epoch ms when the first stream of the call started. Later streams (a return from a transfer) keep the first. */
  startedAt: number;
}

/** How the call ended for good, as the edge saw it. */
export interface CallEnding {
  /** protocol RECORD_END_REASONS */
  endReason: "caller" | "agent" | "idle" | "transfer" | "fallback" | "limit" | "error";
  endedAt: number;
  /** A transfer was dialled: to whom, how the dial ended, whether the caller came back to the agent. */
  transfer?: { to: string; outcome: string; returnedToAgent: boolean };
}

export interface RecordNotes {
  /** At each stream's admission. */
  noteStart(facts: CallFacts): Promise<void>;
  /** The latest conversation the core sent (core.state): the record's words when no core part comes. */
  noteState(state: ConversationState): Promise<void>;
  /** The core's part, posted to the edge's record route when its part of the call ended. */
  noteCorePart(part: CoreRecordPart): Promise<void>;
  /** The call is over (no stream will follow): deliver once the core's part is in, or after a short wait for it. */
  noteEnd(ending: CallEnding): Promise<void>;
}
