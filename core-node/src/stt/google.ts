// Google Speech-to-Text v1 through the app's one SpeechClient: each call's recognition is a
// ResilientSttStream (stream.ts) over StreamingRecognize requests opened here, one continuous stream
// at a time carrying every frame (silence too, as Google expects), interim results on.
//
// The stream is gax's own (`_streamingRecognize`, typed public in the client's d.ts) rather than the
// library's `streamingRecognize` helper: the helper wraps it in a pipeline whose destroy() did not end
// the gRPC call (checked against the emulator), while gax's stream has cancel(), which ends it at once. The
// helper only adds the first request carrying the config and wraps audio as {audioContent}; so do we.
// Call options reach gRPC as metadata through `otherArgs.headers` (google-gax grpc.js metadataBuilder).
import type { SpeechClient, protos } from "@google-cloud/speech";
import { DEFAULT_STREAM_SETTINGS, ResilientSttStream, type OpenRecognizer, type RecognizerEvents, type RecognizerResult } from "./stream.js";
import { CALL_ID_HEADER } from "@voice/protocol";
import type { SpeechToText } from "./types.js";

type StreamingResponse = protos.google.cloud.speech.v1.IStreamingRecognizeResponse;
type StreamingConfig = protos.google.cloud.speech.v1.IStreamingRecognitionConfig;

export interface GoogleSttOptions {
  languageCode: string;
  model: string;
  /** STT_STREAM_ROTATE_MS / STT_STREAM_MAX_MS (audio time). */
  rotateMs: number;
  maxMs: number;
}

/** Warmup recognizes this much silence: enough for a valid request, billed as the minimum. */
const WARMUP_SILENCE_BYTES = 1600;
const WARMUP_DEADLINE_MS = 5000;

export function createGoogleSpeechToText(client: SpeechClient, options: GoogleSttOptions): SpeechToText {
  const recognitionConfig = {
    encoding: "MULAW" as const,
    sampleRateHertz: 8000,
    languageCode: options.languageCode,
    model: options.model,
  };
  const streamingConfig: StreamingConfig = { config: recognitionConfig, interimResults: true };
  const settings = { ...DEFAULT_STREAM_SETTINGS, rotateMs: options.rotateMs, maxMs: options.maxMs };
  return {
    openStream: (callId, handlers) => new ResilientSttStream(googleRecognizer(client, streamingConfig, callId), handlers, settings),
    async warmup() {
      // A real request (not just a connection) proves the credentials, the language and the model;
      // no gax retries, so an unreachable service says so at once.
      await client.recognize(
        { config: recognitionConfig, audio: { content: new Uint8Array(WARMUP_SILENCE_BYTES).fill(0xff) } },
        { timeout: WARMUP_DEADLINE_MS, retry: null },
      );
    },
  };
}

function googleRecognizer(client: SpeechClient, streamingConfig: StreamingConfig, callId: string): OpenRecognizer {
  return (events: RecognizerEvents) => {
    const call = client._streamingRecognize({ otherArgs: { headers: { [CALL_ID_HEADER]: callId } } });
    call.on("data", (response: StreamingResponse) => {
      const reading = readStreamingResponse(response);
      switch (reading.kind) {
        case "result":
          return events.onResult(reading.result);
        case "error":
          return events.onError(Object.assign(new Error(reading.message), { code: reading.code }));
        case "ignored":
          return events.onIgnored(reading.reason);
      }
    });
    call.on("error", (error: Error) => events.onError(error));
    call.on("end", () => events.onEnd());
    call.write({ streamingConfig });
    return {
      write: (audio) => call.write({ audioContent: audio }),
      cancel: () => call.cancel(),
    };
  };
}

/** What one StreamingRecognize response means for the stream (see readStreamingResponse). */
export type StreamingResponseReading =
  | { kind: "result"; result: RecognizerResult }
  /** An error carried in a response (the library's helper turns these into stream errors too). */
  | { kind: "error"; code: number; message: string }
  /** Nothing to act on: no results (a speech event, an empty response). */
  | { kind: "nothing" }
  /** Not a usable result: dropped, the stream goes on. `reason` is one line and quotes no transcript. */
  | { kind: "ignored"; reason: string };

/** More than five minutes of speech (a stream's whole life) would say: not a transcript of this call. */
export const MAX_TRANSCRIPT_CHARS = 5000;

/**
 * A response as the session may use it. Interim responses split the text into a stable head and an
 * unstable tail (several results); together they are the partial. Typed as unknown because the
 * service's bytes decide what is in it; never throws.
 */
export function readStreamingResponse(response: unknown): StreamingResponseReading {
  if (!isRecord(response)) return ignored("the response is not an object");
  const { error } = response;
  if (isRecord(error) && typeof error.code === "number" && Number.isInteger(error.code) && error.code !== 0) {
    return { kind: "error", code: error.code, message: typeof error.message === "string" && error.message ? error.message : "recognition error" };
  }
  const results = response.results ?? [];
  if (!Array.isArray(results)) return ignored("the response's results are not a list");
  if (results.length === 0) return { kind: "nothing" };
  let transcript = "";
  for (const result of results as unknown[]) {
    if (!isRecord(result)) return ignored("a result is not an object");
    const { alternatives } = result;
    if (!Array.isArray(alternatives) || alternatives.length === 0) return ignored("a result has no alternatives");
    const best: unknown = alternatives[0];
    const text = isRecord(best) ? best.transcript : undefined;
    if (typeof text !== "string") return ignored("a result's transcript is not text");
    transcript += text;
    if (transcript.length > MAX_TRANSCRIPT_CHARS) return ignored(`a transcript of over ${MAX_TRANSCRIPT_CHARS} characters`);
  }
  const first = results[0] as Record<string, unknown>;
  const endTime = (results.at(-1) as Record<string, unknown>).resultEndTime;
  const endOffsetMs = endTime === undefined || endTime === null ? undefined : durationMs(endTime);
  if (endOffsetMs === null) return ignored("a result's resultEndTime is not a duration");
  if (endOffsetMs !== undefined && endOffsetMs < 0) return ignored(`a result ends at a negative time (${Math.round(endOffsetMs)} ms)`);
  return { kind: "result", result: { transcript, isFinal: first.isFinal === true, endOffsetMs } };
}

const ignored = (reason: string): StreamingResponseReading => ({ kind: "ignored", reason });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** A google.protobuf.Duration in ms, or null when it is not one. gax decodes int64 as decimal strings (longs: String). */
function durationMs(duration: unknown): number | null {
  if (!isRecord(duration)) return null;
  const seconds = wholeNumber(duration.seconds);
  const nanos = wholeNumber(duration.nanos);
  if (seconds === null || nanos === null) return null;
  const ms = seconds * 1000 + nanos / 1e6;
  return Number.isFinite(ms) ? ms : null;
}

/** A protobuf integer as gax hands it over (number, decimal string; absent is 0), or null. */
function wholeNumber(value: unknown): number | null {
  if (value === undefined || value === null) return 0;
  const n = typeof value === "number" ? value : typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : NaN;
  return Number.isFinite(n) ? n : null;
}
