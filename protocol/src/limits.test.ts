import { describe, expect, it } from "vitest";
import { FrameRateLimit } from "./limits.js";

const settings = { maxPerSecond: 100, floodCloseAfterS: 3 };

/** Sends `perSecond` frames spread over each of `seconds` seconds from `startMs`; the verdicts. */
function send(limit: FrameRateLimit, startMs: number, seconds: number, perSecond: number) {
  const verdicts: string[] = [];
  for (let s = 0; s < seconds; s++) {
    for (let i = 0; i < perSecond; i++) verdicts.push(limit.admit(startMs + s * 1000 + (i * 1000) / perSecond));
  }
  return verdicts;
}

describe("FrameRateLimit", () => {
  it("passes a phone line's rate, and a burst after a stall, for as long as it lasts", () => {
    const limit = new FrameRateLimit(settings);
    expect(send(limit, 0, 60, 52).every((v) => v === "pass")).toBe(true);
    // 2 s of frames held by the network arrive at once, then the line goes on.
    expect(send(limit, 60_000, 1, 100).every((v) => v === "pass")).toBe(true);
    expect(limit.droppedTotal).toBe(0);
  });

  it("drops what is over the rate, and closes a flood that lasts", () => {
    const limit = new FrameRateLimit(settings);
    const first = send(limit, 0, 1, 150);
    expect(first.filter((v) => v === "pass")).toHaveLength(100);
    expect(first.filter((v) => v === "drop")).toHaveLength(50);
    expect(limit.droppedInWindow).toBe(50);
    const second = send(limit, 1000, 1, 150);
    expect(second.slice(100).every((v) => v === "drop")).toBe(true);
    const third = send(limit, 2000, 1, 150);
    expect(third[100]).toBe("close");
    expect(limit.droppedTotal).toBe(150);
  });

  it("forgets a flood after a calm second", () => {
    const limit = new FrameRateLimit(settings);
    send(limit, 0, 2, 150);
    send(limit, 2000, 1, 50);
    const after = send(limit, 3000, 2, 150);
    expect(after.includes("close")).toBe(false);
  });
});
