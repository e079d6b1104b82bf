// The app: everything a call needs that outlives a call (clients, TTS cache, VAD module, logger),
// built once per process. This is the only place clients are constructed; the counters below let a
// test and GET /health prove that no call builds another.
import { SpeechClient } from "@google-cloud/speech";
import { TextToSpeechClient } from "@google-cloud/text-to-speech";
import * as grpc from "@grpc/grpc-js";
import OpenAI from "openai";
import type { Config } from "./config.js";
import { loadVad, type VadFactory } from "./eou/vad.js";
import { createOpenAiChat } from "./llm/openai.js";
import type { ChatModel } from "./llm/types.js";
import type { Logger } from "./metrics/log.js";
import { createGoogleSpeechToText } from "./stt/google.js";
import type { SpeechToText } from "./stt/types.js";
import { CachedTextToSpeech, TtsCache } from "./tts/cache.js";
import { createGoogleTextToSpeech } from "./tts/google.js";

/** Constructions since the process started; each stays at 1 however many calls are served. */
export const constructions = {
  app: 0,
  speechClient: 0,
  ttsClient: 0,
  openaiClient: 0,
  vadModule: 0,
};

export interface WarmupReport {
  tts_warmup_ms?: number;
  tts_warmup_error?: string;
  tts_cached_phrases?: number;
  stt_warmup_ms?: number;
  stt_warmup_error?: string;
  llm_warmup_ms?: number;
  llm_warmup_error?: string;
  total_ms: number;
}

export interface App {
  config: Config;
  log: Logger;
  stt: SpeechToText;
  /** Synthesis in the configured voice, through the shared cache. */
  tts: CachedTextToSpeech;
  ttsCache: TtsCache;
  llm: ChatModel;
  vad: VadFactory;
  /** The process-wide construction counters (see `constructions`). */
  constructions: Readonly<typeof constructions>;
  startedAt: number;
  /** Synthesizes the greeting and fixed phrases into the cache and opens every connection. */
  warmup(): Promise<WarmupReport>;
  close(): Promise<void>;
}

/** Options for a Google client: a local emulator over plaintext gRPC, or Google itself. */
function googleClientOptions(endpoint: { host: string; port: number } | undefined) {
  if (!endpoint) return {};
  // universeDomain stops gax from probing the metadata server for one.
  return {
    apiEndpoint: endpoint.host,
    port: endpoint.port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: "googleapis.com",
  };
}

export async function buildApp(config: Config, log: Logger): Promise<App> {
  constructions.app++;
  const speechClient = new SpeechClient(googleClientOptions(config.SPEECH_ENDPOINT));
  constructions.speechClient++;
  const ttsClient = new TextToSpeechClient(googleClientOptions(config.TTS_ENDPOINT));
  constructions.ttsClient++;
  const openai = new OpenAI({
    apiKey: config.OPENAI_API_KEY,
    baseURL: config.OPENAI_BASE_URL,
    // A caller is waiting: fail over to the error phrase rather than retry for long.
    maxRetries: 1,
    timeout: 20_000,
  });
  constructions.openaiClient++;
  const vad = await loadVad();
  constructions.vadModule++;

  const googleTts = createGoogleTextToSpeech(ttsClient, { timeoutMs: config.TTS_TIMEOUT_MS });
  const ttsCache = new TtsCache(config.TTS_CACHE_MAX_BYTES);
  const tts = new CachedTextToSpeech(googleTts, ttsCache, { languageCode: config.LANGUAGE, name: config.TTS_VOICE });
  const stt = createGoogleSpeechToText(speechClient, { languageCode: config.LANGUAGE, model: config.STT_MODEL });
  const llm = createOpenAiChat(openai, config.LLM_MODEL);

  async function warmTts(report: WarmupReport): Promise<void> {
    const voices = await googleTts.listVoices(config.LANGUAGE);
    if (!voices.includes(config.TTS_VOICE)) {
      throw new Error(`unknown TTS voice ${config.TTS_VOICE} for ${config.LANGUAGE}; available: ${voices.join(", ") || "none"}`);
    }
    const phrases = [config.GREETING_TEXT, ...Object.values(config.FIXED_PHRASES)];
    await Promise.all(phrases.map((text) => tts.synthesize(text)));
    report.tts_cached_phrases = phrases.length;
  }

  return {
    config,
    log,
    stt,
    tts,
    ttsCache,
    llm,
    vad,
    constructions,
    startedAt: Date.now(),
    async warmup() {
      const started = performance.now();
      const report: WarmupReport = { total_ms: 0 };
      const step = async (name: "tts" | "stt" | "llm", run: () => Promise<void>) => {
        const from = performance.now();
        try {
          await withDeadline(run(), WARMUP_STEP_TIMEOUT_MS, `${name} warmup`);
        } catch (error) {
          report[`${name}_warmup_error`] = errorText(error);
          log.warn({ step: name, error: errorText(error) }, "warmup step failed");
        }
        report[`${name}_warmup_ms`] = Math.round(performance.now() - from);
      };
      await Promise.all([step("tts", () => warmTts(report)), step("stt", () => stt.warmup()), step("llm", () => llm.warmup())]);
      report.total_ms = Math.round(performance.now() - started);
      return report;
    },
    async close() {
      await Promise.allSettled([speechClient.close(), ttsClient.close()]);
    },
  };
}

/** Warmup runs before the port opens: a service that does not answer must not hold the start. */
const WARMUP_STEP_TIMEOUT_MS = 15_000;

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** An error as one log-friendly line (client libraries can put kilobytes of retry history in a message). */
export function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
