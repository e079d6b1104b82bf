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
import { DEFAULT_STREAM_SETTINGS, ResilientSttStream, type OpenRecognizer, type RecognizerEvents } from "./stream.js";
import { CALL_ID_HEADER } from "@voice/protocol";
import type { SpeechToText } from "./types.js";

type StreamingResponse = protos.google.cloud.speech.v1.IStreamingRecognizeResponse;
type StreamingConfig = protos.google.cloud.speech.v1.IStreamingRecognitionConfig;
type Duration = protos.google.protobuf.IDuration;

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
      // An error carried in a response (the helper turns these into stream errors too).
      if (response.error?.code) {
        events.onError(Object.assign(new Error(response.error.message ?? "recognition error"), { code: response.error.code }));
        return;
      }
      const results = response.results ?? [];
      const first = results[0];
      if (!first) return;
      // Interim responses split the text into a stable head and an unstable tail; together they are the partial.
      const transcript = results.map((result) => result.alternatives?.[0]?.transcript ?? "").join("");
      const endTime = results.at(-1)?.resultEndTime;
      events.onResult({ transcript, isFinal: first.isFinal === true, endOffsetMs: endTime ? durationMs(endTime) : undefined });
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

function durationMs(duration: Duration): number {
  return Number(duration.seconds ?? 0) * 1000 + (duration.nanos ?? 0) / 1e6;
}
