// Google Speech-to-Text v1 emulator: a real gRPC server speaking google.cloud.speech.v1.Speech, so the
// real @google-cloud/speech client talks to it unchanged. It cannot understand speech: utterance k of a
// stream is transcribed as script[k % n], timed from the audio received (see utterances.ts). Bursts
// shorter than minSpeechMs (coughs, clicks) give no result and take no script line.
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { durationFromMs, grpcError, listenOnLoopback, loadGoogleService, stderrLogger } from "./grpc-host.js";
import { checkRecognitionConfig, type RecognitionConfigMessage } from "./recognition-config.js";
import { DEFAULT_UTTERANCE_TIMING, UtteranceTracker, type UtteranceEvent, type UtteranceTiming } from "./utterances.js";

export interface SpeechFault {
  /** Audio (ms) the stream receives before it fails. */
  afterAudioMs: number;
  code: grpc.status;
  details?: string;
}

/** A script line: what the caller says, or that plus how the emulator treats that utterance. */
export type SpeechScriptLine =
  | string
  | {
      text: string;
      /** Partials only: the final of this utterance never comes (as when Google drops it), so the
       *  agent must fall back to the latest partial. */
      withholdFinal?: boolean;
    };

export interface SpeechEmulatorOptions extends Partial<UtteranceTiming> {
  /** 0 (default) picks a free port. */
  port?: number;
  /** What the caller says, one line per utterance. */
  script: SpeechScriptLine[];
  /** Speech audio per word revealed in partials (default 350, about eSpeak's 175 words a minute). */
  msPerWord?: number;
  /** Wall-clock delay before each final is sent (default 0). */
  finalDelayMs?: number;
  /** Audio per stream before OUT_OF_RANGE, as Google's ~305 s limit (default 305000). */
  maxStreamMs?: number;
  /** Wall-clock gap between audio requests before OUT_OF_RANGE "Audio Timeout" (default 10000; 0 = never). */
  audioTimeoutMs?: number;
  /** Faults for the next streams opened, one each, in order (more can be added with injectFault). */
  faults?: SpeechFault[];
  log?: (line: string) => void;
}

export interface SpeechEmulatorStats {
  streamsOpened: number;
  streamsEnded: number;
  finalsSent: number;
  partialsSent: number;
  /** Finals not sent because their script line says withholdFinal. */
  finalsWithheld: number;
  /** Energy bursts shorter than minSpeechMs that produced nothing. */
  shortBurstsIgnored: number;
  bytesReceived: number;
  recognizeRequests: number;
}

export interface SpeechEmulator {
  port: number;
  /** "127.0.0.1:<port>" (SPEECH_ENDPOINT). */
  address: string;
  stats: SpeechEmulatorStats;
  /** The next stream opened fails with `fault.code` after `fault.afterAudioMs` of audio. */
  injectFault(fault: SpeechFault): void;
  close(): Promise<void>;
}

/** Google's per-request audio limit for streaming recognition. */
const MAX_REQUEST_AUDIO_BYTES = 25_600;
/** Google's limit for synchronous Recognize. */
const MAX_SYNC_AUDIO_MS = 60_000;
const CONFIDENCE = 0.92;
const INTERIM_STABILITY = 0.9;

interface StreamingRequestMessage {
  streaming_request?: "streaming_config" | "audio_content";
  streaming_config?: { config: RecognitionConfigMessage | null; interim_results: boolean; single_utterance: boolean } | null;
  audio_content?: Buffer;
}

interface RecognizeRequestMessage {
  config: RecognitionConfigMessage | null;
  audio: { audio_source?: "content" | "uri"; content?: Buffer } | null;
}

interface TranscriptResult {
  alternatives: { transcript: string; confidence: number }[];
  is_final: boolean;
  stability: number;
  result_end_time: { seconds: number; nanos: number };
  language_code: string;
}

type StreamingResponse = { results: TranscriptResult[] } | { speech_event_type: "END_OF_SINGLE_UTTERANCE"; speech_event_time: { seconds: number; nanos: number } };

/** The words a partial shows after `speechMs` of speech: a prefix growing at `msPerWord`. */
function partialTranscript(line: string, speechMs: number, msPerWord: number): string {
  const words = line.split(/\s+/).filter(Boolean);
  const shown = Math.min(words.length, Math.max(1, Math.ceil(speechMs / msPerWord)));
  return words.slice(0, shown).join(" ");
}

interface ScriptLine {
  text: string;
  withholdFinal: boolean;
}

function scriptLines(script: SpeechScriptLine[]): ScriptLine[] {
  if (script.length === 0) throw new Error("speech emulator: script must have at least one line");
  return script.map((line, index) => {
    const { text, withholdFinal } = typeof line === "string" ? { text: line, withholdFinal: false } : line;
    if (typeof text !== "string" || !text.trim()) throw new Error(`speech emulator: script line ${index + 1} has no text`);
    return { text, withholdFinal: withholdFinal === true };
  });
}

export async function startSpeechEmulator(options: SpeechEmulatorOptions): Promise<SpeechEmulator> {
  const settings = {
    timing: { ...DEFAULT_UTTERANCE_TIMING, ...definedOnly(options) },
    script: scriptLines(options.script),
    msPerWord: options.msPerWord ?? 350,
    finalDelayMs: options.finalDelayMs ?? 0,
    maxStreamMs: options.maxStreamMs ?? 305_000,
    audioTimeoutMs: options.audioTimeoutMs ?? 10_000,
    log: options.log ?? stderrLogger("speech-emulator"),
  };
  const stats: SpeechEmulatorStats = {
    streamsOpened: 0,
    streamsEnded: 0,
    finalsSent: 0,
    partialsSent: 0,
    finalsWithheld: 0,
    shortBurstsIgnored: 0,
    bytesReceived: 0,
    recognizeRequests: 0,
  };
  const faults = [...(options.faults ?? [])];
  // A stream the emulator itself broke (fault, limit, timeout) is retried by the client on the same
  // connection; the retry resumes the script where the broken stream stopped, as the caller would.
  const resumeAt = new Map<string, number>();

  const server = new grpc.Server();
  server.addService(loadGoogleService("@google-cloud/speech", "google/cloud/speech/v1/cloud_speech.proto", "google.cloud.speech.v1.Speech"), {
    StreamingRecognize: (call: grpc.ServerDuplexStream<StreamingRequestMessage, StreamingResponse>) => {
      stats.streamsOpened++;
      const peer = call.getPeer();
      const firstUtterance = resumeAt.get(peer) ?? 0;
      resumeAt.delete(peer);
      serveStream(call, { ...settings, stats, fault: faults.shift(), firstUtterance, onBroken: (next) => resumeAt.set(peer, next) });
    },
    Recognize: (call: grpc.ServerUnaryCall<RecognizeRequestMessage, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      stats.recognizeRequests++;
      const answer = recognize(call.request, settings.script, settings.timing, stats);
      if (answer.ok) return callback(null, answer.value);
      settings.log(`Recognize rejected: ${answer.reason}`);
      callback(grpcError(grpc.status.INVALID_ARGUMENT, answer.reason));
    },
  });
  const host = await listenOnLoopback(server, options.port ?? 0);
  return { ...host, stats, injectFault: (fault) => faults.push(fault) };
}

interface StreamContext {
  timing: UtteranceTiming;
  script: ScriptLine[];
  msPerWord: number;
  finalDelayMs: number;
  maxStreamMs: number;
  audioTimeoutMs: number;
  log: (line: string) => void;
  stats: SpeechEmulatorStats;
  fault: SpeechFault | undefined;
  firstUtterance: number;
  /** Called when the emulator ends a stream with an error, with the next utterance index. */
  onBroken: (nextUtterance: number) => void;
}

function serveStream(call: grpc.ServerDuplexStream<StreamingRequestMessage, StreamingResponse>, context: StreamContext): void {
  const { stats, script, log } = context;
  const tracker = new UtteranceTracker(context.timing);
  const aborted = new AbortController();
  let outbox: Promise<void> = Promise.resolve();
  let queued = 0;
  let config: { languageCode: string; interimResults: boolean; singleUtterance: boolean } | undefined;
  let nextUtterance = context.firstUtterance;
  /** No more input is taken (half-closed, or single utterance over); queued responses still go out. */
  let closing = false;
  /** The call is over; nothing more is written. */
  let done = false;
  let audioTimer: NodeJS.Timeout | undefined;

  const finish = () => {
    if (done) return false;
    done = true;
    stats.streamsEnded++;
    aborted.abort();
    clearTimeout(audioTimer);
    return true;
  };
  const fail = (code: grpc.status, details: string, broken: boolean) => {
    if (!finish()) return;
    log(`StreamingRecognize ended with ${grpc.status[code]}: ${details}`);
    if (broken) context.onBroken(nextUtterance);
    call.emit("error", grpcError(code, details));
  };
  const write = (response: StreamingResponse, counted: keyof SpeechEmulatorStats | undefined) => {
    if (done) return;
    call.write(response);
    if (counted) stats[counted]++;
  };
  // Responses leave in order: at once when nothing is waiting, else behind a delayed final.
  const send = (response: StreamingResponse, delayMs: number, counted: keyof SpeechEmulatorStats | undefined) => {
    if (delayMs === 0 && queued === 0) {
      write(response, counted);
      return;
    }
    queued++;
    outbox = outbox
      .then(async () => {
        if (delayMs > 0) await sleep(delayMs, undefined, { signal: aborted.signal });
        write(response, counted);
      })
      .catch(() => undefined) // aborted: the stream is gone
      .finally(() => queued--);
  };
  const result = (text: string, isFinal: boolean, endMs: number): StreamingResponse => ({
    results: [
      {
        alternatives: [{ transcript: text, confidence: isFinal ? CONFIDENCE : 0 }],
        is_final: isFinal,
        stability: isFinal ? 0 : INTERIM_STABILITY,
        result_end_time: durationFromMs(endMs),
        language_code: config?.languageCode.toLowerCase() ?? "",
      },
    ],
  });
  const deliver = (event: UtteranceEvent) => {
    if (!config) return;
    if (event.kind === "ignored") {
      stats.shortBurstsIgnored++;
      return;
    }
    const line = script[(context.firstUtterance + event.utterance) % script.length]!;
    if (event.kind === "partial") {
      if (config.interimResults) send(result(partialTranscript(line.text, event.speechMs, context.msPerWord), false, event.atMs), 0, "partialsSent");
      return;
    }
    nextUtterance = context.firstUtterance + event.utterance + 1;
    if (config.singleUtterance) {
      send({ speech_event_type: "END_OF_SINGLE_UTTERANCE", speech_event_time: durationFromMs(event.endMs) }, 0, undefined);
    }
    if (line.withholdFinal) stats.finalsWithheld++;
    else send(result(line.text, true, event.endMs), context.finalDelayMs, "finalsSent");
    if (config.singleUtterance) endAfterOutbox();
  };
  // Ends with OK once every queued response (a delayed final included) has been written.
  const endAfterOutbox = () => {
    closing = true;
    clearTimeout(audioTimer);
    void outbox.then(() => {
      if (finish()) call.end();
    });
  };
  const armAudioTimeout = () => {
    if (context.audioTimeoutMs <= 0) return;
    if (audioTimer) audioTimer.refresh();
    else {
      audioTimer = setTimeout(() => {
        fail(grpc.status.OUT_OF_RANGE, "Audio Timeout Error: Long duration elapsed without audio. Audio should be sent close to real time.", true);
      }, context.audioTimeoutMs);
    }
  };

  call.on("data", (request: StreamingRequestMessage) => {
    if (closing || done) return;
    if (!config) {
      const streaming = request.streaming_request === "streaming_config" ? request.streaming_config : undefined;
      if (!streaming) {
        fail(grpc.status.INVALID_ARGUMENT, "the first StreamingRecognizeRequest must carry streaming_config (and no audio_content)", false);
        return;
      }
      const checked = checkRecognitionConfig(streaming.config);
      if (!checked.ok) {
        fail(grpc.status.INVALID_ARGUMENT, `Invalid recognition 'config': ${checked.reason}`, false);
        return;
      }
      config = { languageCode: checked.value.languageCode, interimResults: streaming.interim_results, singleUtterance: streaming.single_utterance };
      armAudioTimeout();
      return;
    }
    if (request.streaming_request !== "audio_content") {
      fail(grpc.status.INVALID_ARGUMENT, "only the first StreamingRecognizeRequest may carry streaming_config; later ones carry audio_content", false);
      return;
    }
    const audio = request.audio_content ?? Buffer.alloc(0);
    if (audio.length > MAX_REQUEST_AUDIO_BYTES) {
      fail(grpc.status.INVALID_ARGUMENT, `audio_content of ${audio.length} bytes exceeds the ${MAX_REQUEST_AUDIO_BYTES}-byte limit per streaming request`, false);
      return;
    }
    stats.bytesReceived += audio.length;
    armAudioTimeout();
    for (const event of tracker.push(audio)) {
      deliver(event);
      if (closing) return;
    }
    if (context.fault && tracker.audioMs >= context.fault.afterAudioMs) {
      fail(context.fault.code, context.fault.details ?? `injected fault: ${grpc.status[context.fault.code]}`, true);
    } else if (tracker.audioMs >= context.maxStreamMs) {
      fail(grpc.status.OUT_OF_RANGE, `Exceeded maximum allowed stream duration of ${Math.round(context.maxStreamMs / 1000)} seconds.`, true);
    }
  });
  // Half-close: what is still being said is final now, then the stream ends with OK.
  call.on("end", () => {
    if (closing || done) return;
    for (const event of tracker.flush()) deliver(event);
    endAfterOutbox();
  });
  call.on("cancelled", () => finish());
}

function recognize(
  request: RecognizeRequestMessage,
  script: ScriptLine[],
  timing: UtteranceTiming,
  stats: SpeechEmulatorStats,
): { ok: true; value: { results: Omit<TranscriptResult, "is_final" | "stability">[] } } | { ok: false; reason: string } {
  const checked = checkRecognitionConfig(request.config);
  if (!checked.ok) return { ok: false, reason: `Invalid recognition 'config': ${checked.reason}` };
  if (request.audio?.audio_source !== "content" || !request.audio.content) {
    return { ok: false, reason: "RecognitionAudio.content is required (the emulator cannot read a uri)" };
  }
  const tracker = new UtteranceTracker(timing);
  const events = [...tracker.push(request.audio.content), ...tracker.flush()];
  if (tracker.audioMs > MAX_SYNC_AUDIO_MS) {
    return { ok: false, reason: "Sync input too long. For audio longer than 1 min use LongRunningRecognize with a 'uri' parameter." };
  }
  const results = events.flatMap((event) => {
    if (event.kind === "ignored") stats.shortBurstsIgnored++;
    if (event.kind !== "final") return [];
    const line = script[event.utterance % script.length]!;
    if (line.withholdFinal) {
      stats.finalsWithheld++;
      return [];
    }
    return [
      {
        alternatives: [{ transcript: line.text, confidence: CONFIDENCE }],
        result_end_time: durationFromMs(event.endMs),
        language_code: checked.value.languageCode.toLowerCase(),
      },
    ];
  });
  return { ok: true, value: { results } };
}

/** The timing fields of `options` that were given (so undefined does not override a default). */
function definedOnly(options: Partial<UtteranceTiming>): Partial<UtteranceTiming> {
  const keys = Object.keys(DEFAULT_UTTERANCE_TIMING) as (keyof UtteranceTiming)[];
  return Object.fromEntries(keys.filter((key) => options[key] !== undefined).map((key) => [key, options[key]]));
}
