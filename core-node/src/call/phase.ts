// Where a call is in its life, as one value. Pure: a phase and an event in, the next phase out (or
// undefined: the event means nothing in this phase and is ignored).
//
//   awaiting start --start--> started --opening--> live
//        |                      |                   |
//        |                      +------ wrapUp -----+--> wrapping up --end--> ended
//        +-------------- drain -+-------------------+--> draining ----end--> ended
//   (end from any phase but ended)
//
// started: the caller's `start` was accepted; the edge's opening (greeting, or a resume) has not
// come yet. wrapping up: the core is ending the call itself (a limit, or the agent: end_call, a
// transfer, a silent caller) and its last words play; it listens no more. draining: the process is stopping and the call is being moved to another core; the caller
// is still heard (an utterance in progress is let finish) but nothing new is answered.
import type { CallEndReason } from "./call-stats.js";

/**
 * Why the core ends a call itself, after its last words: CALL_LIMIT_TEXT (a limit), the agent's
 * farewell (end_call), the transfer announcement, the goodbye to a silent caller.
 */
export type WrapUpReason = Extract<CallEndReason, "time limit" | "budget" | "agent" | "transfer" | "idle">;

export type CallPhase =
  | { name: "awaiting start" }
  | { name: "started" }
  | { name: "live" }
  | { name: "wrapping up"; reason: WrapUpReason }
  | { name: "draining" }
  | { name: "ended"; reason: CallEndReason };

export type PhaseEvent =
  | { type: "start" }
  | { type: "opening" }
  | { type: "wrapUp"; reason: WrapUpReason }
  | { type: "drain" }
  | { type: "end"; reason: CallEndReason };

export const AWAITING_START: CallPhase = { name: "awaiting start" };

export function nextPhase(phase: CallPhase, event: PhaseEvent): CallPhase | undefined {
  switch (event.type) {
    case "start":
      return phase.name === "awaiting start" ? { name: "started" } : undefined;
    case "opening":
      return phase.name === "started" ? { name: "live" } : undefined;
    case "wrapUp":
      return phase.name === "started" || phase.name === "live" ? { name: "wrapping up", reason: event.reason } : undefined;
    case "drain":
      return phase.name === "awaiting start" || phase.name === "started" || phase.name === "live" ? { name: "draining" } : undefined;
    case "end":
      return phase.name === "ended" ? undefined : { name: "ended", reason: event.reason };
  }
}

/** The caller's frames are still heard: audio, keys and the call's opening. */
export function listens(phase: CallPhase): boolean {
  return phase.name !== "wrapping up" && phase.name !== "ended";
}

/** A caller's turn is answered here (not while moving to another core or ending). */
export function answers(phase: CallPhase): boolean {
  return phase.name === "started" || phase.name === "live";
}

