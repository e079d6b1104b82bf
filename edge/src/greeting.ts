// The greeting the caller hears the instant the stream starts: raw 8 kHz mu-law in KV, under a key
// derived from text, language and voice, so changing any of them can never play stale audio.
import { toBase64 } from "@voice/protocol/crypto";
import { greetingKey, type GreetingSpec } from "@voice/protocol/greeting";
import { splitFrames } from "@voice/protocol/twilio";
import type { Env } from "./env.js";

/** Name of the mark sent after the greeting audio; its echo tells the core the greeting finished. */
export const GREETING_MARK = "greeting";

export function greetingSpec(env: Env): GreetingSpec {
  return { text: env.GREETING_TEXT, language: env.LANGUAGE, voice: env.TTS_VOICE, encoding: "MULAW", sampleRateHertz: 8000 };
}

// Hashing once per isolate rather than once per call; keyed by the spec in case vars differ.
let cachedKey: { id: string; key: Promise<string> } | undefined;

export function greetingKeyFor(env: Env): Promise<string> {
  const spec = greetingSpec(env);
  const id = JSON.stringify([spec.text, spec.language, spec.voice]);
  if (cachedKey?.id !== id) cachedKey = { id, key: greetingKey(spec) };
  return cachedKey.key;
}

/** The greeting as Twilio outbound frames: 20 ms `media` frames (last one padded with silence), then the mark. */
export function greetingFrames(audio: Uint8Array, streamSid: string): string[] {
  const frames = splitFrames(audio).map((chunk) =>
    JSON.stringify({ event: "media", streamSid, media: { payload: toBase64(chunk) } }),
  );
  frames.push(JSON.stringify({ event: "mark", streamSid, mark: { name: GREETING_MARK } }));
  return frames;
}
