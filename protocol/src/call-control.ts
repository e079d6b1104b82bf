// How a call ends or moves, as the edge and the core agree on it. The edge is the only part that
// speaks to Twilio: the core says what should happen once the caller has heard its last words
// (`core.end`), the edge ends the media stream, and Twilio asks the stream's <Connect action> what
// next; the edge answers from the call's ledger (hang up, ring the staff, or — when nobody said
// anything because the stream died — the human fallback).
// zod/mini, imported as a namespace: a bundle then keeps only the parts used (`import { z }` keeps them all).
import * as z from "zod/mini";
import "./zod-english.js";

/**
 * Why the core ends its part of the call:
 * - "agent": the agent said goodbye (the end_call tool, or the farewell of a finished conversation);
 * - "idle": the caller stayed silent through IDLE_MAX_REPROMPTS reprompts and the goodbye;
 * - "transfer": the caller is to be put through to the business's staff (transfer_to_staff).
 */
export const CORE_END_REASONS = ["agent", "idle", "transfer"] as const;
export type CoreEndReason = (typeof CORE_END_REASONS)[number];

/**
 * Sent by the core once the last thing the caller should hear has played (its mark echoed). The edge
 * records the reason in the call's ledger and closes the media stream; the core closes the link next.
 * `transferReason`: the agent's few words for the staff member's whisper (transfers only).
 */
export const coreEnd = z.object({
  event: z.literal("core.end"),
  reason: z.enum(CORE_END_REASONS),
  transferReason: z.optional(z.string().check(z.trim(), z.minLength(1), z.maxLength(200))),
});
export type CoreEnd = z.infer<typeof coreEnd>;

/**
 * How a transfer's <Dial> ended, as Twilio's DialCallStatus says it. "completed": the staff member
 * answered and the call is theirs; anything else sends the caller back to the agent.
 */
export const DIAL_OUTCOMES = ["completed", "answered", "busy", "no-answer", "failed", "canceled"] as const;
export type DialOutcome = (typeof DIAL_OUTCOMES)[number];

/** A transfer the caller came back from (nobody answered, busy, failed): told to the core on resume. */
export const transferReturn = z.object({ outcome: z.enum(["busy", "no-answer", "failed", "canceled"]) });
export type TransferReturn = z.infer<typeof transferReturn>;

/** Whether a dial outcome put the caller through to a person. */
export function dialReachedStaff(outcome: string): boolean {
  return outcome === "completed" || outcome === "answered";
}
