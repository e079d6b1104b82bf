// Everything the edge asks of the core: the per-call WebSocket and the few HTTP routes
// (/health, /phrase, /health/warmup). Every request but /health carries a core token for its purpose.
import { CORE_CALL_PATH } from "@voice/protocol/core-link";
import { signCoreToken, type CoreTokenPurpose } from "@voice/protocol/core-token";
import { PHRASE_KEY_HEADER, PHRASE_PATH } from "@voice/protocol/phrase";
import type { Env } from "./env.js";
import { parseJson } from "./frames.js";
import { errorText } from "./log.js";

/** Call sid the deploy pipeline's requests are signed for (the core accepts it on /phrase and /health/warmup). */
export const WARMUP_CALL_SID = "warmup";

export function coreUrl(env: Env, path: string): string {
  return env.CORE_URL.replace(/\/+$/, "") + path;
}

async function authorization(env: Env, purpose: CoreTokenPurpose, callSid: string): Promise<string> {
  return `Bearer ${await signCoreToken(env.CORE_SHARED_SECRET, purpose, callSid, Date.now())}`;
}

/**
 * Opens the call's socket to the core. The socket is returned NOT yet accepted: the caller attaches
 * its listeners first, then calls accept(), so no message or close can slip by unheard.
 */
export async function openCoreSocket(env: Env, callSid: string, timeoutMs: number): Promise<WebSocket> {
  // The deadline must cover the handshake only: workerd ties a fetch's signal to the socket it
  // returns, so a signal passed to fetch() would cut every call at the deadline.
  const request = fetch(coreUrl(env, CORE_CALL_PATH), {
    headers: { Upgrade: "websocket", Authorization: await authorization(env, "call", callSid) },
  });
  let timer = 0;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`core did not accept the call socket within ${timeoutMs} ms`)), timeoutMs);
  });
  const response = await Promise.race([request, deadline])
    .catch((error: unknown) => {
      // A handshake completing after the deadline must not leave a call socket open on the core.
      request.then((late) => late.webSocket && (late.webSocket.accept(), late.webSocket.close(1000, "too late")), () => {});
      throw error;
    })
    .finally(() => clearTimeout(timer));
  const socket = response.webSocket;
  if (!socket) throw new Error(`core refused the call socket: HTTP ${response.status}`);
  return socket;
}

export interface CoreProbe {
  ok: boolean;
  ms: number;
  status?: number;
  error?: string;
}

/** GET CORE_URL/health within `timeoutMs`; never throws. */
export async function probeCore(env: Env, timeoutMs: number): Promise<CoreProbe> {
  const started = Date.now();
  try {
    const response = await fetch(coreUrl(env, "/health"), { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return { ok: response.ok, ms: Date.now() - started, status: response.status };
  } catch (error) {
    return { ok: false, ms: Date.now() - started, error: errorText(error) };
  }
}

export interface CorePhrase {
  /** Key the core computed for the audio it sent (header x-phrase-key), if any. */
  key: string | null;
  audio: Uint8Array;
}

/** GET CORE_URL/phrase?text=: `text` synthesized by the core as raw mu-law. Throws with a one-line reason. */
export async function fetchCorePhrase(env: Env, text: string, timeoutMs: number): Promise<CorePhrase> {
  const response = await fetch(coreUrl(env, `${PHRASE_PATH}?text=${encodeURIComponent(text)}`), {
    headers: { Authorization: await authorization(env, "phrase", WARMUP_CALL_SID) },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`core ${PHRASE_PATH} answered HTTP ${response.status}`);
  }
  return { key: response.headers.get(PHRASE_KEY_HEADER), audio: new Uint8Array(await response.arrayBuffer()) };
}

export interface CoreWarmup {
  ok: boolean;
  status: number;
  /** The core's JSON report (per-step milliseconds, errors), or null when the body was not JSON. */
  body: unknown;
}

/** GET CORE_URL/health/warmup. Throws only when the core cannot be reached. */
export async function requestCoreWarmup(env: Env, timeoutMs: number): Promise<CoreWarmup> {
  const response = await fetch(coreUrl(env, "/health/warmup"), {
    headers: { Authorization: await authorization(env, "warmup", WARMUP_CALL_SID) },
    signal: AbortSignal.timeout(timeoutMs),
  });
  return readCoreWarmup(response.status, await response.text());
}

/** The core's answer to /health/warmup: ok only for a 2xx JSON report that does not say ok:false. Never throws. */
export function readCoreWarmup(status: number, text: string): CoreWarmup {
  // Not JSON: reported as ok:false; the status tells what happened.
  const body = parseJson(text) ?? null;
  const reportsFailure = typeof body === "object" && body !== null && (body as { ok?: unknown }).ok === false;
  return { ok: status >= 200 && status < 300 && body !== null && !reportsFailure, status, body };
}
