import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jitteredDelayMs } from "./backoff.js";

describe("jitteredDelayMs", () => {
  it("keeps any wait within (half, all] of its step, the full step for a draw of 0, and 0 for no step", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3_600_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (step, draw) => {
        const wait = jitteredDelayMs(step, draw);
        expect(Number.isInteger(wait)).toBe(true);
        expect(wait).toBeGreaterThan(step / 2);
        expect(wait).toBeLessThanOrEqual(step);
      }),
      { seed: 8111, numRuns: 1000 },
    );
    expect(jitteredDelayMs(250, 0)).toBe(250);
    expect(jitteredDelayMs(0, 0.7)).toBe(0);
    // A draw out of range (a broken random source) cannot stretch the wait or make it negative.
    for (const draw of [Number.NaN, -1, 1, 7, Number.POSITIVE_INFINITY]) {
      expect(jitteredDelayMs(250, draw)).toBeGreaterThan(125);
      expect(jitteredDelayMs(250, draw)).toBeLessThanOrEqual(250);
    }
  });

  it("gives different waits for different draws", () => {
    expect(jitteredDelayMs(4000, 0.1)).not.toBe(jitteredDelayMs(4000, 0.6));
  });
});
