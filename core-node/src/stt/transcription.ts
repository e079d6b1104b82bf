// The fallback when streaming recognition is down: one utterance's audio, as a 16-bit PCM WAV (the
// transcription API does not take raw mu-law), to OpenAI's transcription API through the app's one
// OpenAI client. Bounded by its own deadline; no SDK retries (the caller is waiting).
import { WAV_FORMAT_PCM, buildWav, mulawToPcm, pcmBytes } from "@voice/protocol";
import { toFile, type OpenAI } from "openai";
import { CALL_ID_HEADER } from "@voice/protocol";
import type { Transcriber } from "./types.js";

export interface TranscriberOptions {
  /** STT_FALLBACK_MODEL, e.g. whisper-1. */
  model: string;
  /** The call's language as a BCP-47 tag (he-IL); the API takes its ISO-639-1 part. */
  language: string;
  /** STT_FALLBACK_TIMEOUT_MS. */
  timeoutMs: number;
}

export function utteranceWav(mulaw: Uint8Array): Uint8Array {
  return buildWav({ audioFormat: WAV_FORMAT_PCM, channels: 1, sampleRate: 8000, bitsPerSample: 16 }, pcmBytes(mulawToPcm(mulaw)));
}

export function createOpenAiTranscriber(client: OpenAI, options: TranscriberOptions): Transcriber {
  const language = options.language.split("-")[0]!.toLowerCase();
  return {
    async transcribe(mulaw, { callId, signal }) {
      const file = await toFile(utteranceWav(mulaw), "utterance.wav", { type: "audio/wav" });
      const deadline = AbortSignal.timeout(options.timeoutMs);
      try {
        const result = await client.audio.transcriptions.create(
          { file, model: options.model, language, response_format: "json" },
          { signal: AbortSignal.any([signal, deadline]), maxRetries: 0, headers: { [CALL_ID_HEADER]: callId } },
        );
        return result.text.trim();
      } catch (error) {
        if (deadline.aborted && !signal.aborted) throw new Error(`transcription timed out after ${options.timeoutMs} ms`);
        throw error;
      }
    },
  };
}
