// One StreamingRecognize call of the speech emulator: the config, then audio; partials and finals
// of the call's script lines as utterances are found in the audio (utterances.ts), in order, each at
// its due time; and the stream's fault, if it drew one, once its audio reaches afterAudioMs.
import http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { durationFromMs, googleStatusDetails, grpcError } from "./grpc-host.js";
import { checkRecognitionConfig, type RecognitionConfigMessage } from "./recognition-config.js";
import { partialTranscript, scriptLineAt, wordsEnded, type CallScript } from "./speech-script.js";
import type { SpeechCallStats, SpeechEmulatorStats, SpeechStreamRecord } from "./speech.js";
import { UtteranceTracker, type UtteranceEvent, type UtteranceTiming } from "./utterances.js";

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

/** Google's per-request audio limit for streaming recognition. */
const MAX_REQUEST_AUDIO_BYTES = 25_600;
export const CONFIDENCE = 0.92;
const INTERIM_STABILITY = 0.9;

export interface StreamingRequestMessage {
  streaming_request?: "streaming_config" | "audio_content";
  streaming_config?: { config: RecognitionConfigMessage | null; interim_results: boolean; single_utterance: boolean } | null;
  audio_content?: Buffer;
}


export interface TranscriptResult {
  alternatives: { transcript: string; confidence: number }[];
  is_final: boolean;
  stability: number;
  result_end_time: { seconds: number; nanos: number };
  language_code: string;
}

export type StreamingResponse = { results: TranscriptResult[] } | { speech_event_type: "END_OF_SINGLE_UTTERANCE"; speech_event_time: { seconds: number; nanos: number } };

/**
 * The HTTP/2 stream under a grpc-js server call. grpc-js has no public way to reset one call's stream
 * (only the whole connection); 1.14 keeps it at `call.call.stream`, which the reset test checks.
 */
function http2StreamOf(call: object): http2.Http2Stream | undefined {
  const stream = (call as { call?: { stream?: Partial<http2.Http2Stream> } }).call?.stream;
  return typeof stream?.close === "function" && "rstCode" in stream ? (stream as http2.Http2Stream) : undefined;
}

export interface StreamContext {
  timing: UtteranceTiming;
  script: CallScript;
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
  /** The script position this finalises (a final, or a withheld final's place). */
  finalises?: number;
}

export function serveStream(call: grpc.ServerDuplexStream<StreamingRequestMessage, StreamingResponse>, context: StreamContext): void {
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
  /** The latest word-timed partial: its utterance and how many words it showed, so none repeats. */
  let wordsShown = { utterance: -1, count: 0 };
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
    if (out.finalises !== undefined) caller.linesFinalised = Math.max(caller.linesFinalised, out.finalises + 1);
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
    // A live script's utterance takes the line waiting when it is heard; a fixed one's, its place in the call.
    const position = script.live ? caller.linesFinalised : lineIndex(event.utterance);
    const line = scriptLineAt(script, position);
    // No words: a caller who registered none (its music, a tone, is transcribed as nothing at all), or
    // a live one who gave no line for this utterance.
    if (!line) {
      if (event.kind === "final") {
        stats.wordlessUtterances++;
        caller.wordlessUtterances++;
      }
      return;
    }
    // A line with timed words has a partial when the audio reaches a word's end (a pause included);
    // one without has them at a steady pace while speech continues.
    if (event.kind === "progress") {
      if (!line.words || !config.interimResults) return;
      const count = wordsEnded(line.words, event.speechMs);
      if (count <= (wordsShown.utterance === event.utterance ? wordsShown.count : 0)) return;
      wordsShown = { utterance: event.utterance, count };
      const shown = line.words.slice(0, count).map((word) => word.text).join(" ");
      send({ response: result(shown, false, event.atMs), counted: "partialsSent" });
      return;
    }
    if (event.kind === "partial") {
      if (config.interimResults && !line.words) send({ response: result(partialTranscript(line.partials, event.speechMs, context.msPerWord), false, event.atMs), counted: "partialsSent" });
      return;
    }
    if (config.singleUtterance) {
      send({ response: { speech_event_type: "END_OF_SINGLE_UTTERANCE", speech_event_time: durationFromMs(event.endMs) } });
    }
    if (line.withholdFinal) send({ counted: "finalsWithheld", finalises: position });
    else {
      const final = result(line.text, true, event.endMs);
      if (malformedFinal) final.results = [malformResult(final.results[0]!, malformedFinal, tracker.audioMs)];
      malformedFinal = undefined;
      send({ response: final, counted: "finalsSent", finalises: position }, context.finalDelayMs);
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

