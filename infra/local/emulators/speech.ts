// Google Speech-to-Text v1 emulator: a real gRPC server speaking google.cloud.speech.v1.Speech, so the
// real @google-cloud/speech client talks to it unchanged. It cannot understand speech: the k-th
// utterance of a call is transcribed as line k % n of the call's script, timed from the audio received
// (see utterances.ts). A call's script is the lines registered for it (registerScript: the simulator
// registers what its caller will say, before the call, through the HTTP script registry that
// startEmulators runs, script-registry.ts), else the emulator's default script. A call is what the
// `x-call-id` request header names (the core sends the CallSid), so the streams a core opens one after
// another for a call (after a failure, or to rotate) continue one script: the position moves on only
// when an utterance is finalised, so audio replayed into a new stream maps to the line it had. Without
// the header each stream is a call of its own, on the default script. Bursts shorter than minSpeechMs
// (coughs, clicks) give no result and take no script line. Faults (status, reset, stall, slow, a
// malformed final) are set per test with injectFault; one stream's serving is in speech-stream.ts.
// A call may instead register a live script (the softphone's), which grows while the call runs: each
// appended line is taken by the call's next utterance, and an utterance with none waiting gives no words.
import * as grpc from "@grpc/grpc-js";
import { FaultSchedule, type FaultWhen, type ScheduledFault } from "./faults.js";
import { callIdOf, durationFromMs, grpcError, listenOnLoopback, loadGoogleService, stderrLogger } from "./grpc-host.js";
import { checkRecognitionConfig, type RecognitionConfigMessage } from "./recognition-config.js";
import { CallScripts, scriptLineAt, scriptLines, type CallScript, type SpeechScriptLine } from "./speech-script.js";
import { CONFIDENCE, serveStream, type SpeechFault, type SpeechFaultKind, type StreamingRequestMessage, type StreamingResponse, type TranscriptResult } from "./speech-stream.js";
import { DEFAULT_UTTERANCE_TIMING, UtteranceTracker, type UtteranceTiming } from "./utterances.js";

export type { SpeechScriptLine } from "./speech-script.js";
export { HUGE_TRANSCRIPT_CHARS, type MalformedResultShape, type SpeechFault, type SpeechFaultKind } from "./speech-stream.js";

export interface SpeechEmulatorOptions extends Partial<UtteranceTiming> {
  /** 0 (default) picks a free port. */
  port?: number;
  /** What the caller says, one line per utterance: the default script, for calls that registered none. */
  script: SpeechScriptLine[];
  /** Speech audio per word revealed in partials (default 350, about eSpeak's 175 words a minute). */
  msPerWord?: number;
  /** Wall-clock delay before each final is sent (default 0). */
  finalDelayMs?: number;
  /** Audio per stream before OUT_OF_RANGE "Exceeded maximum allowed stream duration of N seconds."
   *  (default 305000, Google's limit), counted on the audio received, not on wall-clock time. */
  maxStreamMs?: number;
  /** Wall-clock gap between audio requests before OUT_OF_RANGE "Audio Timeout" (default 10000; 0 = never). */
  audioTimeoutMs?: number;
  /** Faults from the start, as injectFault adds them. */
  faults?: ScheduledFault<SpeechFault>[];
  log?: (line: string) => void;
}

/** One StreamingRecognize call, as the emulator saw it. */
export interface SpeechStreamRecord {
  /** performance.now() when it opened, and when it ended (either side ending it). */
  openedAt: number;
  endedAt?: number;
  /** Date.now() when it opened: comparable with the timestamps of another process's log lines. */
  openedAtEpochMs: number;
  /** "OK" (ended after half-close or single utterance), "CANCELLED" (the client ended it), "RST_STREAM"
   *  (reset fault), or the name of the gRPC status the emulator ended it with ("UNAVAILABLE", ...). */
  ending?: string;
  /** The fault this stream drew, if any, and whether it took effect (it may end before afterAudioMs). */
  fault?: SpeechFaultKind;
  faultFired: boolean;
  /** Audio received, ms. */
  audioMs: number;
}

/** What the emulator saw of one call (x-call-id): every stream the call opened, and its script position. */
export interface SpeechCallStats {
  streamsOpened: number;
  streamsEnded: number;
  partialsSent: number;
  finalsSent: number;
  finalsWithheld: number;
  faultsInjected: number;
  /** Utterances finalised: final sent, a withheld final's utterance over, or the line taken by a
   *  transcription (takePendingLine). The call's next utterance is script line linesFinalised % n. */
  linesFinalised: number;
  /** Lines taken by takePendingLine (the core's transcription fallback) rather than by a final. */
  linesTranscribed: number;
  /** Utterances that gave no words: the call registered none, or its live script had no line waiting. */
  wordlessUtterances: number;
  /** The call's streams, oldest first (the latest MAX_STREAMS_KEPT). */
  streams: SpeechStreamRecord[];
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
  /** Utterances of calls that registered no words, which produced nothing (music, a tone). */
  wordlessUtterances: number;
  bytesReceived: number;
  recognizeRequests: number;
  /** Faults that took effect (a stream's fault counts once it fires, not when drawn). */
  faultsInjected: number;
  faultsByKind: Record<SpeechFaultKind, number>;
  /** Per call id (the x-call-id header), the latest MAX_CALLS_KEPT calls; streams without it are not listed. */
  calls: Map<string, SpeechCallStats>;
  /** Scripts registered with registerScript (a call registering again counts again). */
  scriptsRegistered: number;
}

export interface SpeechEmulator {
  port: number;
  /** "127.0.0.1:<port>" (SPEECH_ENDPOINT). */
  address: string;
  stats: SpeechEmulatorStats;
  /** Gives `fault` to the streams `when` picks, counted over streams opened from now on (default: the next one). */
  injectFault(fault: SpeechFault, when?: FaultWhen): void;
  /** Drops every fault not yet in effect: the schedule, and drawn faults of open streams that have not
   *  fired. One in effect stays (a stalled stream stays stalled until the client gives up). */
  clearFaults(): void;
  /**
   * The script line of call `callId`'s utterance not yet finalised, which this finalises: the core's
   * transcription fallback heard that utterance, so the call's next one gets the next line. Undefined
   * for a call no stream has named, and for a call that registered no words.
   */
  takePendingLine(callId: string): string | undefined;
  /**
   * Gives call `callId` (the CallSid its x-call-id header will carry) its own script: its utterances
   * are transcribed as these lines, in order, instead of the default script's. Register before the
   * call's first stream opens: a stream keeps the script it opened with. Registering again replaces
   * the lines (the call's position stays). No lines: the call's utterances give no words at all.
   * Throws with a one-line reason on an empty line or word timings that do not fit it (speech-script.ts).
   */
  registerScript(callId: string, lines: SpeechScriptLine[]): void;
  /**
   * As registerScript, but the script is live: appendLine adds to it while the call runs (streams
   * already open see it), each line is taken once by the call's next utterance, and an utterance with
   * no line waiting gives no words.
   */
  registerLiveScript(callId: string, lines: SpeechScriptLine[]): void;
  /** Adds a line to call `callId`'s live script; throws with a one-line reason (no live script, no text). */
  appendLine(callId: string, line: SpeechScriptLine): void;
  /** Where call `callId`'s live script stands; undefined when the call has none. */
  liveScriptStatus(callId: string): LiveScriptStatus | undefined;
  close(): Promise<void>;
}

/** A live script's lines: taken by utterances, and still waiting for one; and the utterances that came with none waiting. */
export interface LiveScriptStatus {
  taken: number;
  waiting: number;
  wordlessUtterances: number;
}

/** Google's limit for synchronous Recognize. */
const MAX_SYNC_AUDIO_MS = 60_000;
/** Bounds what stats keep, so a long-running `npm start` does not grow without end. */
const MAX_CALLS_KEPT = 1000;
const MAX_STREAMS_KEPT = 1000;

interface RecognizeRequestMessage {
  config: RecognitionConfigMessage | null;
  audio: { audio_source?: "content" | "uri"; content?: Buffer } | null;
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
    wordlessUtterances: 0,
    bytesReceived: 0,
    recognizeRequests: 0,
    faultsInjected: 0,
    faultsByKind: { status: 0, reset: 0, stall: 0, slow: 0, malformed: 0 },
    calls: new Map(),
    scriptsRegistered: 0,
  };
  const scripts = new CallScripts(settings.script, MAX_CALLS_KEPT);
  const faults = new FaultSchedule(options.faults);
  /** Open streams' "forget your fault" switches, for clearFaults. */
  const disarms = new Set<() => void>();
  // A stream without x-call-id that the emulator itself broke (fault, limit, timeout) is retried by the
  // client on the same connection; the retry resumes the script where the broken stream stopped.
  const resumeAt = new Map<string, number>();

  const callFor = (callId: string | undefined, peer: string): SpeechCallStats => {
    if (callId === undefined) {
      const resumed = newCallStats(resumeAt.get(peer) ?? 0);
      resumeAt.delete(peer);
      return resumed;
    }
    let known = stats.calls.get(callId);
    if (!known) {
      known = newCallStats(0);
      stats.calls.set(callId, known);
      if (stats.calls.size > MAX_CALLS_KEPT) stats.calls.delete(stats.calls.keys().next().value!);
    }
    return known;
  };

  const server = new grpc.Server();
  server.addService(loadGoogleService("@google-cloud/speech", "google/cloud/speech/v1/cloud_speech.proto", "google.cloud.speech.v1.Speech"), {
    StreamingRecognize: (call: grpc.ServerDuplexStream<StreamingRequestMessage, StreamingResponse>) => {
      stats.streamsOpened++;
      const callId = callIdOf(call.metadata);
      const peer = call.getPeer();
      const caller = callFor(callId, peer);
      const fault = faults.take(callId);
      const record: SpeechStreamRecord = { openedAt: performance.now(), openedAtEpochMs: Date.now(), faultFired: false, audioMs: 0, ...(fault && { fault: fault.kind ?? "status" }) };
      caller.streamsOpened++;
      caller.streams.push(record);
      if (caller.streams.length > MAX_STREAMS_KEPT) caller.streams.shift();
      const onBroken = () => {
        if (callId === undefined) resumeAt.set(peer, caller.linesFinalised);
      };
      serveStream(call, { ...settings, script: scripts.of(callId), stats, caller, record, fault, disarms, onBroken });
    },
    Recognize: (call: grpc.ServerUnaryCall<RecognizeRequestMessage, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      stats.recognizeRequests++;
      const answer = recognize(call.request, scripts.of(callIdOf(call.metadata)), settings.timing, stats);
      if (answer.ok) return callback(null, answer.value);
      settings.log(`Recognize rejected: ${answer.reason}`);
      callback(grpcError(grpc.status.INVALID_ARGUMENT, answer.reason));
    },
  });
  const host = await listenOnLoopback(server, options.port ?? 0);
  return {
    ...host,
    stats,
    injectFault: (fault, when) => faults.add(fault, when),
    clearFaults: () => {
      faults.clear();
      for (const disarm of disarms) disarm();
    },
    takePendingLine: (callId) => {
      const caller = stats.calls.get(callId);
      if (!caller) return undefined;
      const line = scriptLineAt(scripts.of(callId), caller.linesFinalised);
      if (!line) return undefined;
      caller.linesFinalised++;
      caller.linesTranscribed++;
      return line.text;
    },
    registerScript: (callId, lines) => {
      scripts.register(callId, lines);
      stats.scriptsRegistered++;
    },
    registerLiveScript: (callId, lines) => {
      scripts.register(callId, lines, true);
      stats.scriptsRegistered++;
    },
    appendLine: (callId, line) => scripts.append(callId, line),
    liveScriptStatus: (callId) => {
      const script = scripts.of(callId);
      if (!script.live) return undefined;
      const caller = stats.calls.get(callId);
      const taken = Math.min(caller?.linesFinalised ?? 0, script.lines.length);
      return { taken, waiting: script.lines.length - taken, wordlessUtterances: caller?.wordlessUtterances ?? 0 };
    },
  };
}

function newCallStats(linesFinalised: number): SpeechCallStats {
  return {
    streamsOpened: 0,
    streamsEnded: 0,
    partialsSent: 0,
    finalsSent: 0,
    finalsWithheld: 0,
    faultsInjected: 0,
    linesFinalised,
    linesTranscribed: 0,
    wordlessUtterances: 0,
    streams: [],
  };
}

function recognize(
  request: RecognizeRequestMessage,
  script: CallScript,
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
    const line = scriptLineAt(script, event.utterance);
    if (!line) {
      stats.wordlessUtterances++;
      return [];
    }
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
