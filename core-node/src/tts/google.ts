// Google Text-to-Speech (SynthesizeSpeech, ListVoices) through the app's one TextToSpeechClient.
// MULAW comes back wrapped in a WAV header, which is stripped here.
import type { TextToSpeechClient } from "@google-cloud/text-to-speech";
import { WAV_FORMAT_MULAW, parseWav } from "@voice/protocol";
import type { SynthesisRequest, TextToSpeech } from "./types.js";

export function createGoogleTextToSpeech(client: TextToSpeechClient, options: { timeoutMs: number }): TextToSpeech {
  const callOptions = { timeout: options.timeoutMs };
  return {
    async synthesize(request: SynthesisRequest) {
      const [response] = await client.synthesizeSpeech(request, callOptions);
      const content = response.audioContent;
      if (!content || typeof content === "string") throw new Error("TTS response has no binary audio");
      const { format, data } = parseWav(content);
      if (format.audioFormat !== WAV_FORMAT_MULAW || format.sampleRate !== 8000 || format.channels !== 1) {
        throw new Error(`TTS returned format ${format.audioFormat} at ${format.sampleRate} Hz x${format.channels}, expected mu-law 8000 Hz mono`);
      }
      return data;
    },
    async listVoices(languageCode: string) {
      const [response] = await client.listVoices({ languageCode }, callOptions);
      return (response.voices ?? []).map((voice) => voice.name ?? "").filter((name) => name !== "");
    },
  };
}
