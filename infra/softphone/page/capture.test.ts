// The softphone's microphone path: 20 ms mu-law frames at 8 kHz whatever the context's rate, the
// voice at its level, and on mute silence frames that keep the caller's audio clock running.
import { MULAW_SILENCE, mulawToPcm } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { CaptureFramer, FRAME_SAMPLES } from "./capture.js";

/** One second of a tone at `rate`, cut into the audio worklet's 128-sample blocks. */
function blocks(rate: number, hz = 400, amplitude = 0.3): Float32Array[] {
  const all = Float32Array.from({ length: rate }, (_, n) => amplitude * Math.sin((2 * Math.PI * hz * n) / rate));
  const out: Float32Array[] = [];
  for (let at = 0; at < all.length; at += 128) out.push(all.subarray(at, at + 128));
  return out;
}

describe("CaptureFramer", () => {
  it.each([48_000, 44_100, 16_000])("cuts a second of %i Hz microphone audio into 20 ms frames of 8 kHz mu-law at the voice's level", (rate) => {
    const framer = new CaptureFramer(rate);
    const frames = blocks(rate).flatMap((block) => framer.push(block, false));
    expect(frames.length).toBeGreaterThanOrEqual(49);
    expect(frames.length).toBeLessThanOrEqual(50);
    expect(frames.every((frame) => frame.length === FRAME_SAMPLES)).toBe(true);
    expect(framer.clockMs).toBeCloseTo(1000, 0);
    const pcm = mulawToPcm(frames[25]!);
    const rms = Math.sqrt(pcm.reduce((sum, s) => sum + s * s, 0) / pcm.length) / 32768;
    expect(rms).toBeCloseTo(0.3 / Math.SQRT2, 1);
    expect(framer.voicedFrames).toBe(frames.length);
  });

  it("sends silence frames on mute, at the same pace, and counts none of them as voiced", () => {
    const framer = new CaptureFramer(48_000);
    const frames = blocks(48_000).flatMap((block) => framer.push(block, true));
    expect(frames.length).toBeGreaterThanOrEqual(49);
    expect(frames.every((frame) => frame.every((byte) => byte === MULAW_SILENCE))).toBe(true);
    expect(framer.voicedFrames).toBe(0);
    expect(framer.frames).toBe(frames.length);
  });
});
