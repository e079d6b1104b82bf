// The edge's credential towards the core: short-lived, bound to one call, HMAC with a shared secret.
// Format: "<callSid>.<expiry ms>.<hex HMAC-SHA256 of callSid.expiry>".
import { hmac, timingSafeEqual, toHex } from "./crypto.js";

export const CORE_TOKEN_TTL_MS = 60_000;

export async function signCoreToken(secret: string, callSid: string, nowMs: number, ttlMs = CORE_TOKEN_TTL_MS): Promise<string> {
  const expiry = nowMs + ttlMs;
  const mac = toHex(await hmac("SHA-256", secret, `${callSid}.${expiry}`));
  return `${callSid}.${expiry}.${mac}`;
}

export type CoreTokenCheck = { ok: true; callSid: string } | { ok: false; reason: string };

export async function verifyCoreToken(secret: string, token: string | undefined, nowMs: number): Promise<CoreTokenCheck> {
  if (!token) return { ok: false, reason: "missing token" };
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, reason: "malformed token" };
  const [callSid, expiryText, mac] = parts as [string, string, string];
  const expiry = Number(expiryText);
  if (!callSid || !Number.isFinite(expiry)) return { ok: false, reason: "malformed token" };
  const expected = toHex(await hmac("SHA-256", secret, `${callSid}.${expiryText}`));
  if (!timingSafeEqual(expected, mac)) return { ok: false, reason: "bad token signature" };
  if (expiry < nowMs) return { ok: false, reason: "expired token" };
  return { ok: true, callSid };
}
