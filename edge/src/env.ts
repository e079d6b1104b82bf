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
  /** Caller frames other than media (marks, keys, anything else) a call may send per second; more are dropped. 100 when unset. */
  MAX_FRAMES_PER_SECOND?: string;
  /** Caller audio (ms) that may arrive ahead of real time, e.g. a stall's backlog at once; media further ahead is dropped. 10000 when unset. */
  MAX_AUDIO_BACKLOG_MS?: string;
  /** Seconds of dropping (over either limit) without a calm second, after which the call is closed with 1008. 5 when unset. */
  FLOOD_CLOSE_AFTER_S?: string;
  /** Checks X-Twilio-Signature (the account's primary auth token). */
  TWILIO_AUTH_TOKEN: string;
  /**
   * Optional, only while the auth token is rotated at Twilio: a signature made with either token passes,
   * so requests signed before and after the switch both get through. Removed once the rotation is done.
   */
  TWILIO_AUTH_TOKEN_SECONDARY?: string;
  /** The Twilio account whose calls this edge answers (AC + 32 hex); a stream of any other account is refused. */
  TWILIO_ACCOUNT_SID: string;
  /** Signs and checks the per-call stream token (protocol stream-token.ts); `_PREVIOUS` is accepted too while the key is rotated. */
  STREAM_TOKEN_SECRET: string;
  STREAM_TOKEN_SECRET_PREVIOUS?: string;
  /** One ledger per call (call-ledger.ts): which stream holds it, and the call's course (how it is to end, a transfer). */
  CALLS: DurableObjectNamespace<import("./call-ledger.js").CallLedger>;
  /** Where a transfer rings (E.164); unset or empty: a transfer sends the caller straight back to the agent. */
  STAFF_NUMBER?: string;
  /** Seconds the staff number rings (5-600) before the caller comes back to the agent; 20 when unset. */
  TRANSFER_TIMEOUT_S?: string;
  /** Where a caller goes when the AI path fails (E.164); unset or empty: FALLBACK_TEXT, then a hang-up. */
  FALLBACK_NUMBER?: string;
  /** Said (<Say language=LANGUAGE>) to the caller when the AI path fails; a Hebrew apology when unset. */
  FALLBACK_TEXT?: string;
  /** One record desk per call (record-desk.ts): the call's record, assembled and delivered once it is over. */
  RECORDS: DurableObjectNamespace<import("./record-desk.js").CallRecordDesk>;
  /** Where each call's record is POSTed (protocol call-record.ts); unset or empty: no record is sent. */
  CALL_RECORD_URL?: string;
  /** Signs each delivered record (x-voice-signature); needed when CALL_RECORD_URL is set. */
  CALL_RECORD_SECRET?: string;
  /** How long (ms) a call's record waits for the core's part once the call is over; 20000 when unset. */
  RECORD_WAIT_MS?: string;
  CORE_SHARED_SECRET: string;
  /** Optional, only while CORE_SHARED_SECRET is rotated: a core's record token signed with it is accepted too. */
  CORE_SHARED_SECRET_PREVIOUS?: string;
  /** Bearer token of the deploy pipeline for /health/warmup. */
  DEPLOY_TOKEN: string;
}

/** Hono's environment for this worker: every handler sees `c.env` as Env. */
export type AppEnv = { Bindings: Env };
