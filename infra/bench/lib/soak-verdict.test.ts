import { describe, expect, it } from "vitest";
import { growth, leaks, leftoverFds, soakWindows, type ProcessSample } from "./soak-verdict.js";

const limits = { rssSlopeMbPerMin: 3, fdsGrowth: 10, fdsPerCall: 2 };
const tenMinutes = soakWindows(600);
/** A sample every 10 s over a 10-minute run. */
const times = Array.from({ length: 60 }, (_, i) => (i + 1) * 10);

function samples(at: (t: number, i: number) => ProcessSample): ProcessSample[] {
  return times.map((t, i) => at(t, i));
}

describe("soak verdict", () => {
  it("compares minute 1 with the last 30 s, and fits RSS from minute 2 only when that leaves 2 minutes", () => {
    expect(tenMinutes).toEqual({ startFrom: 60, startTo: 90, endFrom: 570, endTo: 600, slopeFrom: 120 });
    expect(soakWindows(240).slopeFrom).toBe(120);
    expect(soakWindows(120).slopeFrom).toBeNull();
  });

  it("passes a steady process: GC sawtooth, calls coming and going, descriptors following the calls", () => {
    // RSS saw-tooths ±12 MB around 250; one to three of 50 slots are between calls at any sample.
    const steady = samples((_, i) => {
      const calls = 50 - (i % 3);
      return { rss_mb: 250 + ((i % 6) - 2.5) * 5, fds: 30 + 2 * calls + (i % 4), calls };
    });
    const figures = growth(steady, times, tenMinutes, limits.fdsPerCall);
    expect(Math.abs(figures.rss_slope_mb_per_min!)).toBeLessThan(1);
    expect(leaks("edge", figures, limits)).toEqual([]);
  });

  it("fails memory that climbs with the call turnover, however noisy", () => {
    const leaking = samples((t, i) => ({ rss_mb: 250 + (t / 60) * 5 + ((i % 6) - 2.5) * 5, fds: 130, calls: 50 }));
    const figures = growth(leaking, times, tenMinutes, limits.fdsPerCall);
    expect(figures.rss_slope_mb_per_min).toBeCloseTo(5, 0);
    expect(leaks("core", figures, limits)).toEqual([expect.stringMatching(/^core: RSS grows 5(\.\d+)? MB\/min/)]);
  });

  it("fails descriptors that pile up with the same calls up, not ones that follow more calls", () => {
    const piling = samples((t) => ({ rss_mb: 250, fds: 130 + Math.floor(t / 20), calls: 50 }));
    expect(leaks("core", growth(piling, times, tenMinutes, limits.fdsPerCall), limits)).toEqual([
      expect.stringContaining("core: 25.5 more open descriptors at the end"),
    ]);
    const moreCalls = samples((t) => {
      const calls = t < 300 ? 45 : 50;
      return { rss_mb: 250, fds: 30 + 2 * calls, calls };
    });
    expect(growth(moreCalls, times, tenMinutes, limits.fdsPerCall).fds_growth).toBe(0);
  });

  it("does not judge RSS in a run too short for a slope, but still judges descriptors", () => {
    const short = soakWindows(120);
    const shortTimes = times.slice(0, 12);
    const climbing = shortTimes.map((t) => ({ rss_mb: 100 + t, fds: t < 90 ? 40 : 60, calls: 10 }));
    const figures = growth(climbing, shortTimes, short, limits.fdsPerCall);
    expect(figures.rss_slope_mb_per_min).toBeNull();
    expect(leaks("core", figures, limits)).toEqual([expect.stringContaining("20 more open descriptors")]);
  });

  it("says so when a window has no sample", () => {
    expect(leaks("core", growth([], [], tenMinutes, 1), limits)).toEqual([expect.stringContaining("no samples")]);
  });

  it("fails descriptors left over once every call has ended", () => {
    expect(leftoverFds("core", 25, 30, 10)).toEqual([]);
    expect(leftoverFds("core", 25, 80, 10)).toEqual([expect.stringContaining("55 more open descriptors after every call ended")]);
  });
});
