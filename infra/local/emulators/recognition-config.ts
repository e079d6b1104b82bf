// Checks a Speech v1 RecognitionConfig the way the service would reject it (INVALID_ARGUMENT with a
// reason), narrowed to what this emulator can decode: single-channel MULAW at 8000 Hz, the phone line.
import type { Checked } from "./grpc-host.js";

/** google.cloud.speech.v1.RecognitionConfig as proto-loader decodes it (keepCase, enums as names, defaults). */
export interface RecognitionConfigMessage {
  encoding: string;
  sample_rate_hertz: number;
  audio_channel_count: number;
  language_code: string;
  model: string;
}

interface RecognitionSettings {
  languageCode: string;
  model: string;
}

/** Models that serve every language; the others only the languages Google's table lists. */
const UNIVERSAL_MODELS = new Set(["", "default", "command_and_search"]);
/** Known models this emulator serves only for English, standing in for Google's per-language table. */
const ENGLISH_ONLY_MODELS = new Set(["phone_call", "latest_short", "latest_long", "video", "medical_dictation", "medical_conversation"]);

export function checkRecognitionConfig(config: RecognitionConfigMessage | null | undefined): Checked<RecognitionSettings> {
  if (!config) return { ok: false, reason: "RecognitionConfig 'config' is required" };
  if (config.encoding === "ENCODING_UNSPECIFIED") {
    return { ok: false, reason: "RecognitionConfig.encoding is required for raw audio; send MULAW" };
  }
  if (config.encoding !== "MULAW") {
    return { ok: false, reason: `encoding ${config.encoding} is not supported by the emulator; send MULAW at 8000 Hz` };
  }
  if (config.sample_rate_hertz !== 8000) {
    return { ok: false, reason: `sample_rate_hertz must be 8000 for MULAW, got ${config.sample_rate_hertz || "none"}` };
  }
  if (config.audio_channel_count > 1) {
    return { ok: false, reason: `audio_channel_count must be 1 for MULAW, got ${config.audio_channel_count}` };
  }
  const languageCode = config.language_code.trim();
  if (!languageCode) return { ok: false, reason: "RecognitionConfig.language_code is required (e.g. he-IL)" };
  const model = config.model;
  if (!UNIVERSAL_MODELS.has(model)) {
    if (!ENGLISH_ONLY_MODELS.has(model)) return { ok: false, reason: `unknown model '${model}'` };
    if (!languageCode.toLowerCase().startsWith("en-")) {
      return {
        ok: false,
        reason: `model '${model}' is not supported for language ${languageCode}; 'default' and 'command_and_search' serve every language`,
      };
    }
  }
  return { ok: true, value: { languageCode, model: model || "default" } };
}
