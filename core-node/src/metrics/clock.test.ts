import { describe, expect, it } from "vitest";
import { AudioClock } from "./clock.js";

describe("AudioClock", () => {
  it("knows nothing before the first frame", () => {
    expect(new AudioClock(20).wallAt(0)).toBeUndefined();
  });

  it("maps audio time to wall time from the earliest arrival, whatever the jitter", () => {
    const clock = new AudioClock(20);
    // Capture started at wall 10_000; each frame leaves once its 20 ms are captured, plus 5..60 ms of jitter.
    const jitter = [40, 5, 60, 25, 5, 33];
    jitter.forEach((late, i) => clock.observe(i * 20, 10_000 + i * 20 + 20 + late));
    // The least delayed frames (5 ms) give the offset: capture start + the minimum transit.
    expect(clock.wallAt(0)).toBe(10_005);
    expect(clock.wallAt(1_000)).toBe(11_005);
  });

  it("is not pulled later by a burst of frames that arrive late together (a stalled event loop)", () => {
    const clock = new AudioClock(20);
    for (let i = 0; i < 10; i++) clock.observe(i * 20, 5_000 + i * 20 + 20 + 2);
    // 400 ms stall: the next 20 frames all arrive at once.
    for (let i = 10; i < 30; i++) clock.observe(i * 20, 5_000 + 30 * 20 + 400);
    expect(clock.wallAt(600)).toBe(5_602);
  });

  it("improves its estimate when a faster frame comes later", () => {
    const clock = new AudioClock(20);
    clock.observe(0, 1_100); // the first frames were buffered before the link opened
    expect(clock.wallAt(0)).toBe(1_080);
    clock.observe(20, 1_045);
    expect(clock.wallAt(0)).toBe(1_005);
  });
});
