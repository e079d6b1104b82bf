// The caller's voice: a script line spoken by eSpeak-NG, as the 20 ms mu-law frames Twilio would send.
import { SAMPLE_RATE, pcmToMulaw, splitFrames } from "@voice/protocol";
import { synthesizeSpeech } from "../local/espeak.js";

export interface CallerVoice {
  /** eSpeak voice name, e.g. "he". */
  voice: string;
  /** eSpeak pitch 0-99; a different pitch from the agent's keeps the two apart in the recording. */
  pitch: number;
}

/** Samples quieter than this at either end are eSpeak's padding, not speech. */
const SILENCE_LEVEL = 64;

export async function callerLineFrames(text: string, voice: CallerVoice): Promise<Uint8Array[]> {
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

