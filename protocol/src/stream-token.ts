// The per-call stream token. Twilio drops query strings from a <Stream url>, so the upgrade's
// signature is the same for every stream of every call: it proves nothing about which call a socket
// carries. The voice webhook, whose signature does cover the call (AccountSid, CallSid), mints this
// token and puts it in the TwiML as a <Parameter>; Twilio hands it back in the stream's `start`
// (customParameters), where the edge checks it before anything is played or a core is opened.
//
// Format: "v1.<expiry ms>.<hex HMAC-SHA256>" over a domain-separated message, so the key can never
// be made to sign something that passes for another of our tokens (the core token, a signature).
import { hmac, timingSafeEqual, toHex } from "./crypto.js";

/** The <Parameter> name the token travels under (start.customParameters). */
export const STREAM_TOKEN_PARAMETER = "streamToken";
/** From the webhook to the stream's `start` takes about a second; a token older than this is refused. */
export const STREAM_TOKEN_TTL_MS = 60_000;

const VERSION = "v1";
const DOMAIN = "voice-agent stream-token v1";

/** Twilio's SIDs: two letters and 32 hex digits. */
export const SID_PATTERNS = {
  account: /^AC[0-9a-f]{32}$/,
  call: /^CA[0-9a-f]{32}$/,
  stream: /^MZ[0-9a-f]{32}$/,
} as const;

export interface StreamTokenClaims {
  accountSid: string;
  callSid: string;
}

function message(claims: StreamTokenClaims, expiry: string): string {
  // Newlines cannot occur in a SID, so the fields cannot run into each other.
  return `${DOMAIN}\n${claims.accountSid}\n${claims.callSid}\n${expiry}`;
}

export async function signStreamToken(secret: string, claims: StreamTokenClaims, nowMs: number, ttlMs = STREAM_TOKEN_TTL_MS): Promise<string> {
  const expiry = String(Math.floor(nowMs + ttlMs));
  return `${VERSION}.${expiry}.${toHex(await hmac("SHA-256", secret, message(claims, expiry)))}`;
}

export type StreamTokenCheck = { ok: true } | { ok: false; reason: string };

/**
 * Whether `token` was minted for this call by a holder of one of `secrets` (the current key, and
 * the previous one while a rotation is under way), and has not expired at `nowMs`.
 */
export async function verifyStreamToken(
  secrets: readonly string[],
  token: string | undefined,
  claims: StreamTokenClaims,
  nowMs: number,
): Promise<StreamTokenCheck> {
  if (!token) return { ok: false, reason: "no stream token" };
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== VERSION) return { ok: false, reason: "malformed stream token" };
  const [, expiryText, mac] = parts as [string, string, string];
  if (!/^\d{1,16}$/.test(expiryText) || !/^[0-9a-f]{64}$/.test(mac)) return { ok: false, reason: "malformed stream token" };
  let signed = false;
  for (const secret of secrets) {
    if (secret === "") continue;
    if (timingSafeEqual(toHex(await hmac("SHA-256", secret, message(claims, expiryText))), mac)) signed = true;
  }
  if (!signed) return { ok: false, reason: "stream token not signed for this call" };
  const expiry = Number(expiryText);
  if (expiry < nowMs) return { ok: false, reason: "stream token expired" };
  // Minted by us with our TTL: one that claims to live longer was not.
  if (expiry - nowMs > STREAM_TOKEN_TTL_MS) return { ok: false, reason: "stream token lifetime too long" };
  return { ok: true };
}

/** Why a `start` frame's ids are not a real Twilio call of `accountSid`'s, or undefined when they are. */
export function startIdsProblem(start: { accountSid: string; callSid: string; streamSid: string }, accountSid: string): string | undefined {
  if (!SID_PATTERNS.account.test(start.accountSid)) return "malformed AccountSid";
  if (!SID_PATTERNS.call.test(start.callSid)) return "malformed CallSid";
  if (!SID_PATTERNS.stream.test(start.streamSid)) return "malformed StreamSid";
  if (start.accountSid !== accountSid) return "another Twilio account";
  return undefined;
}
