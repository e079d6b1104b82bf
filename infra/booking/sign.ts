// The tool contract's request signature, both ends: how the core signs a tool request and how a
// business's service checks it. No I/O and no clock (the time arrives as a number); not listed as a
// pure module only because it loads node:crypto. core-node/src/tools/sign.ts is the core's own
// signer: sign.test.ts holds the two to the same bytes.
import { createHmac, timingSafeEqual } from "node:crypto";

export const TIMESTAMP_HEADER = "x-voice-timestamp";
export const SIGNATURE_HEADER = "x-voice-signature";
export const IDEMPOTENCY_HEADER = "idempotency-key";
/** A request signed further than this from the service's clock (either way) is refused. */
export const REPLAY_WINDOW_MS = 300_000;

/** `v1=<lowercase hex HMAC-SHA256(secret, "<timestampMs>.<rawBody>")>`. */
export function toolSignature(secret: string, timestampMs: number | string, rawBody: string | Uint8Array): string {
  return `v1=${createHmac("sha256", secret).update(`${timestampMs}.`, "utf8").update(rawBody).digest("hex")}`;
}

/** What one tool call carries: the tool, the model's arguments, the call, and the model's id for this tool call. */
export interface ToolCallInput {
  tool: string;
  arguments: unknown;
  call: { callSid: string; from?: string; to?: string };
  toolCallId: string;
}

export interface SignedToolRequest {
  headers: Record<string, string>;
  /** Exactly the bytes signed. */
  body: string;
}

/** The body and headers of one attempt, signed at `nowMs`, as the core sends them. */
export function signToolRequest(secret: string, input: ToolCallInput, nowMs: number): SignedToolRequest {
  const key = `${input.call.callSid}:${input.toolCallId}`;
  const { callSid, from, to } = input.call;
  const body = JSON.stringify({
    tool: input.tool,
    arguments: input.arguments ?? {},
    call: { callSid, ...(from ? { from } : {}), ...(to ? { to } : {}) },
    idempotencyKey: key,
  });
  const timestamp = Math.trunc(nowMs);
  return {
    headers: {
      "content-type": "application/json",
      [TIMESTAMP_HEADER]: String(timestamp),
      [SIGNATURE_HEADER]: toolSignature(secret, timestamp, body),
      [IDEMPOTENCY_HEADER]: key,
    },
    body,
  };
}

export type SignatureVerdict = { ok: true } | { ok: false; error: string };

/**
 * The service's check, before it reads the body: the timestamp is a decimal within the window of
 * `nowMs`, and the signature is the one the secret makes over that timestamp and these exact bytes
 * (compared in constant time).
 */
export function verifyToolSignature(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  rawBody: string | Uint8Array,
  nowMs: number,
  windowMs = REPLAY_WINDOW_MS,
): SignatureVerdict {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature) return { ok: false, error: `missing ${!timestamp ? TIMESTAMP_HEADER : SIGNATURE_HEADER}` };
  if (!/^\d{1,16}$/.test(timestamp)) return { ok: false, error: `${TIMESTAMP_HEADER} must be unix time in milliseconds` };
  if (Math.abs(nowMs - Number(timestamp)) > windowMs) return { ok: false, error: `${TIMESTAMP_HEADER} is more than ${windowMs / 1000} s from the service's clock` };
  const expected = Buffer.from(toolSignature(secret, timestamp, rawBody), "utf8");
  const offered = Buffer.from(signature, "utf8");
  if (offered.length !== expected.length || !timingSafeEqual(offered, expected)) return { ok: false, error: "signature does not match" };
  return { ok: true };
}
