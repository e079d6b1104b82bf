// Phrases the edge plays by itself (the greeting, the "one moment" while a call moves to another
// core) are stored in KV under a key derived from everything that shapes the audio, so a changed
// text or voice can never play stale audio.
import { sha256Hex } from "./crypto.js";

export interface PhraseSpec {
  text: string;
  language: string;
  voice: string;
  /** Always mu-law 8 kHz on the phone line; part of the key so a change of format changes the key. */
  encoding: "MULAW";
  sampleRateHertz: 8000;
}

export async function phraseKey(spec: PhraseSpec): Promise<string> {
  const canonical = JSON.stringify([spec.text, spec.language, spec.voice, spec.encoding, spec.sampleRateHertz]);
  return `phrase:${await sha256Hex(canonical)}`;
}

/**
 * The core's `GET /phrase?text=...`: the text synthesized as raw 8 kHz mu-law with the core's
 * language and voice (core token required). The edge stores it in KV only when the key in
 * PHRASE_KEY_HEADER is the one it computed itself, i.e. both sides agree on language and voice.
 */
export const PHRASE_PATH = "/phrase";
export const PHRASE_KEY_HEADER = "x-phrase-key";
/** Longer texts are refused: a phrase is a sentence or two, and each one is paid synthesis. */
export const MAX_PHRASE_CHARS = 400;

/**
 * The mark the edge sends after each phrase it plays itself. Its echo says the phrase has played
 * (the core treats the greeting's like a sentence's: talking over it is a barge-in).
 */
export const PHRASE_MARKS = { greeting: "greeting", hold: "hold" } as const;
export type PhraseName = keyof typeof PHRASE_MARKS;
