// Google Text-to-Speech (SynthesizeSpeech, ListVoices) through the app's one TextToSpeechClient.
// MULAW comes back wrapped in a WAV header, which is stripped here.
//
// Cancelling: the promise `client.synthesizeSpeech()` returns is a plain `.then()` of gax's call and
// cannot be cancelled. The gax call itself (`client.innerApiCalls.synthesizeSpeech`, what the public
// method wraps) returns a CancellablePromise whose `cancel()` cancels the gRPC call, so the service
// stops working on a sentence nobody will hear (google-gax build/src/call.js, OngoingCallPromise).
import type { TextToSpeechClient, protos } from "@google-cloud/text-to-speech";
import { WAV_FORMAT_MULAW, parseWav } from "@voice/protocol";
import type { SynthesisRequest, TextToSpeech } from "./types.js";

type SynthesizeResponse = protos.google.cloud.texttospeech.v1.ISynthesizeSpeechResponse;
type CancellableCall = Promise<[SynthesizeResponse, ...unknown[]]> & { cancel(): void };

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
      const content = response.audioContent;
      if (!content || typeof content === "string") throw new Error("TTS response has no binary audio");
      const { format, data } = parseWav(content);
      if (format.audioFormat !== WAV_FORMAT_MULAW || format.sampleRate !== 8000 || format.channels !== 1) {
        throw new Error(`TTS returned format ${format.audioFormat} at ${format.sampleRate} Hz x${format.channels}, expected mu-law 8000 Hz mono`);
      }
      return data;
    },
    async listVoices(languageCode: string, deadlineMs?: number) {
      const [response] = await client.listVoices({ languageCode }, callOptions(deadlineMs));
      return (response.voices ?? []).map((voice) => voice.name ?? "").filter((name) => name !== "");
    },
  };
}
