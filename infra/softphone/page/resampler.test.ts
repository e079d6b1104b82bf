// The softphone's resampler: what it keeps (the phone band, at its level and time), what it removes
// (the band above the new Nyquist, which plain decimation would fold into the voice band), and that
// streaming it in audio-worklet quanta gives what one pass over the whole signal gives.
import { describe, expect, it } from "vitest";
import { Resampler } from "./resampler.js";

const tone = (hz: number, rate: number, seconds: number, amplitude = 0.5) =>
  Float32Array.from({ length: Math.round(rate * seconds) }, (_, n) => amplitude * Math.sin((2 * Math.PI * hz * n) / rate));

const rms = (samples: Float32Array) => Math.sqrt(samples.reduce((sum, s) => sum + s * s, 0) / samples.length);

/** Everything the resampler gives for `input`, pushed `chunk` samples at a time, then flushed. */
function resampleAll(resampler: Resampler, input: Float32Array, chunk = input.length): Float32Array {
  const parts: number[] = [];
  for (let at = 0; at < input.length; at += chunk) parts.push(...resampler.push(input.subarray(at, at + chunk)));
  parts.push(...resampler.flush());
  return Float32Array.from(parts);
}

/** The middle of a signal, away from the edges where the kernel meets silence. */
const middle = (samples: Float32Array) => samples.subarray(Math.floor(samples.length * 0.2), Math.floor(samples.length * 0.8));

describe("Resampler", () => {
  it("brings 48 kHz speech-band audio down to 8 kHz at the same level, one output per six inputs, on the same clock", () => {
    const out = resampleAll(new Resampler(48_000, 8000), tone(1000, 48_000, 0.5));
    expect(out.length).toBe(4000);
    expect(rms(middle(out))).toBeCloseTo(0.5 / Math.SQRT2, 2);
    // Output n is the input at n / 8000 s: the same sine, not shifted.
    const expected = tone(1000, 8000, 0.5);
    const error = middle(out).map((s, i) => s - middle(expected)[i]!);
    expect(rms(error)).toBeLessThan(0.005);
  });

  it("filters out a 6 kHz tone going to 8 kHz rather than folding it onto 2 kHz", () => {
    const out = resampleAll(new Resampler(48_000, 8000), tone(6000, 48_000, 0.5));
    // More than 50 dB down; taking every sixth sample would keep it at full level, as a 2 kHz tone.
    expect(20 * Math.log10(rms(middle(out)) / (0.5 / Math.SQRT2))).toBeLessThan(-50);
  });

  it("handles a rate that is not a multiple of 8 kHz (44.1 kHz)", () => {
    const out = resampleAll(new Resampler(44_100, 8000), tone(440, 44_100, 1));
    expect(Math.abs(out.length - 8000)).toBeLessThanOrEqual(1);
    expect(rms(middle(out))).toBeCloseTo(0.5 / Math.SQRT2, 2);
  });

  it("brings the agent's 8 kHz audio up to 48 kHz smoothly: the sine between the samples, not steps", () => {
    const out = resampleAll(new Resampler(8000, 48_000), tone(1000, 8000, 0.5));
    expect(out.length).toBe(24_000);
    const expected = tone(1000, 48_000, 0.5);
    const error = middle(out).map((s, i) => s - middle(expected)[i]!);
    expect(rms(error)).toBeLessThan(0.005);
  });

  it("gives the same samples streamed in 128-sample quanta as in one pass", () => {
    const input = tone(700, 48_000, 0.3);
    const whole = resampleAll(new Resampler(48_000, 8000), input);
    const streamed = resampleAll(new Resampler(48_000, 8000), input, 128);
    expect(streamed.length).toBe(whole.length);
    expect(Math.max(...streamed.map((s, i) => Math.abs(s - whole[i]!)))).toBeLessThan(1e-6);
  });

  it("refuses a rate that is not positive", () => {
    expect(() => new Resampler(0, 8000)).toThrow(/rates must be positive/);
  });
});
