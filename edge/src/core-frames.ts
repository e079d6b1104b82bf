// What a text frame from the core means to the edge. Twilio's outbound frames (and anything else
// that is not one of our control messages) go to the caller verbatim and unparsed; only a control
// message is parsed, and one that does not validate is dropped with the reason. Pure.
import { coreEnd, type CoreEnd } from "@voice/protocol/call-control";
import { coreMove, coreState, isControlMessage, peekEvent, type ConversationState } from "@voice/protocol/core-link";
import { isMediaFrame, parseJson } from "./frames.js";

export type CoreFrame =
  | { kind: "to caller" }
  | { kind: "state"; state: ConversationState }
  | { kind: "move"; reason: string }
  /** The core's part is over and the caller heard its last words: how the call should go on. */
  | { kind: "end"; end: CoreEnd }
  | { kind: "invalid"; reason: string; issue: string | undefined }
  /** A control message this edge does not know (a newer core): not for the caller, not an error. */
  | { kind: "unknown"; event: string | undefined };

export function classifyCoreFrame(text: string): CoreFrame {
  if (isMediaFrame(text) || !isControlMessage(text)) return { kind: "to caller" };
  const event = peekEvent(text);
  if (event === "core.state") {
    const parsed = coreState.safeParse(parseJson(text));
    if (!parsed.success) return { kind: "invalid", reason: "invalid core.state", issue: parsed.error.issues[0]?.message };
    return { kind: "state", state: parsed.data.state };
  }
  if (event === "core.move") {
    const parsed = coreMove.safeParse(parseJson(text));
    if (!parsed.success) return { kind: "invalid", reason: "invalid core.move", issue: parsed.error.issues[0]?.message };
    return { kind: "move", reason: parsed.data.reason };
  }
  if (event === "core.end") {
    const parsed = coreEnd.safeParse(parseJson(text));
    if (!parsed.success) return { kind: "invalid", reason: "invalid core.end", issue: parsed.error.issues[0]?.message };
    return { kind: "end", end: parsed.data };
  }
  return { kind: "unknown", event: event?.slice(0, 40) };
}
