// The phrases the edge plays by itself, with no core involved: the greeting the instant a call
// starts, and the "one moment" hold phrase while a call moves to another core. Their audio (raw
// 8 kHz mu-law) lives in KV under a content-addressed key (text, language, voice, format), so a
// changed text or voice can never play stale audio; the deploy pipeline's warmup puts it there.
import { toBase64 } from "@voice/protocol/crypto";
import { phraseKey, type PhraseName, type PhraseSpec } from "@voice/protocol/phrase";
import { splitFrames } from "@voice/protocol/twilio";
import { fetchCorePhrase } from "./core-link.js";
import type { Env } from "./env.js";
import { errorText } from "./log.js";

export type { PhraseName };

/** Each phrase and the var holding its text. */
const PHRASE_TEXT_VARS = { greeting: "GREETING_TEXT", hold: "HOLD_TEXT" } as const satisfies Record<PhraseName, keyof Env>;
export const PHRASE_NAMES = Object.keys(PHRASE_TEXT_VARS) as PhraseName[];

/** The core may synthesize a phrase on demand. */
const PHRASE_FETCH_TIMEOUT_MS = 15_000;

export function phraseText(env: Env, name: PhraseName): string {
  return env[PHRASE_TEXT_VARS[name]];
}

export function phraseSpec(env: Env, name: PhraseName): PhraseSpec {
  return { text: phraseText(env, name), language: env.LANGUAGE, voice: env.TTS_VOICE, encoding: "MULAW", sampleRateHertz: 8000 };
}

// Per isolate: hashing once rather than once per call, and the audio already cut into base64 frame
// payloads, so a call pays only for wrapping them. Keyed by content, so a hit can never be stale;
// a miss is not remembered (warmup may fill KV any time).
const keys = new Map<PhraseName, { id: string; key: Promise<string> }>();
const payloads = new Map<PhraseName, { key: string; payloads: string[] }>();

export function phraseKeyFor(env: Env, name: PhraseName): Promise<string> {
  const spec = phraseSpec(env, name);
  const id = JSON.stringify([spec.text, spec.language, spec.voice]);
  let cached = keys.get(name);
  if (cached?.id !== id) keys.set(name, (cached = { id, key: phraseKey(spec) }));
  return cached.key;
}

/** The phrase's audio as base64 payloads of 20 ms frames (the last one padded), or null when KV lacks it. */
export async function loadPhrase(env: Env, name: PhraseName): Promise<{ key: string; payloads: string[] | null }> {
  const key = await phraseKeyFor(env, name);
  const cached = payloads.get(name);
  if (cached?.key === key) return cached;
  const audio = await env.GREETINGS.get(key, "arrayBuffer");
  if (!audio || audio.byteLength === 0) return { key, payloads: null };
  const entry = { key, payloads: splitFrames(new Uint8Array(audio)).map(toBase64) };
  payloads.set(name, entry);
  return entry;
}

/** Twilio outbound frames: one `media` frame per payload, then the mark if one is named. */
export function phraseFrames(framePayloads: readonly string[], streamSid: string, mark?: string): string[] {
  const frames = framePayloads.map((payload) => JSON.stringify({ event: "media", streamSid, media: { payload } }));
  if (mark !== undefined) frames.push(JSON.stringify({ event: "mark", streamSid, mark: { name: mark } }));
  return frames;
}

export interface PhraseCheck {
  key: string;
  /** True when KV already held the phrase under the current key. */
  cached: boolean;
  bytes?: number;
  ms: number;
  error?: string;
}

/**
 * Makes sure KV holds the phrase for the current text/language/voice, asking the core to synthesize
 * it on a miss. The audio is stored only under the key the core vouches for being the edge's own,
 * i.e. both sides agree on language and voice. Never throws.
 */
export async function ensurePhrase(env: Env, name: PhraseName): Promise<PhraseCheck> {
  const started = Date.now();
  const key = await phraseKeyFor(env, name);
  const done = (fields: { cached: boolean; bytes?: number; error?: string }): PhraseCheck => ({ key, ...fields, ms: Date.now() - started });
  try {
    const stored = await env.GREETINGS.get(key, "arrayBuffer");
    if (stored && stored.byteLength > 0) return done({ cached: true, bytes: stored.byteLength });
    const text = phraseText(env, name);
    if (!text) return done({ cached: false, error: `${PHRASE_TEXT_VARS[name]} is empty` });
    const fromCore = await fetchCorePhrase(env, text, PHRASE_FETCH_TIMEOUT_MS);
    if (fromCore.key !== key) {
      return done({ cached: false, error: `key mismatch: core says ${fromCore.key ?? "(no key)"}, edge expects ${key}` });
    }
    if (fromCore.audio.length === 0) return done({ cached: false, error: "core sent empty audio" });
    await env.GREETINGS.put(key, fromCore.audio, {
      metadata: { phrase: name, text, language: env.LANGUAGE, voice: env.TTS_VOICE, bytes: fromCore.audio.length },
    });
    return done({ cached: false, bytes: fromCore.audio.length });
  } catch (error) {
    return done({ cached: false, error: errorText(error) });
  }
}
