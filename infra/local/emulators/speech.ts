// Google Speech-to-Text v1 emulator: a real gRPC server speaking google.cloud.speech.v1.Speech, so the
// real @google-cloud/speech client talks to it unchanged. It cannot understand speech: the k-th
// utterance of a call is transcribed as script[k % n], timed from the audio received (see
// utterances.ts). A call is what the `x-call-id` request header names, so the streams a core opens
// one after another for a call (after a failure, or to rotate) continue one script: the position
// moves on only when an utterance is finalised, so audio replayed into a new stream maps to the line
// it had. Without the header each stream is a call of its own. Bursts shorter than minSpeechMs
// (coughs, clicks) give no result and take no script line. Faults (status, reset, stall, slow, a
// malformed final) are set per test with injectFault.
import http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { FaultSchedule, type FaultWhen, type ScheduledFault } from "./faults.js";
import { callIdOf, durationFromMs, googleStatusDetails, grpcError, listenOnLoopback, loadGoogleService, stderrLogger } from "./grpc-host.js";
import { checkRecognitionConfig, type RecognitionConfigMessage } from "./recognition-config.js";
import { DEFAULT_UTTERANCE_TIMING, UtteranceTracker, type UtteranceEvent, type UtteranceTiming } from "./utterances.js";

/** How a stream misbehaves, once it has received `afterAudioMs` of audio (default 0: from its first audio). */
export type SpeechFault = { afterAudioMs?: number } & (
  | {
      /** End the stream with a gRPC status. The default kind: a fault with a `code` and no kind is this one. */
      kind?: "status";
      code: grpc.status;
      /** Default: Google's usual text for the code (googleStatusDetails), e.g. the 305 s limit's for OUT_OF_RANGE. */
      details?: string;
    }
  | {
      /** Kill the call's HTTP/2 stream with RST_STREAM (INTERNAL_ERROR) and no gRPC status, as a proxy
       *  or a server crash does. grpc-js reports INTERNAL "Received RST_STREAM with code 2 (Internal server error)". */
      kind: "reset";
    }
  | {
      /** Answer nothing more and keep the stream open: no results, no status, no timeouts, until the client gives up. */
      kind: "stall";
    }
  | {
      /** Delay every response from then on by `delayMs` of wall-clock time. */
      kind: "slow";
      delayMs: number;
    }
  | {
      /** The stream's next final is sent malformed in its place (see MalformedResultShape); its
       *  utterance counts as finalised, partials and later results are as usual. */
      kind: "malformed";
      shape: MalformedResultShape;
    }
);

/**
 * How a malformed final reads on the wire (each a valid StreamingRecognizeResponse message):
 * - no-alternatives: a final result with an empty alternatives list;
 * - empty-final: a final whose transcript is "";
 * - negative-end: resultEndTime before the stream began;
 * - absurd-end: resultEndTime 3e9 seconds in (past any 32-bit count);
 * - unsent-audio: resultEndTime a minute past the audio the stream received;
 * - huge-transcript: the line repeated to HUGE_TRANSCRIPT_CHARS characters.
 */
export type MalformedResultShape = "no-alternatives" | "empty-final" | "negative-end" | "absurd-end" | "unsent-audio" | "huge-transcript";

/** The huge-transcript shape's length: 100 KB of text for a few seconds of speech. */
export const HUGE_TRANSCRIPT_CHARS = 100_000;

export type SpeechFaultKind = NonNullable<SpeechFault["kind"]>;

/** A script line: what the caller says, or that plus how the emulator treats that utterance. */
export type SpeechScriptLine =
  | string
  | {
      text: string;
      /** Partials only: the final of this utterance never comes (as when Google drops it), so the
       *  agent must fall back to the latest partial. */
      withholdFinal?: boolean;
      /** What the partials show (growing word by word) when it is not `text`: the recognizer revises
       *  its hypothesis at the final, as Google does when the end of a sentence changes its reading. */
      partials?: string;
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
  bytesReceived: number;
  recognizeRequests: number;
  /** Faults that took effect (a stream's fault counts once it fires, not when drawn). */
  faultsInjected: number;
  faultsByKind: Record<SpeechFaultKind, number>;
  /** Per call id (the x-call-id header), the latest MAX_CALLS_KEPT calls; streams without it are not listed. */
  calls: Map<string, SpeechCallStats>;
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
   * for a call no stream has named.
   */
  takePendingLine(callId: string): string | undefined;
  close(): Promise<void>;
}

/** Google's per-request audio limit for streaming recognition. */
const MAX_REQUEST_AUDIO_BYTES = 25_600;
/** Google's limit for synchronous Recognize. */
const MAX_SYNC_AUDIO_MS = 60_000;
const CONFIDENCE = 0.92;
const INTERIM_STABILITY = 0.9;
/** Bounds what stats keep, so a long-running `npm start` does not grow without end. */
const MAX_CALLS_KEPT = 1000;
const MAX_STREAMS_KEPT = 1000;

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
  /** The text partials grow towards (`text` unless the line says otherwise). */
  partials: string;
}

function scriptLines(script: SpeechScriptLine[]): ScriptLine[] {
  if (script.length === 0) throw new Error("speech emulator: script must have at least one line");
  return script.map((line, index) => {
    const { text, withholdFinal, partials } = typeof line === "string" ? { text: line, withholdFinal: false, partials: undefined } : line;
    if (typeof text !== "string" || !text.trim()) throw new Error(`speech emulator: script line ${index + 1} has no text`);
    if (partials !== undefined && (typeof partials !== "string" || !partials.trim())) {
      throw new Error(`speech emulator: script line ${index + 1} has empty partials`);
    }
    return { text, withholdFinal: withholdFinal === true, partials: partials ?? text };
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
    faultsInjected: 0,
    faultsByKind: { status: 0, reset: 0, stall: 0, slow: 0, malformed: 0 },
    calls: new Map(),
  };
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
      serveStream(call, { ...settings, stats, caller, record, fault, disarms, onBroken });
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
      const line = settings.script[caller.linesFinalised % settings.script.length]!;
      caller.linesFinalised++;
      caller.linesTranscribed++;
      return line.text;
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
    streams: [],
  };
}

/**
 * The HTTP/2 stream under a grpc-js server call. grpc-js has no public way to reset one call's stream
 * (only the whole connection); 1.14 keeps it at `call.call.stream`, which the reset test checks.
 */
function http2StreamOf(call: object): http2.Http2Stream | undefined {
  const stream = (call as { call?: { stream?: Partial<http2.Http2Stream> } }).call?.stream;
  return typeof stream?.close === "function" && "rstCode" in stream ? (stream as http2.Http2Stream) : undefined;
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
  /** The call this stream belongs to: its script position and stats, shared with its other streams. */
  caller: SpeechCallStats;
  record: SpeechStreamRecord;
  fault: SpeechFault | undefined;
  disarms: Set<() => void>;
  /** Called when the emulator ends the stream with an error or a reset. */
  onBroken: () => void;
}

/** A response to write, and what writing it counts and finalises. */
interface Outgoing {
  response?: StreamingResponse;
  counted?: "partialsSent" | "finalsSent" | "finalsWithheld";
  /** The stream's utterance index this finalises (a final, or a withheld final's place). */
  finalises?: number;
}

function serveStream(call: grpc.ServerDuplexStream<StreamingRequestMessage, StreamingResponse>, context: StreamContext): void {
  const { stats, caller, record, script, log } = context;
  const tracker = new UtteranceTracker(context.timing);
  const aborted = new AbortController();
  let outbox: Promise<void> = Promise.resolve();
  let queued = 0;
  let config: { languageCode: string; interimResults: boolean; singleUtterance: boolean } | undefined;
  /** This stream's fault until it fires (or is cleared). */
  let fault = context.fault;
  /** A slow fault in effect: extra delay for every response. */
  let slowMs = 0;
  /** A stall in effect: the emulator writes nothing more and never ends the stream itself. */
  let stalled = false;
  /** A malformed fault in effect: how the next final is sent. */
  let malformedFinal: MalformedResultShape | undefined;
  /** Script line of the stream's first utterance: the call's position when that utterance began, so
   *  audio replayed after a failure gets the line it had, and a new utterance the next one. */
  let firstLine: number | undefined;
  /** No more input is taken (half-closed, or single utterance over); queued responses still go out. */
  let closing = false;
  /** The call is over; nothing more is written. */
  let done = false;
  let audioTimer: NodeJS.Timeout | undefined;
  const disarm = () => (fault = undefined);
  context.disarms.add(disarm);

  const finish = (ending: string) => {
    if (done) return false;
    done = true;
    stats.streamsEnded++;
    caller.streamsEnded++;
    Object.assign(record, { endedAt: performance.now(), ending, audioMs: tracker.audioMs });
    aborted.abort();
    clearTimeout(audioTimer);
    context.disarms.delete(disarm);
    return true;
  };
  const fail = (code: grpc.status, details: string, broken: boolean) => {
    if (stalled || !finish(grpc.status[code])) return;
    log(`StreamingRecognize ended with ${grpc.status[code]}: ${details}`);
    if (broken) context.onBroken();
    call.emit("error", grpcError(code, details));
  };
  const reset = () => {
    const stream = http2StreamOf(call);
    if (!stream) return fail(grpc.status.INTERNAL, "the emulator found no HTTP/2 stream to reset (grpc-js internals changed)", true);
    if (!finish("RST_STREAM")) return;
    log("StreamingRecognize reset with RST_STREAM INTERNAL_ERROR");
    context.onBroken();
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  };
  const fire = (active: SpeechFault) => {
    fault = undefined;
    record.faultFired = true;
    stats.faultsInjected++;
    stats.faultsByKind[active.kind ?? "status"]++;
    caller.faultsInjected++;
    switch (active.kind) {
      case "slow":
        slowMs = active.delayMs;
        return;
      case "stall":
        stalled = true;
        clearTimeout(audioTimer);
        return;
      case "malformed":
        malformedFinal = active.shape;
        return;
      case "reset":
        return reset();
      default:
        return fail(active.code, active.details ?? googleStatusDetails(active.code), true);
    }
  };
  const lineIndex = (utterance: number) => (firstLine ??= caller.linesFinalised) + utterance;
  const write = (out: Outgoing) => {
    if (done || stalled) return;
    if (out.response) call.write(out.response);
    if (out.counted) {
      stats[out.counted]++;
      caller[out.counted]++;
    }
    if (out.finalises !== undefined) caller.linesFinalised = Math.max(caller.linesFinalised, lineIndex(out.finalises) + 1);
  };
  // Responses leave in order: at once when nothing is waiting and nothing delays them, else each at
  // its own due time (arrival + delay) but never before the one ahead of it.
  const send = (out: Outgoing, delayMs = 0) => {
    const totalMs = delayMs + slowMs;
    if (totalMs === 0 && queued === 0) return write(out);
    const dueAt = performance.now() + totalMs;
    queued++;
    outbox = outbox
      .then(() => sleep(Math.max(0, dueAt - performance.now()), undefined, { signal: aborted.signal }))
      .then(() => write(out))
      .catch(() => undefined) // aborted: the stream is gone
      .finally(() => queued--);
  };
  const result = (text: string, isFinal: boolean, endMs: number): { results: TranscriptResult[] } => ({
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
    const line = script[lineIndex(event.utterance) % script.length]!;
    if (event.kind === "partial") {
      if (config.interimResults) send({ response: result(partialTranscript(line.partials, event.speechMs, context.msPerWord), false, event.atMs), counted: "partialsSent" });
      return;
    }
    if (config.singleUtterance) {
      send({ response: { speech_event_type: "END_OF_SINGLE_UTTERANCE", speech_event_time: durationFromMs(event.endMs) } });
    }
    if (line.withholdFinal) send({ counted: "finalsWithheld", finalises: event.utterance });
    else {
      const final = result(line.text, true, event.endMs);
      if (malformedFinal) final.results = [malformResult(final.results[0]!, malformedFinal, tracker.audioMs)];
      malformedFinal = undefined;
      send({ response: final, counted: "finalsSent", finalises: event.utterance }, context.finalDelayMs);
    }
    if (config.singleUtterance) endAfterOutbox();
  };
  // Ends with OK once every queued response (a delayed final included) has been written.
  const endAfterOutbox = () => {
    closing = true;
    clearTimeout(audioTimer);
    void outbox.then(() => {
      if (!stalled && finish("OK")) call.end();
    });
  };
  const armAudioTimeout = () => {
    if (context.audioTimeoutMs <= 0 || stalled) return;
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
    const events = tracker.push(audio);
    record.audioMs = tracker.audioMs;
    const due = fault !== undefined && tracker.audioMs >= (fault.afterAudioMs ?? 0) ? fault : undefined;
    // A stall, slowdown or malformed final already covers the results of the audio that brought it on; a failure comes after them.
    if (due?.kind === "stall" || due?.kind === "slow" || due?.kind === "malformed") fire(due);
    for (const event of events) {
      deliver(event);
      if (closing) return;
    }
    if (due && fault === due) fire(due);
    else if (tracker.audioMs >= context.maxStreamMs) {
      fail(grpc.status.OUT_OF_RANGE, `Exceeded maximum allowed stream duration of ${Math.round(context.maxStreamMs / 1000)} seconds.`, true);
    }
  });
  // Half-close: what is still being said is final now, then the stream ends with OK (a stalled one never ends).
  call.on("end", () => {
    if (closing || done || stalled) return;
    for (const event of tracker.flush()) deliver(event);
    endAfterOutbox();
  });
  call.on("cancelled", () => finish("CANCELLED"));
}

/** `final` as the malformed shape sends it; `receivedMs`: the audio its stream received. */
function malformResult(final: TranscriptResult, shape: MalformedResultShape, receivedMs: number): TranscriptResult {
  switch (shape) {
    case "no-alternatives":
      return { ...final, alternatives: [] };
    case "empty-final":
      return { ...final, alternatives: [{ transcript: "", confidence: 0 }] };
    case "negative-end":
      return { ...final, result_end_time: { seconds: -Math.max(1, Math.ceil(receivedMs / 1000)), nanos: 0 } };
    case "absurd-end":
      return { ...final, result_end_time: { seconds: 3_000_000_000, nanos: 0 } };
    case "unsent-audio":
      return { ...final, result_end_time: durationFromMs(receivedMs + 60_000) };
    case "huge-transcript": {
      const line = final.alternatives[0]!.transcript;
      const transcript = `${line} `.repeat(Math.ceil(HUGE_TRANSCRIPT_CHARS / (line.length + 1))).slice(0, HUGE_TRANSCRIPT_CHARS);
      return { ...final, alternatives: [{ ...final.alternatives[0]!, transcript }] };
    }
  }
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
