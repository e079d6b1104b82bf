// Starts the three local stand-ins together (npm start, end-to-end tests) and says how the core
// reaches them.
import defaultScript from "../scripts/default.he.json" with { type: "json" };
import { startOpenAiEmulator, type OpenAiEmulator, type OpenAiEmulatorOptions } from "./openai.js";
import { startSpeechEmulator, type SpeechEmulator, type SpeechEmulatorOptions, type SpeechScriptLine } from "./speech.js";
import { startTtsEmulator, type TtsEmulator, type TtsEmulatorOptions } from "./tts.js";

export {
  startOpenAiEmulator,
  type CompletionTimeline,
  type OpenAiEmulator,
  type OpenAiEmulatorOptions,
  type OpenAiEmulatorStats,
} from "./openai.js";
export {
  startSpeechEmulator,
  type SpeechEmulator,
  type SpeechEmulatorOptions,
  type SpeechEmulatorStats,
  type SpeechFault,
  type SpeechScriptLine,
} from "./speech.js";
export { startTtsEmulator, type TtsEmulator, type TtsEmulatorOptions, type TtsEmulatorStats } from "./tts.js";

export interface EmulatorsOptions {
  /** The caller's lines the speech emulator transcribes (default: scripts/default.he.json). */
  script?: SpeechScriptLine[];
  speech?: Omit<SpeechEmulatorOptions, "script">;
  tts?: TtsEmulatorOptions;
  openai?: OpenAiEmulatorOptions;
}

export interface Emulators {
  speech: SpeechEmulator;
  tts: TtsEmulator;
  openai: OpenAiEmulator;
  /** The core's settings that point it at these emulators. */
  env: { SPEECH_ENDPOINT: string; TTS_ENDPOINT: string; OPENAI_BASE_URL: string; OPENAI_API_KEY: string };
  close(): Promise<void>;
}

export async function startEmulators(options: EmulatorsOptions = {}): Promise<Emulators> {
  const script = options.script ?? defaultScript.lines;
  const started = await Promise.allSettled([
    startSpeechEmulator({ ...options.speech, script }),
    startTtsEmulator(options.tts),
    startOpenAiEmulator(options.openai),
  ] as const);
  const closeAll = () => Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.close() : undefined))).then(() => undefined);
  const [speech, tts, openai] = started;
  if (speech.status === "rejected" || tts.status === "rejected" || openai.status === "rejected") {
    await closeAll();
    const failed = started.find((s) => s.status === "rejected") as PromiseRejectedResult;
    throw failed.reason;
  }
  return {
    speech: speech.value,
    tts: tts.value,
    openai: openai.value,
    env: {
      SPEECH_ENDPOINT: speech.value.address,
      TTS_ENDPOINT: tts.value.address,
      OPENAI_BASE_URL: openai.value.baseURL,
      OPENAI_API_KEY: "local-emulator",
    },
    close: closeAll,
  };
}
