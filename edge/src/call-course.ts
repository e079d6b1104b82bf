// The course of one phone call across its media streams, as the call's ledger (call-ledger.ts) keeps
// it: what was said of how the stream should end (the caller's `stop`, the core's core.end, the core
// closing or lost for good), a transfer dialled and how it went, and the latest conversation (for a
// caller who comes back from a transfer nobody took). Twilio asks what next once a stream ends (the
// <Connect action>) or a dial ends (the <Dial action>), possibly at another isolate; the answer is
// decided here from the course alone. Pure: events (with their times) in, the next course and a
// direction out.
import { DIAL_OUTCOMES, dialReachedStaff, type CoreEndReason, type DialOutcome, type TransferReturn } from "@voice/protocol/call-control";
import type { ConversationState } from "@voice/protocol/core-link";
import type { CallEnding } from "./record-notes.js";

/** The ledger forgets a call this long after the last thing it heard of it. */
export const COURSE_TTL_MS = 60 * 60_000;

/** How the current stream is to end, as the edge heard it; the first word counts. */
export type StreamEnding =
  /** core.end: the agent said goodbye, the caller was silent, or a transfer. */
  | { kind: "core end"; reason: CoreEndReason; transferReason?: string }
  /** The core closed the link normally without core.end: its own limits (time, budget). */
  | { kind: "core closed" }
  /** The core could not be reached again within the reconnect budget. */
  | { kind: "core lost" };

export type ReturnOutcome = TransferReturn["outcome"];

export interface TransferCourse {
  /** The staff number dialled ("" when Twilio reported a dial the ledger never ordered). */
  to: string;
  /** The agent's words for the staff member's whisper; dropped once the call is over. */
  reason: string | null;
  /** DialCallStatus, or "pending" while it rings. */
  outcome: DialOutcome | "pending";
  returnedToAgent: boolean;
}

export type CoursePhase =
  /** A stream is live (or about to be): its ending is gathered here. */
  | { name: "streaming"; callerStopped: boolean; ending: StreamEnding | null }
  /** The staff number rings. */
  | { name: "dialling" }
  /** Nobody took the transfer: the next stream resumes the conversation with this outcome. */
  | { name: "returning"; outcome: ReturnOutcome }
  /** Over for good; a repeated request gets the same answer. */
  | { name: "over"; direction: "hang up" | "fallback" };

export interface CallCourse {
  phase: CoursePhase;
  transfer: TransferCourse | null;
  /** The latest conversation the core sent, and when: handed to the core after a return. */
  conversation: { state: ConversationState; at: number } | null;
  lastActivityAt: number;
}

/** What Twilio is told to do next; the shell writes the TwiML (twiml.ts). */
export type Direction =
  | { kind: "hang up" }
  | { kind: "dial staff"; to: string }
  /** The AI path failed: FALLBACK_TEXT, then FALLBACK_NUMBER (or a hang-up when there is none). */
  | { kind: "fallback" }
  /** A new stream back to the agent (fresh stream token), which resumes with this transfer outcome. */
  | { kind: "reconnect"; outcome: ReturnOutcome };

/** How a new stream opens its core link. */
export type StreamOpening = { kind: "greet" } | { kind: "resume"; state: ConversationState | null; transfer: { outcome: ReturnOutcome } };

export type CourseEvent =
  | { type: "stream started"; at: number }
  | { type: "caller stopped"; at: number }
  | { type: "core ended"; at: number; reason: CoreEndReason; transferReason?: string }
  | { type: "core closed"; at: number }
  | { type: "core lost"; at: number }
  | { type: "state"; at: number; state: ConversationState }
  /** Twilio's <Connect action>: `callStatus` as Twilio sent it, `staffNumber` as configured (null: none). */
  | { type: "stream ended"; at: number; callStatus: string | undefined; staffNumber: string | null }
  /** Twilio's <Dial action>. */
  | { type: "dial ended"; at: number; dialStatus: string | undefined; callStatus: string | undefined };

export interface CourseStep {
  course: CallCourse;
  /** For `stream ended` and `dial ended`: Twilio's next instructions. */
  direction?: Direction;
  /** For `stream started`. */
  opening?: StreamOpening;
  /** The call just became over for good: the record desk is told (RecordNotes.noteEnd), once. */
  ended?: CallEnding;
  /** Something the operator should read, for one log line (never a caller's words). */
  notice?: string;
}

export function newCourse(at: number): CallCourse {
  return { phase: { name: "streaming", callerStopped: false, ending: null }, transfer: null, conversation: null, lastActivityAt: at };
}

/** CallStatus values that mean the caller is gone. */
const CALLER_GONE = new Set(["completed", "canceled", "failed", "busy", "no-answer"]);

export function advanceCourse(current: CallCourse | undefined, event: CourseEvent): CourseStep {
  const course: CallCourse = { ...(current ?? newCourse(event.at)), lastActivityAt: event.at };
  const { phase } = course;
  switch (event.type) {
    case "stream started":
      return streamStarted(course);
    case "state":
      // After the end the words are not kept: the record desk has its own copy.
      if (phase.name === "over") return { course };
      return { course: { ...course, conversation: { state: event.state, at: event.at } } };
    case "caller stopped":
      if (phase.name !== "streaming") return { course };
      return end({ ...course, phase: { ...phase, callerStopped: true } }, "hang up", callerEndReason(phase.ending), event.at);
    case "core ended":
      return firstEnding(course, { kind: "core end", reason: event.reason, ...(event.transferReason ? { transferReason: event.transferReason } : {}) });
    case "core closed":
      return firstEnding(course, { kind: "core closed" });
    case "core lost":
      return firstEnding(course, { kind: "core lost" });
    case "stream ended":
      return streamEnded(course, event.callStatus, event.staffNumber, event.at);
    case "dial ended":
      return dialEnded(course, event.dialStatus, event.callStatus, event.at);
  }
}

function streamStarted(course: CallCourse): CourseStep {
  const { phase, transfer } = course;
  const streaming: CoursePhase = { name: "streaming", callerStopped: false, ending: null };
  if (phase.name !== "returning") return { course: { ...course, phase: streaming }, opening: { kind: "greet" } };
  return {
    course: { ...course, phase: streaming, transfer: transfer && { ...transfer, returnedToAgent: true } },
    opening: { kind: "resume", state: course.conversation?.state ?? null, transfer: { outcome: phase.outcome } },
  };
}

function firstEnding(course: CallCourse, ending: StreamEnding): CourseStep {
  const { phase } = course;
  if (phase.name !== "streaming" || phase.ending) return { course };
  return { course: { ...course, phase: { ...phase, ending } } };
}

function streamEnded(course: CallCourse, callStatus: string | undefined, staffNumber: string | null, at: number): CourseStep {
  const { phase } = course;
  switch (phase.name) {
    // A repeated request (Twilio retries) gets the answer it got.
    case "over":
      return { course, direction: { kind: phase.direction } };
    case "dialling":
      return { course, direction: { kind: "dial staff", to: course.transfer?.to ?? "" } };
    case "returning":
      return { course, direction: { kind: "reconnect", outcome: phase.outcome } };
    case "streaming":
      break;
  }
  const { ending } = phase;
  // The caller hung up: whatever the core meant to do, there is nobody left to do it with.
  if (phase.callerStopped || (callStatus !== undefined && CALLER_GONE.has(callStatus))) {
    return end(course, "hang up", callerEndReason(ending), at);
  }
  if (ending === null || ending.kind === "core lost") return end(course, "fallback", "fallback", at);
  if (ending.kind === "core closed") return end(course, "hang up", "limit", at);
  if (ending.reason !== "transfer") return end(course, "hang up", ending.reason, at);
  const reason = ending.transferReason ?? null;
  if (staffNumber === null) {
    return {
      course: { ...course, phase: { name: "returning", outcome: "failed" }, transfer: { to: "", reason, outcome: "failed", returnedToAgent: false } },
      direction: { kind: "reconnect", outcome: "failed" },
      notice: "transfer asked for but STAFF_NUMBER is not set: the caller goes back to the agent",
    };
  }
  return {
    course: { ...course, phase: { name: "dialling" }, transfer: { to: staffNumber, reason, outcome: "pending", returnedToAgent: false } },
    direction: { kind: "dial staff", to: staffNumber },
  };
}

function dialEnded(course: CallCourse, dialStatus: string | undefined, callStatus: string | undefined, at: number): CourseStep {
  const { phase } = course;
  if (phase.name === "over") return { course, direction: { kind: phase.direction } };
  if (phase.name === "returning") return { course, direction: { kind: "reconnect", outcome: phase.outcome } };
  // Dialling, or (the ledger lost the order, or the dial-ended outran nothing) a stream phase: read the dial as it is.
  const outcome = dialOutcome(dialStatus);
  const transfer: TransferCourse = { to: course.transfer?.to ?? "", reason: course.transfer?.reason ?? null, returnedToAgent: false, outcome };
  const dialled = { ...course, transfer };
  if (dialReachedStaff(outcome)) return end(dialled, "hang up", "transfer", at);
  if (callStatus !== undefined && CALLER_GONE.has(callStatus)) return end(dialled, "hang up", "caller", at);
  // Not reached, so one of the outcomes that send the caller back (dialReachedStaff is the protocol's rule).
  const back = outcome as ReturnOutcome;
  return { course: { ...dialled, phase: { name: "returning", outcome: back } }, direction: { kind: "reconnect", outcome: back } };
}

/** DialCallStatus as one of Twilio's outcomes; anything else is a failed dial. */
export function dialOutcome(status: string | undefined): DialOutcome {
  return (DIAL_OUTCOMES as readonly string[]).includes(status ?? "") ? (status as DialOutcome) : "failed";
}

/** Why a call the caller left ended: the agent's or the silence's goodbye may have come first. */
function callerEndReason(ending: StreamEnding | null): CallEnding["endReason"] {
  if (ending?.kind === "core end" && ending.reason !== "transfer") return ending.reason;
  if (ending?.kind === "core closed") return "limit";
  return "caller";
}

/** The call is over for good: the words and the whisper are dropped, the record desk told once. */
function end(course: CallCourse, direction: "hang up" | "fallback", endReason: CallEnding["endReason"], at: number): CourseStep {
  const { transfer } = course;
  const ended: CallEnding = {
    endReason,
    endedAt: at,
    ...(transfer ? { transfer: { to: transfer.to, outcome: transfer.outcome, returnedToAgent: transfer.returnedToAgent } } : {}),
  };
  return {
    course: { ...course, phase: { name: "over", direction }, conversation: null, transfer: transfer && { ...transfer, reason: null } },
    direction: { kind: direction },
    ended,
  };
}

/** The agent's reason for the staff member's whisper, while the transfer rings. */
export function whisperReason(course: CallCourse | undefined): string | null {
  return course?.phase.name === "dialling" ? (course.transfer?.reason ?? null) : null;
}
