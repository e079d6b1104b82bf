// Real speech, offline: eSpeak-NG compiled to WASM. Used by the TTS emulator (the agent's voice)
// and by the call simulator (the caller's voice).
import ESpeakNg from "espeak-ng";
import { parseWav, pcmFromBytes } from "@voice/protocol";

/** Maps a BCP-47 language code (he-IL, en-US) to an eSpeak voice name (he, en-us). */
export function espeakVoiceFor(languageCode: string): string {
  const lower = languageCode.toLowerCase();
  return lower === "en-us" || lower === "en-gb" ? lower : (lower.split("-")[0] ?? "en");
}

export interface SpeechOptions {
  /** eSpeak voice name, e.g. "he". */
  voice: string;
  /** Output sample rate; eSpeak renders at 22050 Hz and is resampled. */
  sampleRate: number;
  /** Words per minute (eSpeak's -s); 175 is its default. */
  wordsPerMinute?: number;
  /** Pitch 0-99 (eSpeak's -p); lets the caller and the agent sound different. */
  pitch?: number;
}

/** Synthesizes `text` to 16-bit mono PCM at `options.sampleRate`. */
export async function synthesizeSpeech(text: string, options: SpeechOptions): Promise<Int16Array> {
  const args = ["-v", options.voice, "-w", "out.wav"];
  if (options.wordsPerMinute) args.push("-s", String(options.wordsPerMinute));
  if (options.pitch !== undefined) args.push("-p", String(options.pitch));
  // A fresh instance per call: the emscripten module runs main() once, and ~130 ms is fine here.
  const espeak = await ESpeakNg({ arguments: [...args, text] });
  const wav = parseWav(espeak.FS.readFile("out.wav") as Uint8Array);
  const pcm = pcmFromBytes(wav.data);
  return resample(pcm, wav.format.sampleRate, options.sampleRate);
}

/** Band-limits by averaging over the decimation window, then interpolates linearly. */
export function resample(input: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate) return input;
  const ratio = fromRate / toRate;
  const out = new Int16Array(Math.floor(input.length / ratio));
  const half = Math.max(0, Math.floor(ratio / 2));
  for (let i = 0; i < out.length; i++) {
    const centre = i * ratio;
    const base = Math.floor(centre);
    let sum = 0;
    let count = 0;
    for (let k = base - half; k <= base + half; k++) {
      if (k < 0 || k >= input.length) continue;
      const next = Math.min(k + 1, input.length - 1);
      const frac = centre - base;
      sum += input[k]! * (1 - frac) + input[next]! * frac;
      count++;
    }
    out[i] = count ? Math.round(sum / count) : 0;
  }
  return out;
}
