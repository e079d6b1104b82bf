import { levelDbfs } from "@voice/protocol";
import { FRAME_BYTES, MULAW_SILENCE, mulawToPcm } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { dtmfTicks, noiseFrames, silenceTicks, toneFrames } from "./caller-audio.js";

describe("caller audio", () => {
  it("makes noise as loud as speech, the same for a seed and different for another", () => {
    const frames = noiseFrames(150, 1);
    expect(frames).toHaveLength(8);
    expect(frames.every((frame) => frame.length === FRAME_BYTES)).toBe(true);
    const level = levelDbfs(mulawToPcm(frames[0]!));
    expect(level).toBeGreaterThan(-23);
    expect(level).toBeLessThan(-17);
    // 150 ms fill half of the eighth frame; the rest is silence.
    expect(frames[7]!.subarray(80).every((byte) => byte === MULAW_SILENCE)).toBe(true);
    expect(noiseFrames(150, 1)).toEqual(frames);
    expect(noiseFrames(150, 2)).not.toEqual(frames);
  });

  it("spaces keys about 150 ms apart on the tick clock, with silence between", () => {
    const ticks = dtmfTicks("12#4");
    expect(ticks.flatMap((tick, i) => (tick.dtmf ? [[i * 20, tick.dtmf]] : []))).toEqual([
      [0, "1"],
      [160, "2"],
      [300, "#"],
      [460, "4"],
    ]);
    expect(ticks).toHaveLength(24);
    expect(ticks.every((tick) => tick.audio.every((byte) => byte === MULAW_SILENCE))).toBe(true);
  });

  it("plays a tone as loud as speech, and silence as silent frames", () => {
    const frames = toneFrames(1000);
    expect(frames).toHaveLength(50);
    for (const frame of [frames[0]!, frames[49]!]) {
      expect(levelDbfs(mulawToPcm(frame))).toBeGreaterThan(-23);
      expect(levelDbfs(mulawToPcm(frame))).toBeLessThan(-17);
    }
    const quiet = silenceTicks(1000);
    expect(quiet).toHaveLength(50);
    expect(quiet.every((tick) => tick.audio.every((byte) => byte === MULAW_SILENCE) && tick.dtmf === undefined)).toBe(true);
  });
});
