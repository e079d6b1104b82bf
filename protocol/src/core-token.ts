// The edge's credential towards the core: short-lived, for one purpose (one route), bound to one
// call, HMAC with a shared secret.
// Format: "<purpose>.<callSid>.<issued ms>.<expiry ms>.<hex HMAC-SHA256 of the four fields joined by '.'>".
//
// Rotation without an outage: the core accepts a token signed with either of two secrets (the
// current one and, while a rotation is under way, the previous one); the edge signs with the
// current one only. Rotate by giving the core the new secret as current and the old as previous,
// then the edge the new secret, then dropping the previous one from the core.
import { hmac, timingSafeEqual, toHex } from "./crypto.js";

/**
 * What a token is for; each of the core's routes takes only its own. "record" goes the other way:
 * the core signs it for the edge's record route (call-record.ts), with the same shared secret.
 */
export const CORE_TOKEN_PURPOSES = ["call", "phrase", "warmup", "health", "record"] as const;
export type CoreTokenPurpose = (typeof CORE_TOKEN_PURPOSES)[number];

/** Lifetime of the tokens the edge signs: each is signed right before its one request. */
export const CORE_TOKEN_TTL_MS = 60_000;
/** Longest lifetime (expiry minus issue time) the core accepts, however validly signed: a leaked token is worth minutes at most. */
export const CORE_TOKEN_MAX_TTL_MS = 5 * 60_000;
/** How far past the core's clock a token's issue time may lie (the edge's clock and the core's differ a little). */
export const CORE_TOKEN_CLOCK_SKEW_MS = 30_000;

const MILLISECONDS = /^\d{1,16}$/;

function isPurpose(text: string): text is CoreTokenPurpose {
  return (CORE_TOKEN_PURPOSES as readonly string[]).includes(text);
}

async function mac(secret: string, claims: string): Promise<string> {
  return toHex(await hmac("SHA-256", secret, claims));
}

/**
 * A token for `purpose`, bound to `callSid` (the deploy pipeline's own requests use a fixed name),
 * issued at `nowMs`, valid for `ttlMs`. A `ttlMs` over CORE_TOKEN_MAX_TTL_MS signs a token the core refuses.
 */
export async function signCoreToken(secret: string, purpose: CoreTokenPurpose, callSid: string, nowMs: number, ttlMs = CORE_TOKEN_TTL_MS): Promise<string> {
  if (callSid === "" || callSid.includes(".")) throw new Error("a core token's call sid must be non-empty and without '.'");
  const claims = `${purpose}.${callSid}.${Math.floor(nowMs)}.${Math.floor(nowMs + ttlMs)}`;
  return `${claims}.${await mac(secret, claims)}`;
}

export type CoreTokenCheck =
  | { ok: true; callSid: string; purpose: CoreTokenPurpose; /** Signed with the previous secret: the edge has not been rotated yet. */ previousSecret: boolean }
  | { ok: false; reason: string };

/**
 * Checks a token for `purpose` at `nowMs`. `secrets`: the current secret, then the previous one
 * (undefined or empty when there is none); a token signed with either is accepted.
 */
export async function verifyCoreToken(
  secrets: string | readonly (string | undefined)[],
  purpose: CoreTokenPurpose,
  token: string | undefined,
  nowMs: number,
): Promise<CoreTokenCheck> {
  if (!token) return { ok: false, reason: "missing token" };
  const parts = token.split(".");
  if (parts.length !== 5) return { ok: false, reason: "malformed token" };
  const [purposeText, callSid, issuedText, expiryText, offered] = parts as [string, string, string, string, string];
  if (!callSid || !MILLISECONDS.test(issuedText) || !MILLISECONDS.test(expiryText)) return { ok: false, reason: "malformed token" };
  const keys = (typeof secrets === "string" ? [secrets] : secrets).filter((secret): secret is string => !!secret);
  const claims = `${purposeText}.${callSid}.${issuedText}.${expiryText}`;
  // Every secret is tried (no early exit), so the time taken does not say which one matched.
  const matches = await Promise.all(keys.map(async (secret) => timingSafeEqual(await mac(secret, claims), offered)));
  const matched = matches.indexOf(true);
  if (matched < 0) return { ok: false, reason: "bad token signature" };
  if (!isPurpose(purposeText) || purposeText !== purpose) return { ok: false, reason: `token not for ${purpose}` };
  const issued = Number(issuedText);
  const expiry = Number(expiryText);
  if (expiry < issued) return { ok: false, reason: "malformed token" };
  if (expiry - issued > CORE_TOKEN_MAX_TTL_MS) return { ok: false, reason: "token lifetime over the maximum" };
  if (issued > nowMs + CORE_TOKEN_CLOCK_SKEW_MS) return { ok: false, reason: "token issued in the future" };
  if (expiry < nowMs) return { ok: false, reason: "expired token" };
  return { ok: true, callSid, purpose: purposeText, previousSecret: matched > 0 };
}
