// The softphone's own WebSocket, between the page and its server (both in this folder; neither is
// Twilio's wire, which the server speaks to the edge). Binary messages are audio both ways: a 20 ms
// frame of 8 kHz mu-law from the page's microphone, the agent's mu-law towards its speakers, in order
// with the JSON text messages around them (a mark follows the audio before it). The page imports
// types only from here (its bundle carries no zod).
import { z } from "zod";
import type { CoreCallLine } from "../local/core-call-log.js";

/** What the page sends as text; the server checks each one and answers a bad one with an `error`. */
export const PageMessage = z.discriminatedUnion("type", [
  /** What the speech emulator should hear for the caller's next utterance. */
  z.strictObject({ type: z.literal("say"), text: z.string().trim().min(1).max(1000) }),
  /** The playback reached (or a clear dropped) the mark: it goes back to the edge as Twilio's echo. */
  z.strictObject({ type: z.literal("played"), name: z.string().max(2000) }),
  /** The page heard the answer of `turn` in stream `stream` begin at `atMs` on that stream's audio clock. */
  z.strictObject({ type: z.literal("heard"), stream: z.number().int().nonnegative(), turn: z.number().int().nonnegative(), atMs: z.number().nonnegative() }),
  z.strictObject({ type: z.literal("hangup") }),
]);
export type PageMessage = z.infer<typeof PageMessage>;

/** Heard facts of a call, by "<stream>:<turn>" (page/call-view.ts heardKey): ms on that stream's audio clock. */
export type HeardFacts = Record<string, number>;

/** Where a live script stands (the speech emulator's; see infra/caller-scripts/registration.ts). */
export interface ScriptState {
  taken: number;
  waiting: number;
  wordlessUtterances: number;
}

/** What the server sends as text. */
export type ServerMessage =
  /** The call is placed; `offline`: the speech emulator listens, and the page's words are what it hears. */
  | { type: "call"; callSid: string; offline: boolean }
  | { type: "status"; text: string }
  /** A media stream opened: its audio clock's 0 is the page's frame `firstFrame` (20 ms each, from the call's start). */
  | { type: "stream"; index: number; firstFrame: number }
  | { type: "mark"; name: string }
  | { type: "clear" }
  /** A line the core wrote about this call. */
  | { type: "line"; line: CoreCallLine }
  | { type: "script"; state: ScriptState }
  | { type: "ended"; text: string }
  | { type: "error"; message: string };

/** A call of this softphone session, as GET /calls lists it. */
export interface PastCall {
  callSid: string;
  startedAt: string;
  /** How it ended; null while it runs. */
  ended: string | null;
  lines: CoreCallLine[];
  heard: HeardFacts;
}
