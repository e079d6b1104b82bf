// GET /health (is the edge up, can it reach the core) and GET /health/warmup (the deploy pipeline's
// call after rollout: make sure KV holds the current greeting, then warm the core). Every failure
// becomes a field of the JSON answer; nothing here throws.
import { timingSafeEqual } from "@voice/protocol/crypto";
import type { Context } from "hono";
import { fetchCoreGreeting, probeCore, requestCoreWarmup } from "./core-link.js";
import type { AppEnv, Env } from "./env.js";
import { greetingKeyFor } from "./greeting.js";
import { errorText, logEvent } from "./log.js";

const HEALTH_PROBE_TIMEOUT_MS = 2_000;
/** The core may synthesize the greeting on demand. */
const GREETING_FETCH_TIMEOUT_MS = 15_000;
/** Core warmup synthesizes the fixed phrases and opens its gRPC channels. */
const CORE_WARMUP_TIMEOUT_MS = 30_000;

export async function handleHealth(c: Context<AppEnv>): Promise<Response> {
  return c.json({ ok: true, edge: "up", core: await probeCore(c.env, HEALTH_PROBE_TIMEOUT_MS) });
}

export interface GreetingCheck {
  greeting_key: string;
  /** True when KV already held the greeting under the current key. */
  greeting_cached: boolean;
  greeting_bytes?: number;
  greeting_ms: number;
  greeting_error?: string;
}

/** Makes sure KV holds the greeting for the current text/language/voice, fetching it from the core if not. */
export async function ensureGreeting(env: Env): Promise<GreetingCheck> {
  const started = Date.now();
  const key = await greetingKeyFor(env);
  const done = (fields: Omit<GreetingCheck, "greeting_key" | "greeting_ms">): GreetingCheck => ({
    greeting_key: key,
    ...fields,
    greeting_ms: Date.now() - started,
  });
  try {
    const cached = await env.GREETINGS.get(key, "arrayBuffer");
    if (cached && cached.byteLength > 0) return done({ greeting_cached: true, greeting_bytes: cached.byteLength });
    const fromCore = await fetchCoreGreeting(env, GREETING_FETCH_TIMEOUT_MS);
    if (fromCore.key !== key) {
      return done({ greeting_cached: false, greeting_error: `key mismatch: core says ${fromCore.key ?? "(no key)"}, edge expects ${key}` });
    }
    if (fromCore.audio.length === 0) return done({ greeting_cached: false, greeting_error: "core sent an empty greeting" });
    await env.GREETINGS.put(key, fromCore.audio, {
      metadata: { text: env.GREETING_TEXT, language: env.LANGUAGE, voice: env.TTS_VOICE, bytes: fromCore.audio.length },
    });
    return done({ greeting_cached: false, greeting_bytes: fromCore.audio.length });
  } catch (error) {
    return done({ greeting_cached: false, greeting_error: errorText(error) });
  }
}

function bearerToken(header: string | undefined): string | undefined {
  return header?.match(/^Bearer\s+(.+)$/i)?.[1];
}

export async function handleWarmup(c: Context<AppEnv>): Promise<Response> {
  const token = bearerToken(c.req.header("authorization"));
  // An unset DEPLOY_TOKEN must lock the route, never open it.
  if (!c.env.DEPLOY_TOKEN || !token || !timingSafeEqual(token, c.env.DEPLOY_TOKEN)) {
    return c.json({ ok: false, error: "unauthorized" }, 401);
  }
  const greeting = await ensureGreeting(c.env);
  const coreStarted = Date.now();
  let core: { core_ok: boolean; core: unknown; core_status?: number; core_warmup_error?: string };
  try {
    const warmup = await requestCoreWarmup(c.env, CORE_WARMUP_TIMEOUT_MS);
    core = { core_ok: warmup.ok, core: warmup.body, core_status: warmup.status };
  } catch (error) {
    core = { core_ok: false, core: null, core_warmup_error: errorText(error) };
  }
  const ok = greeting.greeting_error === undefined && core.core_ok;
  const coreWarmupMs = Date.now() - coreStarted;
  const { core: coreReport, ...coreFields } = core;
  logEvent(ok ? "INFO" : "WARNING", "warmup", { ok, ...greeting, core_warmup_ms: coreWarmupMs, ...coreFields });
  return c.json({ ok, ...greeting, core_warmup_ms: coreWarmupMs, ...coreFields, core: coreReport });
}
