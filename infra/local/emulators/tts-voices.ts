// The voices the TTS emulator offers: names as Google lists them for he-IL and en-US (Standard and
// Wavenet A-D, a set of Chirp 3 HD voices), so voice settings that work here work against Google.
import type { Checked } from "./grpc-host.js";

export type VoiceGender = "FEMALE" | "MALE";

export interface TtsVoice {
  name: string;
  languageCode: string;
  gender: VoiceGender;
  naturalSampleRateHertz: number;
}

const NATURAL_SAMPLE_RATE = 24_000;
const CHIRP3_HD: [string, VoiceGender][] = [
  ["Aoede", "FEMALE"],
  ["Charon", "MALE"],
  ["Fenrir", "MALE"],
  ["Kore", "FEMALE"],
  ["Leda", "FEMALE"],
  ["Orus", "MALE"],
  ["Puck", "MALE"],
  ["Zephyr", "FEMALE"],
];

function voicesFor(languageCode: string, lettered: VoiceGender[]): TtsVoice[] {
  const letters = lettered.map((gender, i) => [String.fromCharCode(65 + i), gender] as const);
  return [
    ...letters.map(([letter, gender]) => ({ name: `${languageCode}-Standard-${letter}`, gender })),
    ...letters.map(([letter, gender]) => ({ name: `${languageCode}-Wavenet-${letter}`, gender })),
    ...CHIRP3_HD.map(([star, gender]) => ({ name: `${languageCode}-Chirp3-HD-${star}`, gender })),
  ].map((voice) => ({ ...voice, languageCode, naturalSampleRateHertz: NATURAL_SAMPLE_RATE }));
}

const VOICES: readonly TtsVoice[] = [
  ...voicesFor("he-IL", ["FEMALE", "MALE", "FEMALE", "MALE"]),
  ...voicesFor("en-US", ["MALE", "MALE", "FEMALE", "MALE"]),
];

const primaryLanguage = (code: string) => code.toLowerCase().split("-")[0];

/** ListVoices' filter: a language code selects every voice of its language ("en-NZ" -> all en-*). */
export function listVoices(languageCode: string): TtsVoice[] {
  if (!languageCode) return [...VOICES];
  return VOICES.filter((voice) => primaryLanguage(voice.languageCode) === primaryLanguage(languageCode));
}

/** The voice a request selects: by name when given, else the first of the language (and gender). */
export function selectVoice(languageCode: string, name: string, gender: string): Checked<TtsVoice> {
  if (!languageCode) return { ok: false, reason: "voice.language_code is required (e.g. he-IL)" };
  const ofLanguage = VOICES.filter((voice) => voice.languageCode.toLowerCase() === languageCode.toLowerCase());
  if (name) {
    const named = VOICES.find((voice) => voice.name.toLowerCase() === name.toLowerCase());
    if (!named) return { ok: false, reason: `Voice '${name}' does not exist. Is it misspelled?` };
    if (!ofLanguage.includes(named)) {
      return { ok: false, reason: `Voice '${name}' does not speak language_code '${languageCode}' (it speaks ${named.languageCode})` };
    }
    return { ok: true, value: named };
  }
  const chosen = ofLanguage.find((voice) => voice.gender === gender) ?? ofLanguage[0];
  return chosen ? { ok: true, value: chosen } : { ok: false, reason: `no voice for language_code '${languageCode}'` };
}
