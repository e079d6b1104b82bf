// The greeting audio is stored in KV under a key derived from everything that shapes the audio,
// so a changed text or voice can never play stale audio.
import { sha256Hex } from "./crypto.js";

export interface GreetingSpec {
  text: string;
  language: string;
  voice: string;
  /** Always mu-law 8 kHz on the phone line; part of the key so a change of format changes the key. */
  encoding: "MULAW";
  sampleRateHertz: 8000;
}

export async function greetingKey(spec: GreetingSpec): Promise<string> {
  const canonical = JSON.stringify([spec.text, spec.language, spec.voice, spec.encoding, spec.sampleRateHertz]);
  return `greeting:${await sha256Hex(canonical)}`;
}

/** Header on the core's GET /greeting answer carrying the key of the audio in the body. */
export const GREETING_KEY_HEADER = "x-greeting-key";
