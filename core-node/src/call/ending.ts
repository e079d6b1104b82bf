// How the core ends a call itself, as a shell over the session's parts: its last words (the agent's
// farewell, the transfer announcement, the goodbye to a silent caller, CALL_LIMIT_TEXT) play to their
// end mark's echo, on the caller's clock, then `core.end` tells the edge what comes next (hang up, or
// ring the staff) and the link closes. And what the session hands over once its part of the call
// ended: the conversation as heard, for the call's record.
import type { CoreEnd } from "@voice/protocol";
import type { Logger } from "../metrics/log.js";
import type { CallRecordInput, RecordSender } from "../record/ports.js";
import type { Answer } from "./answer.js";
import { endMarkOf, type Conversation } from "./conversation.js";
import type { WrapUpReason } from "./phase.js";
import type { Timers, Waits } from "./timers.js";

/** A wrapped-up call closes this long after the wrap-up began at the latest, even if its last mark never comes back. */
export const WRAP_UP_MAX_MS = 10_000;

/**
 * What the edge is told when the core ends a call. A limit (MAX_CALL_MS, a budget) is a planned end
 * like the agent's goodbye: the edge hangs up, where a link closed without `core.end` would send the
 * caller to the human fallback.
 */
export function coreEndOf(reason: WrapUpReason): CoreEnd {
  return { event: "core.end", reason: reason === "idle" || reason === "transfer" ? reason : "agent" };
}

export interface EndingPort {
  conversation: Conversation;
  timers: Timers;
  waits: Waits;
  log: Logger;
  send(frame: string): void;
  ended(): boolean;
  /** Ends the call (the session's finish) and closes the link with 1000. */
  close(reason: WrapUpReason): void;
}

/**
 * `lastWords` is all sent and its end mark echoed (at most WRAP_UP_MAX_MS after now), then `end` goes
 * to the edge and the call is closed. The caller hanging up meanwhile ends it without either.
 */
export function endAfterLastWords(port: EndingPort, lastWords: Answer, reason: WrapUpReason, end: CoreEnd): void {
  const endMark = endMarkOf(lastWords.turn);
  const close = (played: boolean) => {
    if (port.ended()) return;
    if (!played) port.log.warn({ reason, waited_ms: WRAP_UP_MAX_MS }, "the last words did not finish playing in time; ending the call");
    port.send(JSON.stringify(end));
    port.close(reason);
  };
  port.timers.arm("wrap-up", WRAP_UP_MAX_MS, () => close(false));
  void lastWords.speaker
    .finish()
    .then(() => port.waits.until(() => !port.conversation.outstanding(endMark), WRAP_UP_MAX_MS))
    .then(close);
}

/**
 * Hands the conversation over for the call's record, off the call's path. Never rejects: a failure
 * is one line, and the edge still delivers a record without the core's part.
 */
export function handOverRecord(send: RecordSender | undefined, input: CallRecordInput, log: Logger): Promise<void> {
  if (!send) return Promise.resolve();
  return Promise.resolve()
    .then(() => send(input))
    .catch((error: unknown) => log.error({ error }, "call record hand-over failed"));
}
