// What the speech emulator's tests share: the caller's lines as eSpeak audio, and a real SpeechClient
// streaming to the emulator and collecting what comes back.
import * as grpc from "@grpc/grpc-js";
import { SpeechClient, type protos } from "@google-cloud/speech";
import { MULAW_SILENCE, pcmToMulaw } from "@voice/protocol";
import { synthesizeSpeech } from "../../speech/espeak.js";
import { CALL_ID_HEADER } from "./faults.js";
import { startSpeechEmulator, type SpeechEmulator, type SpeechEmulatorOptions } from "./speech.js";

export const SCRIPT = ["שלום, מה שעות הפתיחה שלכם?", "אפשר לקבוע תור למחר בבוקר?", "תודה רבה, להתראות"];
export const BYTES_PER_MS = 8;

/** eSpeak speech as 8 kHz mu-law, with eSpeak's own leading/trailing quiet cut so pauses are exact. */
export async function spoken(text: string): Promise<Uint8Array> {
  const pcm = await synthesizeSpeech(text, { voice: "he", sampleRate: 8000 });
  const loud = (i: number) => Math.abs(pcm[i]!) > 300;
  let start = 0;
  let end = pcm.length;
  while (start < end && !loud(start)) start++;
  while (end > start && !loud(end - 1)) end--;
  return pcmToMulaw(pcm.subarray(start, end));
}

export const silence = (ms: number) => new Uint8Array(ms * BYTES_PER_MS).fill(MULAW_SILENCE);

export const durationMs = (audio: Uint8Array) => audio.length / BYTES_PER_MS;

/** The chunks as one buffer (a Buffer is a Uint8Array). */
export const concat = (chunks: Uint8Array[]): Uint8Array => Buffer.concat(chunks);

export interface Result {
  transcript: string;
  isFinal: boolean;
  endMs: number;
  /** Wall-clock arrival (Date.now()). */
  receivedAt: number;
}

export type StreamConfig = protos.google.cloud.speech.v1.IStreamingRecognitionConfig;

export const PHONE_AUDIO = { encoding: "MULAW", sampleRateHertz: 8000, languageCode: "he-IL" } as const;
export const PHONE_CONFIG: StreamConfig = { config: PHONE_AUDIO, interimResults: true };

type StreamingResponse = {
  results: { alternatives: { transcript: string }[]; isFinal: boolean; resultEndTime: { seconds: unknown; nanos: number } }[];
  speechEventType: string;
};

export interface StreamOptions {
  config?: StreamConfig;
  /** Sent as the x-call-id header, as the core does. */
  callId?: string;
  /** The call's deadline (gax `timeout`). */
  timeoutMs?: number;
}

/** Opens a recognition stream; `send` writes audio in 20 ms requests as fast as the client takes them. */
export function openStream(client: SpeechClient, options: StreamOptions = {}) {
  const stream = client.streamingRecognize(options.config ?? PHONE_CONFIG, {
    ...(options.callId !== undefined && { otherArgs: { headers: { [CALL_ID_HEADER]: options.callId } } }),
    ...(options.timeoutMs !== undefined && { timeout: options.timeoutMs }),
  });
  const results: Result[] = [];
  const speechEvents: string[] = [];
  const outcome = new Promise<grpc.ServiceError | undefined>((resolve) => {
    stream.on("data", (response: StreamingResponse) => {
      if (response.speechEventType !== "SPEECH_EVENT_UNSPECIFIED") speechEvents.push(response.speechEventType);
      for (const r of response.results) {
        results.push({
          transcript: r.alternatives[0]!.transcript,
          isFinal: r.isFinal,
          endMs: Number(r.resultEndTime.seconds) * 1000 + r.resultEndTime.nanos / 1e6,
          receivedAt: Date.now(),
        });
      }
    });
    stream.on("end", () => resolve(undefined));
    stream.on("error", (error: grpc.ServiceError) => resolve(error));
  });
  return {
    results,
    speechEvents,
    /** The end (undefined) or the error the stream ended with. */
    outcome,
    send(audio: Uint8Array) {
      for (let at = 0; at < audio.length; at += 160) stream.write(audio.subarray(at, at + 160));
    },
    halfClose: () => void stream.end(),
  };
}

/** Streams `audio`, half-closes, and waits for the stream to end. */
export async function streamAudio(client: SpeechClient, audio: Uint8Array, options: StreamOptions = {}) {
  const stream = openStream(client, options);
  const sentAt = Date.now();
  stream.send(audio);
  stream.halfClose();
  const error = await stream.outcome;
  return { results: stream.results, speechEvents: stream.speechEvents, sentAt, error };
}

/** Splits results into utterances: each ends at a final. */
export function utterances(results: Result[]): Result[][] {
  const groups: Result[][] = [[]];
  for (const result of results) {
    groups.at(-1)!.push(result);
    if (result.isFinal) groups.push([]);
  }
  return groups.filter((group) => group.length > 0);
}

export const finals = (results: Result[]) => results.filter((r) => r.isFinal).map((r) => r.transcript);

/** Starts emulators with a client each, and closes them all at the end. */
export function emulatorPool() {
  const opened: { emulator: SpeechEmulator; client: SpeechClient }[] = [];
  return {
    async start(options: Partial<SpeechEmulatorOptions> = {}) {
      const emulator = await startSpeechEmulator({ script: SCRIPT, log: () => undefined, ...options });
      const client = new SpeechClient({
        apiEndpoint: "127.0.0.1",
        port: emulator.port,
        sslCreds: grpc.credentials.createInsecure(),
        universeDomain: "googleapis.com",
      });
      opened.push({ emulator, client });
      return { emulator, client };
    },
    closeAll: () => Promise.all(opened.map(({ emulator, client }) => Promise.all([client.close(), emulator.close()]))),
  };
}
