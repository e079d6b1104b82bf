// Every frame each link carries, as one schema per direction, and the edge's own messages to the
// core. Their readers are the core and whoever plays Twilio or the edge in tests; the edge itself
// never parses these (it relays Twilio's frames unparsed and only builds edge.greeting and
// edge.resume), so they live apart from the messages it does parse: its bundle then holds none of
// the zod they need (a discriminated union, a URL check: a few KB each).
// zod/mini, imported as a namespace: a bundle then keeps only the parts used (`import { z }` keeps them all).
import * as z from "zod/mini";
import "./zod-english.js";
import { coreEnd, transferReturn } from "./call-control.js";
import { conversationState, coreMove, coreState } from "./core-link.js";
import { clearFrame, connectedFrame, dtmfFrame, inboundMediaFrame, markFrame, outboundMediaFrame, startFrame, stopFrame } from "./twilio.js";

/** Twilio -> us. */
export const twilioInboundFrame = z.discriminatedUnion("event", [
  connectedFrame,
  startFrame,
  inboundMediaFrame,
  markFrame,
  dtmfFrame,
  stopFrame,
]);

/** Us -> Twilio. */
export const twilioOutboundFrame = z.discriminatedUnion("event", [outboundMediaFrame, markFrame, clearFrame]);

/** Sent by the edge right after `start`: whether the greeting was played from KV. */
export const edgeGreeting = z.object({
  event: z.literal("edge.greeting"),
  played: z.boolean(),
  /** Text of the greeting the caller hears, so the core can put it in the conversation. */
  text: z.string(),
  /** Name of the mark the edge sent after the greeting audio; its echo means the greeting finished. */
  mark: z.optional(z.string()),
  /** Where the core posts its part of the call's record when its part ends (call-record.ts). */
  recordUrl: z.optional(z.url()),
});

/**
 * Sent by the edge right after `start` in place of `edge.greeting` when it re-opens a call on a new
 * core: the greeting was heard long ago and the conversation goes on from `state` (null when the
 * previous core had sent none yet). `attempt` counts the re-opens of this call.
 */
export const edgeResume = z.object({
  event: z.literal("edge.resume"),
  state: z.nullable(conversationState),
  attempt: z.int().check(z.positive()),
  /** As in edge.greeting. */
  recordUrl: z.optional(z.url()),
  /** The caller is back from a transfer nobody took (call-control.ts): the agent picks up from there. */
  transfer: z.optional(transferReturn),
});

/** Twilio's inbound frames, relayed verbatim by the edge, and the edge's own messages. */
export const edgeToCore = z.union([twilioInboundFrame, edgeGreeting, edgeResume]);
/** Twilio's outbound frames, relayed verbatim by the edge, and the core's own control messages. */
export const coreToEdge = z.union([twilioOutboundFrame, coreState, coreMove, coreEnd]);

export type TwilioInboundFrame = z.infer<typeof twilioInboundFrame>;
export type TwilioOutboundFrame = z.infer<typeof twilioOutboundFrame>;
export type EdgeGreeting = z.infer<typeof edgeGreeting>;
export type EdgeResume = z.infer<typeof edgeResume>;
export type EdgeToCore = z.infer<typeof edgeToCore>;
export type CoreToEdge = z.infer<typeof coreToEdge>;
