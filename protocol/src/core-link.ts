// The edge <-> core WebSocket. The edge relays Twilio's frames verbatim in both directions;
// the few messages that are ours alone carry an event name with an "edge." or "core." prefix,
// so the relay can tell them apart from Twilio's by looking at the first bytes of the text.
import { z } from "zod";
import { coreEnd, transferReturn } from "./call-control.js";
import { twilioInboundFrame, twilioOutboundFrame } from "./twilio.js";

/** Path of the core's call WebSocket; the edge authenticates with `Authorization: Bearer <core token>`. */
export const CORE_CALL_PATH = "/call";

/** Sent by the edge right after `start`: whether the greeting was played from KV. */
export const edgeGreeting = z.object({
  event: z.literal("edge.greeting"),
  played: z.boolean(),
  /** Text of the greeting the caller hears, so the core can put it in the conversation. */
  text: z.string(),
  /** Name of the mark the edge sent after the greeting audio; its echo means the greeting finished. */
  mark: z.string().optional(),
  /** Where the core posts its part of the call's record when its part ends (call-record.ts). */
  recordUrl: z.string().url().optional(),
});

/** Bounds of a handed-over conversation: far above what HISTORY_MAX_TOKENS keeps, far below abuse. */
export const MAX_STATE_MESSAGES = 200;
export const MAX_STATE_MESSAGE_CHARS = 4000;

/**
 * What a core needs to continue a call another core began: the turns answered so far and the
 * conversation as the caller heard it (an interrupted answer only up to what was played).
 */
const stateToolCall = z.object({ id: z.string().min(1).max(200), name: z.string().min(1).max(64), arguments: z.string().max(MAX_STATE_MESSAGE_CHARS) });

/** One message of the conversation: the caller's, the agent's (with the tools it called), or a tool's result. */
const stateMessage = z.union([
  z.object({ role: z.literal("user"), content: z.string().max(MAX_STATE_MESSAGE_CHARS) }),
  z.object({ role: z.literal("assistant"), content: z.string().max(MAX_STATE_MESSAGE_CHARS), toolCalls: z.array(stateToolCall).max(8).optional() }),
  z.object({ role: z.literal("tool"), content: z.string().max(MAX_STATE_MESSAGE_CHARS), toolCallId: z.string().min(1).max(200), name: z.string().min(1).max(64) }),
]);

export const conversationState = z.object({
  turns: z.number().int().nonnegative(),
  history: z.array(stateMessage).max(MAX_STATE_MESSAGES),
});

/**
 * Sent by the core whenever the conversation changed (a caller turn was taken, an answer was
 * heard or cut); the edge keeps only the latest one, to hand to the next core if this one goes.
 */
export const coreState = z.object({ event: z.literal("core.state"), state: conversationState });

/**
 * Sent by a draining core (SIGTERM: rollout, scale-in) once the sentence in flight has played: the
 * edge should open a new core link for the call and resume it there. The core closes the link next.
 */
export const coreMove = z.object({ event: z.literal("core.move"), reason: z.string() });

/**
 * Sent by the edge right after `start` in place of `edge.greeting` when it re-opens a call on a new
 * core: the greeting was heard long ago and the conversation goes on from `state` (null when the
 * previous core had sent none yet). `attempt` counts the re-opens of this call.
 */
export const edgeResume = z.object({
  event: z.literal("edge.resume"),
  state: conversationState.nullable(),
  attempt: z.number().int().positive(),
  /** As in edge.greeting. */
  recordUrl: z.string().url().optional(),
  /** The caller is back from a transfer nobody took (call-control.ts): the agent picks up from there. */
  transfer: transferReturn.optional(),
});

/** Close code of a core link the core ends because it is draining (after `core.move`). */
export const CLOSE_CORE_MOVING = 1012;

export const edgeToCore = z.union([twilioInboundFrame, edgeGreeting, edgeResume]);
/** Twilio's outbound frames, relayed verbatim by the edge, and the core's own control messages. */
export const coreToEdge = z.union([twilioOutboundFrame, coreState, coreMove, coreEnd]);

export type EdgeGreeting = z.infer<typeof edgeGreeting>;
export type EdgeResume = z.infer<typeof edgeResume>;
export type ConversationState = z.infer<typeof conversationState>;
export type CoreState = z.infer<typeof coreState>;
export type CoreMove = z.infer<typeof coreMove>;
export type EdgeToCore = z.infer<typeof edgeToCore>;
export type CoreToEdge = z.infer<typeof coreToEdge>;

/** Cheap test used by the relay: is this text one of our own control messages (not for Twilio)? */
export function isControlMessage(text: string): boolean {
  // Every message we build starts with {"event":"; Twilio's start with other keys or the event.
  return text.startsWith('{"event":"edge.') || text.startsWith('{"event":"core.');
}

/** Reads the event name of a frame without parsing the whole JSON (frames we build put it first). */
export function peekEvent(text: string): string | undefined {
  const at = text.indexOf('"event":"');
  if (at < 0 || at > 64) return undefined;
  const from = at + 9;
  const to = text.indexOf('"', from);
  return to > from ? text.slice(from, to) : undefined;
}
