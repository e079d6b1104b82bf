// The caller's side of each tick: a script line spoken by eSpeak-NG, a burst of noise, keypad
// digits, silence or a steady tone, as the 20 ms mu-law frames (and dtmf events) Twilio would send.
import { FRAME_BYTES, FRAME_MS, MULAW_SILENCE, SAMPLE_RATE, pcmToMulaw, splitFrames } from "@voice/protocol";
import { synthesizeSpeech } from "../speech/espeak.js";
import type { CallerTurn } from "./script.js";
import { seededRandom } from "../random/seeded-random.js";

export interface CallerVoice {
  /** eSpeak voice name, e.g. "he". */
  voice: string;
  /** eSpeak pitch 0-99; a different pitch from the agent's keeps the two apart in the recording. */
  pitch: number;
}

/** What the caller sends on one 20 ms tick: its audio, and a key pressed on that tick. */
export interface CallerTick {
  audio: Uint8Array;
  dtmf?: string;
}

/** Samples quieter than this at either end are eSpeak's padding, not speech. */
const SILENCE_LEVEL = 64;
/** About eSpeak's own level (-22 dBFS RMS), so noise is as loud as the caller's speech. */
const NOISE_LEVEL_DBFS = -20;
/** A tone's pitch: a steady note, like music held on a line. */
const TONE_HZ = 440;
/** Gap between keys, as a person presses them. */
export const DTMF_INTERVAL_MS = 150;

const SILENT_FRAME = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);

/** Lines already spoken in this process: eSpeak runs on the event loop, so a script used by many calls
 *  (a benchmark) is synthesized once rather than stalling the 20 ms clocks of the calls under way. */
const spokenLines = new Map<string, Promise<Uint8Array[]>>();
const SPOKEN_LINES_KEPT = 256;

/** The caller's frames for `text` (shared between calls: never modify them). */
export function callerLineFrames(text: string, voice: CallerVoice): Promise<Uint8Array[]> {
  const key = JSON.stringify([voice.voice, voice.pitch, text]);
  let frames = spokenLines.get(key);
  if (!frames) {
    frames = speakLine(text, voice);
    spokenLines.set(key, frames);
    frames.catch(() => spokenLines.delete(key));
    if (spokenLines.size > SPOKEN_LINES_KEPT) spokenLines.delete(spokenLines.keys().next().value!);
  }
  return frames;
}

async function speakLine(text: string, voice: CallerVoice): Promise<Uint8Array[]> {
  const pcm = await synthesizeSpeech(text, { voice: voice.voice, sampleRate: SAMPLE_RATE, pitch: voice.pitch });
  // Trimmed so that "the caller's last frame" is where speech ends, which is what latency is measured from.
  return splitFrames(pcmToMulaw(trimSilence(pcm, SILENCE_LEVEL)));
}

export function trimSilence(pcm: Int16Array, level: number): Int16Array {
  let start = 0;
  let end = pcm.length;
  while (start < end && Math.abs(pcm[start]!) < level) start++;
  while (end > start && Math.abs(pcm[end - 1]!) < level) end--;
  return pcm.subarray(start, end);
}

/** `ms` of white noise at speech level (the last frame padded with silence); the same for the same seed. */
export function noiseFrames(ms: number, seed: number): Uint8Array[] {
  const random = seededRandom(seed);
  // Uniform samples in [-a, a] have an RMS of a / sqrt(3).
  const amplitude = Math.sqrt(3) * 32768 * 10 ** (NOISE_LEVEL_DBFS / 20);
  const pcm = new Int16Array(Math.round((ms * SAMPLE_RATE) / 1000)).map(() => Math.round((random() * 2 - 1) * amplitude));
  return splitFrames(pcmToMulaw(pcm));
}

/** `ms` of a steady sine at speech level (the caller's radio, music): loud enough to pass for speech, no words in it. */
export function toneFrames(ms: number): Uint8Array[] {
  // A sine of peak a has an RMS of a / sqrt(2).
  const amplitude = Math.SQRT2 * 32768 * 10 ** (NOISE_LEVEL_DBFS / 20);
  const pcm = new Int16Array(Math.round((ms * SAMPLE_RATE) / 1000)).map((_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * TONE_HZ * i) / SAMPLE_RATE)));
  return splitFrames(pcmToMulaw(pcm));
}

/** `ms` of silence, to the nearest whole frame (at least one). */
export function silenceTicks(ms: number): CallerTick[] {
  return Array.from({ length: Math.max(1, Math.round(ms / FRAME_MS)) }, () => ({ audio: SILENT_FRAME }));
}

/** One key every DTMF_INTERVAL_MS (to the nearest tick), silence in between; ends on the tick of the last key. */
export function dtmfTicks(digits: string): CallerTick[] {
  const keyTicks = [...digits].map((_, k) => Math.round((k * DTMF_INTERVAL_MS) / FRAME_MS));
  const ticks: CallerTick[] = Array.from({ length: keyTicks.at(-1)! + 1 }, () => ({ audio: SILENT_FRAME }));
  [...digits].forEach((digit, k) => (ticks[keyTicks[k]!]!.dtmf = digit));
  return ticks;
}

/** The ticks of one script line; `seed` makes its noise differ from another line's. */
export async function turnTicks(turn: CallerTurn, voice: CallerVoice, seed: number): Promise<CallerTick[]> {
  switch (turn.act.kind) {
    case "speech":
      return (await callerLineFrames(turn.act.text, voice)).map((audio) => ({ audio }));
    case "noise":
      return noiseFrames(turn.act.ms, seed).map((audio) => ({ audio }));
    case "dtmf":
      return dtmfTicks(turn.act.digits);
    case "silence":
      return silenceTicks(turn.act.ms);
    case "tone":
      return toneFrames(turn.act.ms).map((audio) => ({ audio }));
  }
}
