// The worker's bindings: [vars] and the KV namespace come from wrangler.toml; the secrets from
// `wrangler secret put` in production and from infra/local/edge.ts locally.
export interface Env {
  /** Audio (raw 8 kHz mu-law) of the phrases the edge plays itself, under content-addressed keys (see phrases.ts). */
  GREETINGS: KVNamespace;
  /** Base URL of the core, http(s)://host[:port]; the call socket is CORE_URL + "/call". */
  CORE_URL: string;
  /** The edge's own public base URL, exactly as configured at Twilio; signatures are computed over it. */
  PUBLIC_URL: string;
  /** Played from KV the instant a call starts. */
  GREETING_TEXT: string;
  /** Played from KV when the core link is lost mid-call, while the edge reconnects. */
  HOLD_TEXT: string;
  LANGUAGE: string;
  TTS_VOICE: string;
  /** How long (ms, decimal string) a call may wait for a lost core to come back; 30000 when unset. */
  RECONNECT_BUDGET_MS?: string;
  /** Longest frame (chars, or bytes if binary) a caller may send; a longer one ends the call with 1009. 8192 when unset. */
  MAX_FRAME_CHARS?: string;
  /** Caller frames a call may send per second; more are dropped. 100 when unset. */
  MAX_FRAMES_PER_SECOND?: string;
  /** Seconds in a row over MAX_FRAMES_PER_SECOND after which the call is closed with 1008. 5 when unset. */
  FLOOD_CLOSE_AFTER_S?: string;
  TWILIO_AUTH_TOKEN: string;
  CORE_SHARED_SECRET: string;
  /** Bearer token of the deploy pipeline for /health/warmup. */
  DEPLOY_TOKEN: string;
}

/** Hono's environment for this worker: every handler sees `c.env` as Env. */
export type AppEnv = { Bindings: Env };
