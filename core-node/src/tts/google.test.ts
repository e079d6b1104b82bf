// The unwrapping of SynthesizeSpeech audio (protocol's WAV walk, as this module uses it), on whatever
// bytes might come back: it never throws, and gives samples that were in the answer or a one-line reason.
import fc from "fast-check";
import { WAV_FORMAT_MULAW, WAV_FORMAT_PCM, buildWav } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { readSynthesizedAudio } from "./google.js";

const MULAW_8K = { audioFormat: WAV_FORMAT_MULAW, channels: 1, sampleRate: 8000, bitsPerSample: 8 };
const TEXT = "קיבלתי את המספר 12, תודה.";
const samples = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37) % 256);

/** A Google-like WAV with some of its bytes overwritten, and maybe cut short or grown. */
const damagedWav = fc
  .record({
    length: fc.integer({ min: 0, max: 4000 }),
    writes: fc.array(fc.record({ at: fc.integer({ min: 0, max: 60 }), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 6 }),
    keep: fc.option(fc.integer({ min: 0, max: 4100 })),
    extra: fc.uint8Array({ maxLength: 64 }),
  })
  .map(({ length, writes, keep, extra }) => {
    const wav = buildWav(MULAW_8K, samples(length));
    for (const { at, byte } of writes) if (at < wav.length) wav[at] = byte;
    const cut = keep === null ? wav : wav.subarray(0, keep);
    return Uint8Array.from([...cut, ...extra]);
  });

describe("readSynthesizedAudio", () => {
  it("never throws; audio it gives is a run of the answer's own bytes, at most the plausible length (fixed seed)", () => {
    fc.assert(
      fc.property(fc.oneof(damagedWav, fc.uint8Array({ maxLength: 200 }), fc.anything()), fc.string({ maxLength: 40 }), (content, text) => {
        const reading = readSynthesizedAudio(content, text);
        if (!reading.ok) {
          expect(reading.reason).toMatch(/^[^\n]{1,120}$/);
          return;
        }
        expect(content).toBeInstanceOf(Uint8Array);
        const bytes = content as Uint8Array;
        expect(reading.audio.length).toBeGreaterThan(0);
        expect(reading.audio.buffer).toBe(bytes.buffer); // a view into the answer, not invented samples
        expect(reading.audio.byteOffset + reading.audio.length).toBeLessThanOrEqual(bytes.byteOffset + bytes.length);
        expect(reading.audio.length / 8).toBeLessThanOrEqual(5000 + 400 * [...text].length);
      }),
      { seed: 8008, numRuns: 500 },
    );
  });

  it("takes Google's mu-law WAV, a data chunk claiming more than came, and an odd length", () => {
    const audio = samples(8001);
    expect(readSynthesizedAudio(buildWav(MULAW_8K, audio), TEXT)).toEqual({ ok: true, audio });
    const lying = buildWav(MULAW_8K, audio);
    new DataView(lying.buffer).setUint32(40, audio.length * 10, true);
    expect(readSynthesizedAudio(lying, TEXT)).toEqual({ ok: true, audio });
  });

  it("refuses each unusable answer with its reason", () => {
    const reasons = [
      [undefined, TEXT],
      [new Uint8Array(0), TEXT],
      ["UklGRg==", TEXT],
      [samples(1600), TEXT],
      [buildWav({ audioFormat: WAV_FORMAT_PCM, channels: 1, sampleRate: 24_000, bitsPerSample: 16 }, samples(4800)), TEXT],
      [buildWav(MULAW_8K, new Uint8Array(0)), TEXT],
      [buildWav(MULAW_8K, samples(8000 * 240)), TEXT],
    ].map(([content, text]) => {
      const reading = readSynthesizedAudio(content, text as string);
      return reading.ok ? "ok" : reading.reason;
    });
    expect(reasons).toEqual([
      "the answer has no audio",
      "the answer has no audio",
      "the audio came as text, not bytes",
      "the audio is not a usable WAV (not a RIFF/WAVE file)",
      "the audio is format 1 at 24000 Hz x1, expected mu-law 8000 Hz mono",
      "the WAV holds no samples",
      "240.0 s of audio for 25 characters (at most 15 s)",
    ]);
  });
});
