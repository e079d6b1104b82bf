// The edge <-> core WebSocket. The edge relays Twilio's frames verbatim in both directions;
// the few messages that are ours alone carry an event name with an "edge." or "core." prefix,
// so the relay can tell them apart from Twilio's by looking at the first bytes of the text.
// The edge's own messages (edge.greeting, edge.resume) and each direction as one schema are in
// link-frames.ts.
// zod/mini, imported as a namespace: a bundle then keeps only the parts used (`import { z }` keeps them all).
import * as z from "zod/mini";
import "./zod-english.js";

/** Path of the core's call WebSocket; the edge authenticates with `Authorization: Bearer <core token>`. */
export const CORE_CALL_PATH = "/call";

/** Bounds of a handed-over conversation: far above what HISTORY_MAX_TOKENS keeps, far below abuse. */
export const MAX_STATE_MESSAGES = 200;
export const MAX_STATE_MESSAGE_CHARS = 4000;

const upTo = (max: number) => z.string().check(z.maxLength(max));
const nonEmptyUpTo = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));
const messageText = upTo(MAX_STATE_MESSAGE_CHARS);

/**
 * What a core needs to continue a call another core began: the turns answered so far and the
 * conversation as the caller heard it (an interrupted answer only up to what was played).
 */
const stateToolCall = z.object({ id: nonEmptyUpTo(200), name: nonEmptyUpTo(64), arguments: messageText });

/** One message of the conversation: the caller's, the agent's (with the tools it called), or a tool's result. */
const stateMessage = z.union([
  z.object({ role: z.literal("user"), content: messageText }),
  z.object({ role: z.literal("assistant"), content: messageText, toolCalls: z.optional(z.array(stateToolCall).check(z.maxLength(8))) }),
  z.object({ role: z.literal("tool"), content: messageText, toolCallId: nonEmptyUpTo(200), name: nonEmptyUpTo(64) }),
]);

export const conversationState = z.object({
  turns: z.int().check(z.nonnegative()),
  history: z.array(stateMessage).check(z.maxLength(MAX_STATE_MESSAGES)),
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

/** Close code of a core link the core ends because it is draining (after `core.move`). */
export const CLOSE_CORE_MOVING = 1012;

export type ConversationState = z.infer<typeof conversationState>;
export type CoreState = z.infer<typeof coreState>;
export type CoreMove = z.infer<typeof coreMove>;

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
