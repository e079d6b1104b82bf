import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FLOOD_CALM_MS, FloodGuard, type FrameVerdict } from "./limits.js";

const settings = { maxPerSecond: 100, maxAudioBacklogMs: 10_000, floodCloseAfterS: 3 };
const RUNS = { seed: 20261204, numRuns: 300 };

/** A live line: media frame k is due at `startMs + 20k`; `delayOf(k)` is how late the network delivers it (in order, as TCP does). */
function line(frames: number, delayOf: (k: number) => number, startMs = 1_000): number[] {
  const arrivals: number[] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < frames; k++) arrivals.push((last = Math.max(last, startMs + 20 * k + delayOf(k))));
  return arrivals;
}

/** A stall of `stallMs` from frame `at` on: frames due during it arrive together when it ends. */
const stall = (at: number, stallMs: number) => (k: number) => {
  const due = 20 * k - 20 * at;
  return due >= 0 && due < stallMs ? stallMs - due : 0;
};

function media(guard: FloodGuard, arrivals: number[]): FrameVerdict[] {
  return arrivals.map((at) => guard.media(at));
}

describe("FloodGuard, media: the caller's audio clock against wall time", () => {
  it.each([500, 1500, 3000, 5000, 9980])("loses nothing of a line that stalls %i ms and then delivers the backlog at once", (stallMs) => {
    const guard = new FloodGuard(settings);
    // 60 s of audio with the stall 20 s in, and another one 40 s in.
    const delay = (k: number) => stall(1000, stallMs)(k) + stall(2000, stallMs)(k);
    const verdicts = media(guard, line(3000, delay));
    expect(verdicts.filter((v) => v !== "pass")).toEqual([]);
    expect(guard.droppedTotal).toBe(0);
  });

  it("loses nothing of a line whose first frames were held (a link still opening) and which stalls later", () => {
    const guard = new FloodGuard(settings);
    const delay = (k: number) => Math.max(0, 8000 - 20 * k) + stall(1500, 9000)(k);
    expect(media(guard, line(3000, delay)).every((v) => v === "pass")).toBe(true);
  });

  it("passes any live line whose delays vary by less than the backlog allowance, whatever the pattern", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: settings.maxAudioBacklogMs - 20 }), { minLength: 1, maxLength: 600 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        (delays, startMs) => {
          const guard = new FloodGuard(settings);
          // Each frame's delay is one of the drawn values, held for ~0.2 s, so stalls and catch-ups mix.
          const verdicts = media(guard, line(3 * delays.length, (k) => delays[Math.floor(k / 10) % delays.length]!, startMs));
          return verdicts.every((v) => v === "pass");
        },
      ),
      RUNS,
    );
  });

  it("never lets through more audio than real time plus the allowance, however the frames are timed", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 2000 }), (gaps) => {
        const guard = new FloodGuard({ ...settings, floodCloseAfterS: 1_000 });
        let at = 0;
        let passed = 0;
        for (const gap of gaps) {
          at += gap;
          if (guard.media(at) === "pass") passed++;
        }
        // From the first frame's arrival to the last one's, plus the allowance.
        return passed * 20 <= at - gaps[0]! + settings.maxAudioBacklogMs;
      }),
      RUNS,
    );
  });

  it("drops a stream that runs ahead of real time, and closes it once that has lasted FLOOD_CLOSE_AFTER_S", () => {
    const guard = new FloodGuard(settings);
    // Three times real time: 150 frames a second. The allowance lasts 10 s / 2 = 5 s.
    const verdicts = Array.from({ length: 150 * 20 }, (_, i) => guard.media((i * 1000) / 150));
    const firstDrop = verdicts.indexOf("drop");
    expect(firstDrop * (1000 / 150)).toBeCloseTo(5000, -2);
    // Thinned to real time meanwhile: one in three passes.
    const thinned = verdicts.slice(firstDrop, firstDrop + 150);
    expect(thinned.filter((v) => v === "pass").length).toBeCloseTo(50, -1);
    const close = verdicts.indexOf("close");
    expect((close - firstDrop) * (1000 / 150)).toBeCloseTo(3000, -2);
    expect(guard.droppedInRun).toBeGreaterThan(1);
  });

  it("closes a flood at any rate over real time within the allowance's drain time plus FLOOD_CLOSE_AFTER_S", () => {
    fc.assert(
      fc.property(fc.integer({ min: 60, max: 5000 }), (perSecond) => {
        const guard = new FloodGuard(settings);
        const drainS = settings.maxAudioBacklogMs / 1000 / (perSecond / 50 - 1);
        const boundMs = (drainS + settings.floodCloseAfterS) * 1000 + 1000;
        for (let i = 0; (i * 1000) / perSecond <= boundMs; i++) if (guard.media((i * 1000) / perSecond) === "close") return true;
        return false;
      }),
      { ...RUNS, numRuns: 100 },
    );
  });

  it("forgets a run after a calm second; a stream back at real time is not closed", () => {
    const guard = new FloodGuard(settings);
    const at = (ms: number) => guard.media(ms);
    // The whole allowance at once, then two seconds at twice real time: every other frame dropped...
    for (let i = 0; i < 500; i++) expect(at(0)).toBe("pass");
    for (let i = 1; i <= 200; i++) expect(at(i * 10)).toBe(i % 2 === 0 ? "pass" : "drop");
    // ... then more than a calm second at real time, and a new burst starts a new run.
    for (let t = 2020; t <= 3100; t += 20) expect(at(t)).toBe("pass");
    const again = Array.from({ length: 10 }, () => at(3200));
    expect(again).toEqual([...Array<string>(5).fill("pass"), ...Array<string>(5).fill("drop")]);
    expect(guard.droppedInRun).toBe(5);
  });
});

describe("FloodGuard, other frames: a rate over wall time", () => {
  it("passes a caller's marks and keys, and a burst of echoes after a stall", () => {
    const guard = new FloodGuard(settings);
    for (let s = 0; s < 60; s++) for (let i = 0; i < 5; i++) expect(guard.other(s * 1000 + i * 100)).toBe("pass");
    for (let i = 0; i < 40; i++) expect(guard.other(60_500)).toBe("pass");
    expect(guard.droppedTotal).toBe(0);
  });

  it("drops what is over the rate, and closes a flood of them that lasts; media at real time passes meanwhile", () => {
    const guard = new FloodGuard(settings);
    const verdicts: FrameVerdict[] = [];
    for (let i = 0; i < 150 * 4; i++) {
      const at = (i * 1000) / 150;
      verdicts.push(guard.other(at));
      if (i % 3 === 0) expect(guard.media(at)).toBe("pass");
    }
    expect(verdicts.slice(0, 100).every((v) => v === "pass")).toBe(true);
    expect(verdicts[100]).toBe("drop");
    // The first drop at ~667 ms; 3 s of dropping later, close.
    const close = verdicts.indexOf("close");
    expect((close * 1000) / 150).toBeGreaterThanOrEqual(3000 + 660);
    expect((close * 1000) / 150).toBeLessThan(3000 + 1700);
    expect(guard.mediaDropped).toBe(0);
  });

  it("counts media and other frames apart: a flood of one is not paid by the other", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 50 })), { maxLength: 3000 }), (frames) => {
        const guard = new FloodGuard({ ...settings, floodCloseAfterS: 1_000 });
        let at = 0;
        let otherPassed = 0;
        let lastWindowStart = Number.NEGATIVE_INFINITY;
        let windows = 0;
        for (const [isMedia, gap] of frames) {
          at += gap;
          if (isMedia) guard.media(at);
          else {
            if (at - lastWindowStart >= 1000) (lastWindowStart = at), windows++;
            if (guard.other(at) === "pass") otherPassed++;
          }
        }
        return otherPassed <= windows * settings.maxPerSecond;
      }),
      RUNS,
    );
  });
});

describe("FloodGuard and the clock", () => {
  it("adds no credit when the clock steps back, and keeps working after", () => {
    const guard = new FloodGuard({ ...settings, maxAudioBacklogMs: 100 });
    for (let i = 0; i < 5; i++) expect(guard.media(10_000)).toBe("pass");
    expect(guard.media(5_000)).toBe("drop");
    expect(guard.media(5_020)).toBe("pass");
    expect(guard.other(4_000)).toBe("pass");
  });
});
