// Text-to-speech as the core sees it. The request type mirrors what is sent to the API, because the
// cache key is computed over exactly that.

export interface SynthesisRequest {
  input: { text: string };
  voice: { languageCode: string; name: string };
  audioConfig: { audioEncoding: "MULAW"; sampleRateHertz: 8000 };
}

export interface VoiceSelection {
  languageCode: string;
  name: string;
}

export interface TextToSpeech {
  /**
   * Returns 8 kHz mu-law audio without any container. Aborting `signal` cancels the request at the
   * service. `deadlineMs` replaces the default deadline (TTS_TIMEOUT_MS), e.g. for warmup.
   */
  synthesize(request: SynthesisRequest, signal?: AbortSignal, deadlineMs?: number): Promise<Uint8Array>;
  /** Names of the voices the service offers for a language. */
  listVoices(languageCode: string, deadlineMs?: number): Promise<string[]>;
}

/** The one place a request is built, so warmup and turns produce the same request (and cache key). */
export function synthesisRequest(text: string, voice: VoiceSelection): SynthesisRequest {
  return {
    input: { text },
    voice: { languageCode: voice.languageCode, name: voice.name },
    audioConfig: { audioEncoding: "MULAW", sampleRateHertz: 8000 },
  };
}
