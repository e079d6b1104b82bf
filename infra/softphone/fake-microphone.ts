// The browser test's microphone: real recorded speech from the corpus (infra/speech/corpus/clips/,
// LibriVox sentences) joined with short gaps into one 48 kHz WAV, which Chromium's fake capture
// device plays in a loop. The gaps are shorter than any end-of-utterance wait, so while the page is
// unmuted the caller is one steady talker; the test decides when the caller speaks with the page's
// mute button.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildWav, parseWav, WAV_FORMAT_PCM } from "@voice/protocol";
import { Resampler } from "./page/resampler.js";

const CLIPS = ["librivox-0880", "librivox-0890", "librivox-0920", "librivox-0930"];
const CLIPS_DIR = new URL("../speech/corpus/clips/", import.meta.url);
const RATE = 48_000;
/** Between two sentences: a breath, well under the speech emulator's 300 ms and the core's hangover. */
const GAP_MS = 60;

/** Writes the WAV into `dir`; returns its path. */
export async function writeFakeMicrophone(dir: string): Promise<string> {
  const parts: Float32Array[] = [];
  for (const clip of CLIPS) {
    const wav = parseWav(await readFile(new URL(`${clip}.wav`, CLIPS_DIR)));
    const { audioFormat, sampleRate, bitsPerSample, channels } = wav.format;
    if (audioFormat !== WAV_FORMAT_PCM || bitsPerSample !== 16 || channels !== 1) throw new Error(`${clip}.wav: expected 16-bit mono PCM`);
    const pcm = new Int16Array(wav.data.buffer.slice(wav.data.byteOffset, wav.data.byteOffset + wav.data.byteLength));
    const resampler = new Resampler(sampleRate, RATE);
    parts.push(resampler.push(Float32Array.from(pcm, (s) => s / 32768)).slice(), resampler.flush().slice(), new Float32Array((GAP_MS * RATE) / 1000));
  }
  const out = new Int16Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) for (const sample of part) out[at++] = Math.max(-32768, Math.min(32767, Math.round(sample * 32768)));
  const path = join(dir, "fake-microphone.wav");
  await writeFile(path, buildWav({ audioFormat: WAV_FORMAT_PCM, channels: 1, sampleRate: RATE, bitsPerSample: 16 }, new Uint8Array(out.buffer)));
  return path;
}
