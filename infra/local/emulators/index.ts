// Starts the three local stand-ins together (npm start, end-to-end tests) and says how the core
// reaches them. The transcription API hears, for a call, the line the speech emulator has pending for
// it (the core's STT fallback sends that utterance's audio), so one caller script serves both. With
// them runs the caller-script registry (script-registry.ts), where a simulated caller registers what
// it will say for its call, so the speech emulator transcribes that call as those lines.
import defaultScript from "../../caller-scripts/default.he.json" with { type: "json" };
import { startOpenAiEmulator, type OpenAiEmulator, type OpenAiEmulatorOptions } from "./openai.js";
import { startScriptRegistry, type ScriptRegistry } from "./script-registry.js";
import { startSpeechEmulator, type SpeechEmulator, type SpeechEmulatorOptions, type SpeechScriptLine } from "./speech.js";
import { startTtsEmulator, type TtsEmulator, type TtsEmulatorOptions } from "./tts.js";

export { CALL_ID_HEADER, type FaultWhen, type ScheduledFault } from "./faults.js";
export { STREAM_LIMIT_DETAILS } from "./grpc-host.js";
export {
  startOpenAiEmulator,
  type CallToolStats,
  type ChatFault,
  type CompletionTimeline,
  type EmittedToolCall,
  type HttpFault,
  type OpenAiEmulator,
  type OpenAiEmulatorOptions,
  type OpenAiEmulatorStats,
  type TranscriptionFault,
} from "./openai.js";
export {
  startSpeechEmulator,
  type SpeechEmulator,
  type SpeechEmulatorOptions,
  type SpeechEmulatorStats,
  type SpeechCallStats,
  type SpeechFault,
  type SpeechFaultKind,
  type SpeechScriptLine,
  type SpeechStreamRecord,
} from "./speech.js";
export { startScriptRegistry, type ScriptRegistry } from "./script-registry.js";
export { startTtsEmulator, type TtsEmulator, type TtsEmulatorOptions, type TtsEmulatorStats, type TtsFault, type TtsFaultKind } from "./tts.js";

export interface EmulatorsOptions {
  /** The caller's lines the speech emulator transcribes for a call that registered none (default:
   *  infra/caller-scripts/default.he.json). */
  script?: SpeechScriptLine[];
  /** The caller-script registry's port (default 0: any free port; `npm start`: LOCAL_SCRIPT_REGISTRY_PORT
   *  of infra/caller-scripts/registration.ts). */
  scriptRegistry?: { port?: number };
  speech?: Omit<SpeechEmulatorOptions, "script">;
  tts?: TtsEmulatorOptions;
  /** transcriptFor is wired to the speech emulator here. */
  openai?: Omit<OpenAiEmulatorOptions, "transcriptFor">;
}

export interface Emulators {
  speech: SpeechEmulator;
  tts: TtsEmulator;
  openai: OpenAiEmulator;
  /** Where a simulated caller registers its lines for its call (`scriptRegistry.url`: runCall's
   *  `scriptRegistry`, `npm run call -- --speech-script-url`). */
  scriptRegistry: ScriptRegistry;
  /** The core's settings that point it at these emulators. */
  env: { SPEECH_ENDPOINT: string; TTS_ENDPOINT: string; OPENAI_BASE_URL: string; OPENAI_API_KEY: string };
  /** Drops every fault of the three emulators not yet in effect (see each emulator's clearFaults). */
  clearFaults(): void;
  close(): Promise<void>;
}

export async function startEmulators(options: EmulatorsOptions = {}): Promise<Emulators> {
  const script = options.script ?? defaultScript.lines;
  // All four start at once; startEmulators returns once all are up, so the speech emulator is there
  // before any request can ask for a line or register a script.
  let speechEmulator: SpeechEmulator | undefined;
  const started = await Promise.allSettled([
    startSpeechEmulator({ ...options.speech, script }).then((started) => (speechEmulator = started)),
    startTtsEmulator(options.tts),
    startOpenAiEmulator({ ...options.openai, transcriptFor: (callId) => speechEmulator?.takePendingLine(callId) }),
    startScriptRegistry({
      port: options.scriptRegistry?.port ?? 0,
      register: (callSid, lines) => {
        if (!speechEmulator) throw new Error("the speech emulator is not running");
        speechEmulator.registerScript(callSid, lines);
      },
      ...(options.speech?.log && { log: options.speech.log }),
    }),
  ] as const);
  const closeAll = () => Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.close() : undefined))).then(() => undefined);
  const [speech, tts, openai, scriptRegistry] = started;
  if (speech.status === "rejected" || tts.status === "rejected" || openai.status === "rejected" || scriptRegistry.status === "rejected") {
    await closeAll();
    const failed = started.find((s) => s.status === "rejected") as PromiseRejectedResult;
    throw failed.reason;
  }
  // The softphone's typed words: lines appended to a live call's script, heard by the speech emulator.
  scriptRegistry.value.serveLiveScripts(speech.value);
  return {
    speech: speech.value,
    tts: tts.value,
    openai: openai.value,
    scriptRegistry: scriptRegistry.value,
    env: {
      SPEECH_ENDPOINT: speech.value.address,
      TTS_ENDPOINT: tts.value.address,
      OPENAI_BASE_URL: openai.value.baseURL,
      OPENAI_API_KEY: "local-emulator",
    },
    clearFaults: () => {
      speech.value.clearFaults();
      tts.value.clearFaults();
      openai.value.clearFaults();
    },
    close: closeAll,
  };
}
