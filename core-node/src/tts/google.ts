// Google Text-to-Speech (SynthesizeSpeech, ListVoices) through the app's one TextToSpeechClient.
// MULAW comes back wrapped in a WAV header, which is stripped here. What comes back is checked: audio
// that cannot be played, or far longer than its text could take to say, is a TtsResponseError (the
// session retries the sentence once, then speaks the fallback phrase), never noise on the line.
//
// Cancelling: the promise `client.synthesizeSpeech()` returns is a plain `.then()` of gax's call and
// cannot be cancelled. The gax call itself (`client.innerApiCalls.synthesizeSpeech`, what the public
// method wraps) returns a CancellablePromise whose `cancel()` cancels the gRPC call, so the service
// stops working on a sentence nobody will hear (google-gax build/src/call.js, OngoingCallPromise).
import type { TextToSpeechClient, protos } from "@google-cloud/text-to-speech";
import { WAV_FORMAT_MULAW, parseWav, type ParsedWav } from "@voice/protocol";
import type { SynthesisRequest, TextToSpeech } from "./types.js";

type SynthesizeResponse = protos.google.cloud.texttospeech.v1.ISynthesizeSpeechResponse;
type CancellableCall = Promise<[SynthesizeResponse, ...unknown[]]> & { cancel(): void };

/** The service answered, but not with audio the caller can hear. The message is one line. */
export class TtsResponseError extends Error {
  override name = "TtsResponseError";
}

/**
 * Audio longer than MIN + PER_CHAR x characters is not the text's speech: even at Google's slowest
 * speaking rate (0.25) a character takes about 300 ms, and a short text may still be a long number.
 */
const MAX_AUDIO_MIN_MS = 5000;
const MAX_AUDIO_MS_PER_CHAR = 400;
const MULAW_BYTES_PER_MS = 8;

export function createGoogleTextToSpeech(client: TextToSpeechClient, options: { timeoutMs: number }): TextToSpeech {
  // One attempt within the deadline: gax's own retries (on UNAVAILABLE, for minutes by default) are
  // off, since the session retries a sentence once itself and then speaks a fallback phrase.
  const callOptions = (deadlineMs = options.timeoutMs) => ({ timeout: deadlineMs, retry: null });

  function startSynthesis(request: SynthesisRequest, deadlineMs?: number): CancellableCall {
    // Idempotent; it fills innerApiCalls synchronously. A failure to build the stub reaches the call too.
    client.initialize().catch(() => undefined);
    return client.innerApiCalls.synthesizeSpeech!(request, callOptions(deadlineMs)) as CancellableCall;
  }

  return {
    async synthesize(request: SynthesisRequest, signal?: AbortSignal, deadlineMs?: number) {
      signal?.throwIfAborted();
      const call = startSynthesis(request, deadlineMs);
      const cancel = () => call.cancel();
      signal?.addEventListener("abort", cancel, { once: true });
      let response: SynthesizeResponse;
      try {
        [response] = await call;
      } finally {
        signal?.removeEventListener("abort", cancel);
      }
      const reading = readSynthesizedAudio(response.audioContent, request.input.text);
      if (!reading.ok) throw new TtsResponseError(reading.reason);
      return reading.audio;
    },
    async listVoices(languageCode: string, deadlineMs?: number) {
      const [response] = await client.listVoices({ languageCode }, callOptions(deadlineMs));
      return (response.voices ?? []).map((voice) => voice.name ?? "").filter((name) => name !== "");
    },
  };
}

/** The mu-law samples of a SynthesizeSpeech answer to `text`, or why there are none to play. */
export type AudioReading = { ok: true; audio: Uint8Array } | { ok: false; reason: string };

/**
 * Unwraps the answer's audioContent (8 kHz mu-law in a WAV) as the service sent it; never throws. A
 * data chunk whose header claims more bytes than came is taken as far as it goes (mu-law has no
 * sample pairs to break, so an odd length is as good as any).
 */
export function readSynthesizedAudio(content: unknown, text: string): AudioReading {
  if (typeof content === "string") return { ok: false, reason: "the audio came as text, not bytes" };
  if (!(content instanceof Uint8Array) || content.length === 0) return { ok: false, reason: "the answer has no audio" };
  let wav: ParsedWav;
  try {
    wav = parseWav(content);
  } catch (error) {
    return { ok: false, reason: `the audio is not a usable WAV (${error instanceof Error ? error.message : String(error)})` };
  }
  const { format, data } = wav;
  if (format.audioFormat !== WAV_FORMAT_MULAW || format.sampleRate !== 8000 || format.channels !== 1) {
    return { ok: false, reason: `the audio is format ${format.audioFormat} at ${format.sampleRate} Hz x${format.channels}, expected mu-law 8000 Hz mono` };
  }
  if (data.length === 0) return { ok: false, reason: "the WAV holds no samples" };
  const characters = [...text].length;
  const limitMs = MAX_AUDIO_MIN_MS + MAX_AUDIO_MS_PER_CHAR * characters;
  const audioMs = data.length / MULAW_BYTES_PER_MS;
  if (audioMs > limitMs) {
    return { ok: false, reason: `${(audioMs / 1000).toFixed(1)} s of audio for ${characters} characters (at most ${limitMs / 1000} s)` };
  }
  return { ok: true, audio: data };
}
