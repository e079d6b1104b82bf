import { describe, expect, it } from "vitest";
import { FaultSchedule } from "./faults.js";

/** What each of `n` arrivals (of `callId`) gets. */
const arrivals = (schedule: FaultSchedule<string>, n: number, callId?: string) => Array.from({ length: n }, () => schedule.take(callId));

describe("FaultSchedule", () => {
  it("hits the next arrival by default, and queues faults added one after another", () => {
    const schedule = new FaultSchedule<string>();
    schedule.add("a");
    schedule.add("b", { times: 2 });
    expect(arrivals(schedule, 4)).toEqual(["a", "b", "b", undefined]);
  });

  it("hits only the nth arrival from now, ahead of queued faults", () => {
    const schedule = new FaultSchedule<string>([{ fault: "queued", when: { times: 3 } }]);
    schedule.add("third", { nth: 3 });
    expect(arrivals(schedule, 5)).toEqual(["queued", "queued", "third", "queued", undefined]);
  });

  it("counts only the arrivals of the call a fault names", () => {
    const schedule = new FaultSchedule<string>();
    schedule.add("for CA-1", { callId: "CA-1" });
    schedule.add("second of CA-2", { nth: 2, callId: "CA-2" });
    expect([schedule.take(), schedule.take("CA-2"), schedule.take("CA-2"), schedule.take("CA-1"), schedule.take("CA-1")]).toEqual([
      undefined,
      undefined,
      "second of CA-2",
      "for CA-1",
      undefined,
    ]);
  });

  it("hits arrivals at random with the given probability, the same ones for the same seed, until cleared", () => {
    const run = (seed: number) => {
      const schedule = new FaultSchedule<string>([{ fault: "x", when: { probability: 0.2, seed } }]);
      return arrivals(schedule, 1000, "any").map((fault) => fault !== undefined);
    };
    const hits = run(3).filter(Boolean).length;
    expect(hits).toBeGreaterThan(150);
    expect(hits).toBeLessThan(250);
    expect(run(3)).toEqual(run(3));
    expect(run(4)).not.toEqual(run(3));

    const schedule = new FaultSchedule<string>([{ fault: "x", when: { probability: 1 } }]);
    expect(schedule.take()).toBe("x");
    schedule.clear();
    expect(schedule.take()).toBeUndefined();
  });

  it("says at once what is wrong with a malformed schedule", () => {
    const schedule = new FaultSchedule<string>();
    expect(() => schedule.add("x", { nth: 0 })).toThrow(/'nth' must be a whole number >= 1, got 0/);
    expect(() => schedule.add("x", { times: 1.5 })).toThrow(/'times'/);
    expect(() => schedule.add("x", { probability: 2 })).toThrow(/'probability' must be in \[0, 1\]/);
    expect(() => schedule.add("x", { nth: 1, times: 2 })).toThrow(/one of nth, times and probability, got nth and times/);
  });
});
