// The record of a call: what the business gets after every call (CALL_RECORD_URL), and the part of
// it a core contributes. The edge's per-call desk assembles the record from what it saw (numbers,
// times, how the call ended, the transfer) and what the core sent (the conversation as heard, the
// tools, the message taken, the summary), and delivers it once, signed, even when the core died
// mid-call (then from the last conversation state the edge holds, without a summary).
//
//   core -> edge:   POST <recordUrl>   Authorization: Bearer <core token, purpose "record", this call>
//                   body: CoreRecordPart (JSON)
//   edge -> business: POST CALL_RECORD_URL   x-voice-timestamp: <ms>   x-voice-signature: v1=<hex>
//                   body: CallRecord (JSON); signature = HMAC-SHA256(CALL_RECORD_SECRET, "<ms>.<raw body>")
//                   the same record (same body, `recordId`) is retried until a 2xx; a receiver
//                   keeps the first of a recordId.
// zod/mini, imported as a namespace: a bundle then keeps only the parts used (`import { z }` keeps them all).
import * as z from "zod/mini";
import "./zod-english.js";
import { hmac, timingSafeEqual, toHex } from "./crypto.js";

/** The path on the edge where a core posts its part of a call's record. */
export const CORE_RECORD_PATH = "/calls/record";

export const RECORD_TIMESTAMP_HEADER = "x-voice-timestamp";
export const RECORD_SIGNATURE_HEADER = "x-voice-signature";
/** How far a record's timestamp may lie from the receiver's clock (a replay after this is refused). */
export const RECORD_REPLAY_WINDOW_MS = 5 * 60_000;

const upTo = (max: number) => z.string().check(z.maxLength(max));
const text = upTo(4000);

/** One thing said, as the caller heard it (an interrupted answer only as far as it was played). */
export const recordUtterance = z.object({ speaker: z.enum(["caller", "agent"]), text });

/** A tool the agent called and what came back (the result as the model was given it). */
export const recordToolCall = z.object({
  name: upTo(64),
  arguments: z.unknown(),
  ok: z.boolean(),
  result: z.unknown(),
});

/** A message the caller left for a call back (the take_message tool). */
export const recordCallback = z.object({
  name: z.nullable(upTo(200)),
  phone: z.nullable(upTo(40)),
  reason: upTo(1000),
});

/** The structured outcome of the call, from the summary. */
export const recordOutcome = z.object({
  /** What the caller wanted, in a few words ("book an appointment", "opening hours", ...). */
  intent: upTo(200),
  /** The caller's name when they gave it. */
  name: z.nullable(upTo(200)),
  callbackRequested: z.boolean(),
  callbackReason: z.nullable(upTo(1000)),
});

/** What a core knows of the call when its part ends (its session closes). */
export const coreRecordPart = z.object({
  callSid: z.string().check(z.minLength(1), z.maxLength(64)),
  conversation: z.array(recordUtterance).check(z.maxLength(400)),
  tools: z.array(recordToolCall).check(z.maxLength(100)),
  callback: z.nullable(recordCallback),
  /** A short summary in the call's language, from one LLM call after the caller was gone; null when it failed. */
  summary: z.nullable(upTo(2000)),
  outcome: z.nullable(recordOutcome),
  /** Why there is no summary (one line), when there is none. */
  summaryError: z.optional(upTo(300)),
  /** The core's CALL line end_reason for its part. */
  endReason: upTo(40),
});
export type CoreRecordPart = z.infer<typeof coreRecordPart>;

/**
 * How the call ended, for the business: "caller" hung up; the "agent" said goodbye; "idle" (silent
 * caller); "transfer" (put through to staff: see `transfer`); "fallback" (the AI path failed and the
 * caller was sent to FALLBACK_NUMBER); "limit" (a call limit); "error".
 */
export const RECORD_END_REASONS = ["caller", "agent", "idle", "transfer", "fallback", "limit", "error"] as const;

export const callRecord = z.object({
  /** Unique per call: the receiver's key for retried deliveries. */
  recordId: z.string(),
  callSid: z.string(),
  from: z.nullable(z.string()),
  to: z.nullable(z.string()),
  startedAt: z.string(),
  endedAt: z.string(),
  durationMs: z.int().check(z.nonnegative()),
  endReason: z.enum(RECORD_END_REASONS),
  conversation: z.array(recordUtterance),
  tools: z.array(recordToolCall),
  transfer: z.nullable(
    z.object({
      /** The staff number dialled. */
      to: z.string(),
      /** DialCallStatus, or "pending" when the record was sent before the dial ended. */
      outcome: z.string(),
      returnedToAgent: z.boolean(),
    }),
  ),
  callback: z.nullable(recordCallback),
  summary: z.nullable(z.string()),
  outcome: z.nullable(recordOutcome),
  /** Why the record has no summary (the core died, the summary call failed). */
  summaryError: z.optional(z.string()),
});
export type CallRecord = z.infer<typeof callRecord>;

/** `v1=<hex HMAC-SHA256(secret, "<timestampMs>.<rawBody>")>` — the same scheme as the tool requests. */
export async function recordSignature(secret: string, timestampMs: number, rawBody: string): Promise<string> {
  return `v1=${toHex(await hmac("SHA-256", secret, `${Math.trunc(timestampMs)}.${rawBody}`))}`;
}

/** Checks a delivered record's signature and timestamp at `nowMs`; a one-line reason when refused. */
export async function verifyRecordSignature(
  secret: string,
  headers: { timestamp: string | null | undefined; signature: string | null | undefined },
  rawBody: string,
  nowMs: number,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const timestamp = Number(headers.timestamp);
  if (!headers.timestamp || !Number.isSafeInteger(timestamp)) return { ok: false, reason: `${RECORD_TIMESTAMP_HEADER}: missing or not milliseconds` };
  if (Math.abs(nowMs - timestamp) > RECORD_REPLAY_WINDOW_MS) return { ok: false, reason: `${RECORD_TIMESTAMP_HEADER}: outside the replay window` };
  const expected = await recordSignature(secret, timestamp, rawBody);
  if (!headers.signature || !timingSafeEqual(headers.signature, expected)) return { ok: false, reason: `${RECORD_SIGNATURE_HEADER}: does not match` };
  return { ok: true };
}
