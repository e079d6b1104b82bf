// Google Speech-to-Text v1 StreamingRecognize through the app's one SpeechClient: one continuous
// stream per call carrying every frame (silence too, as Google expects), interim results on.
// A failed stream is reported once and opened again on later audio, backing off while it keeps
// failing. (Replaying the unrecognised audio and rotating before the 305 s limit come later.)
//
// The stream is gax's own (`_streamingRecognize`, typed public in the client's d.ts) rather than the
// library's `streamingRecognize` helper: the helper wraps it in a pipeline whose destroy() did not end
// the gRPC call (checked against the emulator), while gax's stream has cancel(), which ends it at once. The
// helper only adds the first request carrying the config and wraps audio as {audioContent}; so do we.
import type { SpeechClient, protos } from "@google-cloud/speech";
import type { Client } from "@grpc/grpc-js";
import type { SpeechToText, SttStream, SttStreamHandlers } from "./types.js";

type StreamingResponse = protos.google.cloud.speech.v1.IStreamingRecognizeResponse;
type StreamingConfig = protos.google.cloud.speech.v1.IStreamingRecognitionConfig;
type Duration = protos.google.protobuf.IDuration;

export interface GoogleSttOptions {
  languageCode: string;
  model: string;
}

const FIRST_REOPEN_DELAY_MS = 200;
const MAX_REOPEN_DELAY_MS = 1600;
const WARMUP_DEADLINE_MS = 5000;

export function createGoogleSpeechToText(client: SpeechClient, options: GoogleSttOptions): SpeechToText {
  const streamingConfig: StreamingConfig = {
    config: {
      encoding: "MULAW" as const,
      sampleRateHertz: 8000,
      languageCode: options.languageCode,
      model: options.model,
    },
    interimResults: true,
  };
  return {
    openStream: (handlers) => new GoogleSttStream(client, streamingConfig, handlers),
    async warmup() {
      await client.initialize();
      // The stub is a grpc-js Client; waiting for it to be ready opens the HTTP/2 connection.
      const stub = (await client.speechStub) as unknown as Client;
      await new Promise<void>((resolve, reject) =>
        stub.waitForReady(Date.now() + WARMUP_DEADLINE_MS, (error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

type Recognizer = ReturnType<SpeechClient["_streamingRecognize"]>;

class GoogleSttStream implements SttStream {
  private current: Recognizer | undefined;
  /** Caller-clock time of the first frame the current stream received: its zero. */
  private streamZeroMs = 0;
  private reopenDelayMs = 0;
  private reopenNotBefore = 0;
  private closed = false;
  reopenCount = 0;

  constructor(
    private readonly client: SpeechClient,
    private readonly streamingConfig: StreamingConfig,
    private readonly handlers: SttStreamHandlers,
  ) {}

  write(mulaw: Uint8Array, audioMs: number): void {
    if (this.closed) return;
    if (!this.current) {
      if (performance.now() < this.reopenNotBefore) return;
      if (this.reopenDelayMs > 0) this.reopenCount++;
      this.open(audioMs);
    }
    this.current!.write({ audioContent: mulaw });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // The call is over and no result is wanted: cancel rather than half-close, so the service ends
    // the stream now instead of after its last (possibly delayed) final.
    this.current?.cancel();
    this.current = undefined;
  }

  private open(zeroMs: number): void {
    const recognizer = this.client._streamingRecognize();
    recognizer.write({ streamingConfig: this.streamingConfig });
    this.current = recognizer;
    this.streamZeroMs = zeroMs;
    const fail = (error: Error) => {
      if (this.closed || this.current !== recognizer) return;
      this.current = undefined;
      recognizer.cancel();
      this.reopenDelayMs = Math.min(MAX_REOPEN_DELAY_MS, this.reopenDelayMs * 2 || FIRST_REOPEN_DELAY_MS);
      this.reopenNotBefore = performance.now() + this.reopenDelayMs;
      this.handlers.onError(error);
    };
    recognizer.on("data", (response: StreamingResponse) => {
      if (this.closed || this.current !== recognizer) return;
      // An error carried in a response (the helper turns these into stream errors too).
      if (response.error?.code) return fail(Object.assign(new Error(response.error.message ?? "recognition error"), { code: response.error.code }));
      this.reopenDelayMs = 0;
      this.deliver(response);
    });
    recognizer.on("error", fail);
    // The service ended the stream (e.g. its duration limit): the next frame opens a new one.
    recognizer.on("end", () => {
      if (this.current === recognizer) this.current = undefined;
    });
  }

  private deliver(response: StreamingResponse): void {
    const results = response.results ?? [];
    const first = results[0];
    if (!first) return;
    // Interim responses split the text into a stable head and an unstable tail; together they are the partial.
    const transcript = results.map((result) => result.alternatives?.[0]?.transcript ?? "").join("");
    const endTime = results.at(-1)?.resultEndTime;
    const end = endTime ? this.streamZeroMs + durationMs(endTime) : undefined;
    this.handlers.onResult({ transcript, isFinal: first.isFinal === true, audioEndMs: end });
  }
}

function durationMs(duration: Duration): number {
  return Number(duration.seconds ?? 0) * 1000 + (duration.nanos ?? 0) / 1e6;
}
