import { describe, expect, it } from "vitest";
import { LineThrottle } from "./line-throttle.js";

describe("LineThrottle", () => {
  it("gives the first event of each reason a line, once a window, with at most so many reasons", () => {
    const lines = new LineThrottle(60_000, 3);
    const logged = (reason: string, at: number) => lines.admit(reason, at);
    expect([logged("not JSON", 0), logged("not JSON", 1), logged("binary frame", 2), logged("not JSON", 59_999)]).toEqual([true, false, true, false]);
    expect([logged("a", 3), logged("b", 4), logged("a", 5)]).toEqual([true, false, false]);
    // A new window: each reason may be told again.
    expect([logged("not JSON", 60_000), logged("b", 60_001), logged("not JSON", 60_002)]).toEqual([true, true, false]);
  });
});
