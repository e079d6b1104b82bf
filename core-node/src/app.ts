// The app: everything a call needs that outlives a call (clients, TTS cache, VAD module, logger),
// built once per process. This is the only place clients are constructed; the counters below let a
// test and GET /health prove that no call builds another.
import { SpeechClient } from "@google-cloud/speech";
import { TextToSpeechClient } from "@google-cloud/text-to-speech";
import * as grpc from "@grpc/grpc-js";
import OpenAI from "openai";
import { Agent } from "undici";
import type { Config } from "./config.js";
import { credentialsProblems } from "./credentials.js";
import { loadVad, type VadFactory } from "./eou/vad.js";
import { createOpenAiChat } from "./llm/openai.js";
import { errorText } from "./metrics/error-report.js";
import type { ChatModel } from "./llm/types.js";
import type { Logger } from "./metrics/log.js";
import { createOpenAiSummarizer, type Summarizer } from "./record/openai-summarizer.js";
import type { RecordSender } from "./record/ports.js";
import { createRecordSender } from "./record/sender.js";
import { createGoogleSpeechToText } from "./stt/google.js";
import { createOpenAiTranscriber } from "./stt/transcription.js";
import type { SpeechToText, Transcriber } from "./stt/types.js";
import { CachedTextToSpeech, TtsCache, cacheKey } from "./tts/cache.js";
import { createGoogleTextToSpeech } from "./tts/google.js";
import { synthesisRequest } from "./tts/types.js";
import { createHttpToolCaller } from "./tools/http-caller.js";
import type { ToolCaller } from "./tools/types.js";

/** Constructions since the process started; each stays at 1 however many calls are served. */
export const constructions = {
  app: 0,
  speechClient: 0,
  ttsClient: 0,
  openaiClient: 0,
  vadModule: 0,
};

/** Warmup steps, each reported as `<step>_warmup_ms` and, when it failed, `<step>_warmup_error`. */
export const WARMUP_STEPS = ["credentials", "tts", "stt", "llm"] as const;
export type WarmupStep = (typeof WARMUP_STEPS)[number];

export interface WarmupReport {
  /** Every step succeeded. (The edge's warmup reads `ok: false` as a failed core warmup.) */
  ok: boolean;
  credentials_warmup_ms?: number;
  credentials_warmup_error?: string;
  tts_warmup_ms?: number;
  tts_warmup_error?: string;
  tts_cached_phrases?: number;
  stt_warmup_ms?: number;
  stt_warmup_error?: string;
  llm_warmup_ms?: number;
  llm_warmup_error?: string;
  total_ms: number;
}

/**
 * What GET /health says. "degraded": the last warmup had failing steps (bad credentials, a service
 * unreachable); the process still serves health routes and calls (which fall back to fixed phrases
 * where a service is missing). The HTTP status stays 200 either way: see server.ts.
 */
export interface HealthStatus {
  status: "ok" | "degraded";
  /** Failing warmup steps and why, from the last warmup. */
  failing?: Partial<Record<WarmupStep, string>>;
  /** No warmup has run yet (TTS_PREWARM=false and no /health/warmup call). */
  warmup?: "not run";
}

export interface App {
  config: Config;
  log: Logger;
  stt: SpeechToText;
  /** Synthesis in the configured voice, through the shared cache. */
  tts: CachedTextToSpeech;
  ttsCache: TtsCache;
  /** Whether `text` in the configured voice is in the TTS cache (its synthesis would cost nothing). */
  ttsCached(text: string): boolean;
  llm: ChatModel;
  /** Whole-utterance transcription, the fallback when streaming recognition is down. */
  transcriber: Transcriber;
  /** Runs the agent file's tools over signed HTTPS requests (absent: no agent file, or no tools in it). */
  tools?: ToolCaller;
  vad: VadFactory;
  /** Hands a call's part of its record to the edge (summary, then POST); never rejects. */
  sendRecord: RecordSender;
  /** Call records being summarized or posted now (close() waits for them, within RECORD_DRAIN_MAX_MS). */
  recordsPending(): number;
  /** The process-wide construction counters (see `constructions`). */
  constructions: Readonly<typeof constructions>;
  startedAt: number;
  /** Checks credentials, synthesizes the greeting and fixed phrases into the cache and opens every connection. Never throws. */
  warmup(): Promise<WarmupReport>;
  /** Health from the last warmup. */
  health(): HealthStatus;
  close(): Promise<void>;
}

/**
 * The gRPC channel of a Google client stays connected between turns and calls, so no turn pays a
 * TCP/TLS/HTTP2 handshake. grpc-js drops a channel's connection after 30 min without a call (its
 * client idle timeout): a quiet night would make the morning's first turn reconnect, so that is
 * raised to a day. Keepalive pings every minute during calls find a dead connection (a NAT or load
 * balancer that dropped it) before a turn waits on it; Google's front ends accept pings no more
 * often than every 30 s. None go out on a connection without calls (permit_without_calls stays off).
 */
const GOOGLE_CHANNEL_OPTIONS = {
  "grpc.client_idle_timeout_ms": 24 * 60 * 60_000,
  "grpc.keepalive_time_ms": 60_000,
  "grpc.keepalive_timeout_ms": 20_000,
};

/** Options for a Google client: a local emulator over plaintext gRPC, or Google itself. */
function googleClientOptions(endpoint: { host: string; port: number } | undefined) {
  if (!endpoint) return { ...GOOGLE_CHANNEL_OPTIONS };
  // universeDomain stops gax from probing the metadata server for one.
  return {
    ...GOOGLE_CHANNEL_OPTIONS,
    apiEndpoint: endpoint.host,
    port: endpoint.port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: "googleapis.com",
  };
}

/**
 * Connections to the LLM API. Node's fetch lets an idle connection go after 4 s, so a turn after a
 * pause would pay a new TCP+TLS handshake: this dispatcher keeps them up to 10 minutes (or what the
 * server's Keep-Alive header allows, up to that). HTTP/2 where the server offers it (TLS ALPN; OpenAI
 * does): an aborted stream (barge-in, a discarded speculative answer) then ends with RST_STREAM and
 * the connection stays, while over HTTP/1.1 the aborted request's socket goes with it. It serves
 * Node's own fetch (undici 7 takes its older handlers), which keeps the SDK's file uploads working
 * with the global FormData; the types of the two undici copies differ in name only.
 */
function llmDispatcher(): { dispatcher: Agent; fetchOptions: OpenAiOptions["fetchOptions"] } {
  const idleMs = 10 * 60_000;
  const dispatcher = new Agent({ keepAliveTimeout: idleMs, keepAliveMaxTimeout: idleMs, allowH2: true });
  return { dispatcher, fetchOptions: { dispatcher } as unknown as OpenAiOptions["fetchOptions"] };
}

type OpenAiOptions = NonNullable<ConstructorParameters<typeof OpenAI>[0]>;

export async function buildApp(config: Config, log: Logger): Promise<App> {
  constructions.app++;
  const speechClient = new SpeechClient(googleClientOptions(config.SPEECH_ENDPOINT));
  constructions.speechClient++;
  const ttsClient = new TextToSpeechClient(googleClientOptions(config.TTS_ENDPOINT));
  constructions.ttsClient++;
  const http = llmDispatcher();
  const openai = new OpenAI({
    fetchOptions: http.fetchOptions,
    // Without a key the process still starts (warmup reports it); the client is then never used.
    apiKey: config.OPENAI_API_KEY ?? "unused",
    baseURL: config.OPENAI_BASE_URL,
    // No SDK retries: the session retries an LLM request once itself (only while nothing was
    // spoken) and then speaks a fallback phrase, so a caller's wait stays bounded. The SDK's timeout
    // only covers the wait for response headers; a stream's first token and the gaps between tokens
    // are bounded by LLM_FIRST_TOKEN_TIMEOUT_MS, a transcription by STT_FALLBACK_TIMEOUT_MS. This
    // one bounds the rest (warmup).
    maxRetries: 0,
    timeout: 10_000,
    // The SDK would print a malformed stream event's raw bytes to stderr itself; the session
    // already logs one line with the reason.
    logLevel: "off",
  });
  constructions.openaiClient++;
  const vad = await loadVad();
  constructions.vadModule++;

  const googleTts = createGoogleTextToSpeech(ttsClient, { timeoutMs: config.TTS_TIMEOUT_MS });
  const ttsCache = new TtsCache(config.TTS_CACHE_MAX_BYTES);
  const voice = { languageCode: config.LANGUAGE, name: config.TTS_VOICE };
  const tts = new CachedTextToSpeech(googleTts, ttsCache, voice);
  const stt = createGoogleSpeechToText(speechClient, {
    languageCode: config.LANGUAGE,
    model: config.STT_MODEL,
    rotateMs: config.STT_STREAM_ROTATE_MS,
    maxMs: config.STT_STREAM_MAX_MS,
  });
  const { llm, transcriber, summarize } = config.OPENAI_API_KEY
    ? {
        llm: createOpenAiChat(openai, config.LLM_MODEL),
        summarize: createOpenAiSummarizer(openai, config.LLM_MODEL),
        transcriber: createOpenAiTranscriber(openai, {
          model: config.STT_FALLBACK_MODEL,
          language: config.LANGUAGE,
          timeoutMs: config.STT_FALLBACK_TIMEOUT_MS,
        }),
      }
    : withoutOpenAiKey();
  const records = createRecordSender({
    secret: config.CORE_SHARED_SECRET,
    language: config.LANGUAGE,
    summarize,
    summaryTimeoutMs: config.RECORD_SUMMARY_TIMEOUT_MS,
    log,
  });
  const tools = config.agent?.tools.length && config.TOOL_SIGNING_SECRET ? createHttpToolCaller({ secret: config.TOOL_SIGNING_SECRET }) : undefined;
  let lastWarmup: WarmupReport | undefined;

  async function checkCredentials(): Promise<void> {
    const problems = await credentialsProblems(config);
    if (problems.length > 0) throw new Error(problems.join("; "));
  }

  async function warmTts(report: WarmupReport): Promise<void> {
    // Not TTS_TIMEOUT_MS: a cold start (connection, credentials) may take longer than a turn may wait.
    const voices = await googleTts.listVoices(config.LANGUAGE, WARMUP_REQUEST_TIMEOUT_MS);
    if (!voices.includes(config.TTS_VOICE)) {
      throw new Error(`unknown TTS voice ${config.TTS_VOICE} for ${config.LANGUAGE}; available: ${voices.join(", ") || "none"}`);
    }
    // Pinned: no run of new answers, nor GET /phrase, can push out the greeting or what the core says when something failed.
    const phrases = [config.GREETING_TEXT, config.CALL_LIMIT_TEXT, ...Object.values(config.FIXED_PHRASES)];
    await Promise.all(phrases.map((text) => tts.pin(text, WARMUP_REQUEST_TIMEOUT_MS)));
    report.tts_cached_phrases = phrases.length;
  }

  return {
    config,
    log,
    stt,
    tts,
    ttsCache,
    // The key of exactly the request CachedTextToSpeech would send.
    ttsCached: (text) => ttsCache.get(cacheKey(synthesisRequest(text, voice))) !== undefined,
    llm,
    transcriber,
    tools,
    vad,
    sendRecord: records.send,
    recordsPending: records.pending,
    constructions,
    startedAt: Date.now(),
    async warmup() {
      const started = performance.now();
      const report: WarmupReport = { ok: true, total_ms: 0 };
      const step = async (name: WarmupStep, run: () => Promise<void>) => {
        const from = performance.now();
        try {
          await withDeadline(run(), WARMUP_STEP_TIMEOUT_MS, `${name} warmup`);
        } catch (error) {
          report.ok = false;
          report[`${name}_warmup_error`] = errorText(error);
          log.error({ step: name, error }, "warmup step failed");
        }
        report[`${name}_warmup_ms`] = Math.round(performance.now() - from);
      };
      await Promise.all([
        step("credentials", checkCredentials),
        step("tts", () => warmTts(report)),
        step("stt", () => stt.warmup()),
        step("llm", () => llm.warmup()),
      ]);
      report.total_ms = Math.round(performance.now() - started);
      lastWarmup = report;
      return report;
    },
    health() {
      if (!lastWarmup) return { status: "ok", warmup: "not run" };
      const failing = Object.fromEntries(
        WARMUP_STEPS.flatMap((name) => {
          const error = lastWarmup![`${name}_warmup_error`];
          return error === undefined ? [] : [[name, error]];
        }),
      );
      return lastWarmup.ok ? { status: "ok" } : { status: "degraded", failing };
    },
    async close() {
      // Before the clients go: a record still being summarized is sent without its summary.
      await records.drain(RECORD_DRAIN_MAX_MS);
      await Promise.allSettled([speechClient.close(), ttsClient.close(), http.dispatcher.close()]);
    },
  };
}

/** Without a key every request fails at once, here, rather than at the service with a placeholder key. */
function withoutOpenAiKey(): { llm: ChatModel; transcriber: Transcriber; summarize: Summarizer } {
  const missing = () => new Error("OPENAI_API_KEY is not set");
  return {
    llm: {
      async *stream() {
        throw missing();
      },
      warmup: () => Promise.reject(missing()),
    },
    transcriber: { transcribe: () => Promise.reject(missing()) },
    summarize: () => Promise.reject(missing()),
  };
}

/** Warmup runs before the port opens: a service that does not answer must not hold the start. */
const WARMUP_STEP_TIMEOUT_MS = 15_000;
const WARMUP_REQUEST_TIMEOUT_MS = 10_000;
/**
 * How long close() waits for call records in flight. It runs after the calls are drained (main.ts,
 * within Cloud Run's 10 s after SIGTERM); a summary still running is given up at once, so what is
 * left is a POST to the edge.
 */
const RECORD_DRAIN_MAX_MS = 1500;

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** An error as one log-friendly line (client libraries can put kilobytes of retry history in a message). */
export { errorText };
