// A tool request exactly as the tool contract defines it: the JSON body, the idempotency key, and
// the signature the business's service checks (HMAC-SHA256 over "<timestamp>.<raw body>"). No I/O
// and no clock: the time arrives as a number. (Not listed as a pure module only because it loads
// node:crypto.)
import { createHmac } from "node:crypto";
import type { ToolCallContext, ToolSpec } from "./types.js";

export const TIMESTAMP_HEADER = "x-voice-timestamp";
export const SIGNATURE_HEADER = "x-voice-signature";
export const IDEMPOTENCY_HEADER = "idempotency-key";

/** `v1=<lowercase hex HMAC-SHA256(secret, "<timestampMs>.<rawBody>")>`. */
export function toolRequestSignature(secret: string, timestampMs: number, rawBody: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestampMs}.${rawBody}`, "utf8").digest("hex")}`;
}

/** The key that makes a repeated request (a retry, a resumed core) the same request: `<CallSid>:<tool_call_id>`. */
export function idempotencyKey(context: Pick<ToolCallContext, "callSid" | "toolCallId">): string {
  return `${context.callSid}:${context.toolCallId}`;
}

export interface SignedToolRequest {
  url: string;
  headers: Record<string, string>;
  /** The raw body, exactly the bytes signed. */
  body: string;
}

/** The POST for one attempt of a tool call, signed at `nowMs` (each attempt is signed afresh; the key stays). */
export function toolRequest(tool: ToolSpec, args: unknown, context: ToolCallContext, secret: string, nowMs: number): SignedToolRequest {
  const key = idempotencyKey(context);
  const body = JSON.stringify({
    tool: tool.name,
    arguments: args ?? {},
    call: { callSid: context.callSid, ...(context.from ? { from: context.from } : {}), ...(context.to ? { to: context.to } : {}) },
    idempotencyKey: key,
  });
  const timestamp = Math.trunc(nowMs);
  return {
    url: tool.endpoint,
    headers: {
      "content-type": "application/json",
      [TIMESTAMP_HEADER]: String(timestamp),
      [SIGNATURE_HEADER]: toolRequestSignature(secret, timestamp, body),
      [IDEMPOTENCY_HEADER]: key,
    },
    body,
  };
}
