// The worker's bindings: [vars] and the KV namespace come from wrangler.toml; the secrets from
// `wrangler secret put` in production and from infra/local/edge.ts locally.
export interface Env {
  /** Greeting audio (raw 8 kHz mu-law) under its content-addressed key (see greeting.ts). */
  GREETINGS: KVNamespace;
  /** Base URL of the core, http(s)://host[:port]; the call socket is CORE_URL + "/call". */
  CORE_URL: string;
  /** The edge's own public base URL, exactly as configured at Twilio; signatures are computed over it. */
  PUBLIC_URL: string;
  GREETING_TEXT: string;
  LANGUAGE: string;
  TTS_VOICE: string;
  TWILIO_AUTH_TOKEN: string;
  CORE_SHARED_SECRET: string;
  /** Bearer token of the deploy pipeline for /health/warmup. */
  DEPLOY_TOKEN: string;
}

/** Hono's environment for this worker: every handler sees `c.env` as Env. */
export type AppEnv = { Bindings: Env };
