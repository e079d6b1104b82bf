// GET /health (is the edge up, can it reach the core) and GET /health/warmup (the deploy pipeline's
// call after rollout: make sure KV holds the current greeting and hold phrase, then warm the core).
// Both details (the core probe) and warmup need the deploy token; without it /health says only
// `status`. Every failure becomes a field of the JSON answer; nothing here throws.
import { sha256Hex, timingSafeEqual } from "@voice/protocol/crypto";
import type { Context } from "hono";
import { probeCore, requestCoreWarmup } from "./core-link.js";
import type { AppEnv } from "./env.js";
import { errorText, logEvent } from "./log.js";
import { ensurePhrase, PHRASE_NAMES, type PhraseCheck, type PhraseName } from "./phrases.js";

const HEALTH_PROBE_TIMEOUT_MS = 2_000;
/** Core warmup synthesizes the fixed phrases and opens its gRPC channels. */
const CORE_WARMUP_TIMEOUT_MS = 30_000;

/**
 * 200 while the edge serves; `status` is "degraded" when the core does not answer its /health. The
 * probe's details (how long, what failed) only for the deploy token: an error text names the core's
 * address.
 */
export async function handleHealth(c: Context<AppEnv>): Promise<Response> {
  const core = await probeCore(c.env, HEALTH_PROBE_TIMEOUT_MS);
  const status = core.ok ? "ok" : "degraded";
  if (!(await hasDeployToken(c))) return c.json({ status });
  return c.json({ status, edge: "up", core });
}

/** The request carries `Authorization: Bearer <DEPLOY_TOKEN>`. An unset DEPLOY_TOKEN must lock, never open. */
async function hasDeployToken(c: Context<AppEnv>): Promise<boolean> {
  const token = bearerToken(c.req.header("authorization"));
  return !!c.env.DEPLOY_TOKEN && !!token && (await isSecret(token, c.env.DEPLOY_TOKEN));
}

function bearerToken(header: string | undefined): string | undefined {
  return header?.match(/^Bearer\s+(.+)$/i)?.[1];
}

/** Compares digests, not the strings: timingSafeEqual returns early on a length mismatch, which would tell the secret's length. */
async function isSecret(candidate: string, secret: string): Promise<boolean> {
  return timingSafeEqual(await sha256Hex(candidate), await sha256Hex(secret));
}

/** A phrase check as flat report fields: greeting_key, greeting_cached, ..., hold_key, ... */
function phraseFields(name: PhraseName, check: PhraseCheck): Record<string, unknown> {
  const fields: Record<string, unknown> = { [`${name}_key`]: check.key, [`${name}_cached`]: check.cached };
  if (check.bytes !== undefined) fields[`${name}_bytes`] = check.bytes;
  fields[`${name}_ms`] = check.ms;
  if (check.error !== undefined) fields[`${name}_error`] = check.error;
  return fields;
}

/** The core's own TTS warmup time, when its report has one. */
function ttsWarmupMs(report: unknown): number | null {
  const value = typeof report === "object" && report !== null ? (report as { tts_warmup_ms?: unknown }).tts_warmup_ms : undefined;
  return typeof value === "number" ? value : null;
}

export async function handleWarmup(c: Context<AppEnv>): Promise<Response> {
  if (!(await hasDeployToken(c))) return c.json({ ok: false, error: "unauthorized" }, 401);
  // Phrases first: on a miss the core synthesizes them into its cache, which its warmup then finds.
  const checks = await Promise.all(PHRASE_NAMES.map(async (name) => [name, await ensurePhrase(c.env, name)] as const));
  const phrases = Object.assign({}, ...checks.map(([name, check]) => phraseFields(name, check))) as Record<string, unknown>;
  const coreStarted = Date.now();
  let core: { core_ok: boolean; core: unknown; core_status?: number; core_warmup_error?: string };
  try {
    const warmup = await requestCoreWarmup(c.env, CORE_WARMUP_TIMEOUT_MS);
    core = { core_ok: warmup.ok, core: warmup.body, core_status: warmup.status };
  } catch (error) {
    core = { core_ok: false, core: null, core_warmup_error: errorText(error) };
  }
  const coreWarmupMs = Date.now() - coreStarted;
  const ok = checks.every(([, check]) => check.error === undefined) && core.core_ok;
  const { core: coreReport, ...coreFields } = core;
  const timings = { tts_warmup_ms: ttsWarmupMs(coreReport), core_warmup_ms: coreWarmupMs };
  logEvent(ok ? "INFO" : "WARNING", "warmup", { ok, ...phrases, ...timings, ...coreFields });
  return c.json({ ok, ...phrases, ...timings, ...coreFields, core: coreReport });
}
