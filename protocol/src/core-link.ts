// The edge <-> core WebSocket. The edge relays Twilio's frames verbatim in both directions;
// the few messages that are ours alone carry an event name with an "edge." or "core." prefix,
// so the relay can tell them apart from Twilio's by looking at the first bytes of the text.
import { z } from "zod";
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
});

export const edgeToCore = z.union([twilioInboundFrame, edgeGreeting]);
/** The core speaks only Twilio's outbound frames for now. */
export const coreToEdge = twilioOutboundFrame;

export type EdgeGreeting = z.infer<typeof edgeGreeting>;
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
