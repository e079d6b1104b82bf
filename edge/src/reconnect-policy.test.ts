import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyText, RUNS } from "../testing/fuzz-inputs.js";
import { classifyCoreClose, DEFAULT_RECONNECT_POLICY, mayReopen, nextAttempt, reconnectPolicy, type Attempt } from "./reconnect-policy.js";

/** Every attempt of one outage whose tries all fail at once: the schedule the budget allows. `draw`: the random draw of each attempt (0: no jitter). */
function schedule(budgetMs: number, draw: (index: number) => number = () => 0): (Attempt & { at: number })[] {
  const policy = { ...DEFAULT_RECONNECT_POLICY, budgetMs };
  const attempts: (Attempt & { at: number })[] = [];
  let elapsed = 0;
  for (let index = 0; ; index++) {
    const attempt = nextAttempt(policy, index, elapsed, draw(index));
    if (!attempt) return attempts;
    elapsed += attempt.delayMs;
    attempts.push({ ...attempt, at: elapsed });
  }
}

describe("reconnect schedule", () => {
  it("tries at once, then backs off at most 250, 500, 1000, 2000, 4000, 4000... ms within the 30 s budget", () => {
    const attempts = schedule(30_000);
    expect(attempts.map((a) => a.at)).toEqual([0, 250, 750, 1750, 3750, 7750, 11750, 15750, 19750, 23750, 27750]);
    expect(attempts[0]!.timeoutMs).toBe(10_000);
    // The last try may not wait for the core past the budget.
    expect(attempts.at(-1)!.timeoutMs).toBe(2250);
  });

  it("spreads the waits of calls that lost their core together: each within (half, all] of its step, the first try at once", () => {
    const steps = [0, 250, 500, 1000, 2000, 4000, 4000];
    const draws = [0, 0.13, 0.5, 0.77, 0.999_999];
    const schedules = draws.map((d) => schedule(30_000, () => d));
    for (const attempts of schedules) {
      const waits = attempts.map((a, i) => a.at - (attempts[i - 1]?.at ?? 0));
      expect(waits[0]).toBe(0);
      waits.forEach((wait, i) => {
        const step = steps[Math.min(i, steps.length - 1)]!;
        expect(wait).toBeLessThanOrEqual(step);
        if (i > 0) expect(wait).toBeGreaterThan(step / 2);
      });
      expect(attempts.at(-1)!.at).toBeLessThan(30_000);
    }
    // Different draws, different instants: no two of these calls knock on the core together after the first try.
    const firstRetries = schedules.map((attempts) => attempts[1]!.at);
    expect(new Set(firstRetries).size).toBe(draws.length);
    // A shorter wait leaves room for as many tries, or more, within the same budget.
    for (const attempts of schedules) expect(attempts.length).toBeGreaterThanOrEqual(schedule(30_000).length);
  });

  it("gives up sooner with a smaller budget", () => {
    expect(schedule(300).map((a) => a.at)).toEqual([0, 250]);
    expect(schedule(300).map((a) => a.timeoutMs)).toEqual([300, 50]);
  });

  it("allows five re-opens per call", () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => mayReopen(DEFAULT_RECONNECT_POLICY, n))).toEqual([true, true, true, true, true, false]);
  });

  it("takes the budget from RECONNECT_BUDGET_MS, keeping the default for an unusable value", () => {
    expect(reconnectPolicy(undefined)).toEqual({ policy: DEFAULT_RECONNECT_POLICY });
    expect(reconnectPolicy("1500").policy.budgetMs).toBe(1500);
    for (const bad of ["soon", "-5", "1.5", "0"]) {
      const { policy, problem } = reconnectPolicy(bad);
      expect(policy.budgetMs).toBe(30_000);
      expect(problem).toContain("RECONNECT_BUDGET_MS");
    }
  });
});

describe("a closed core link", () => {
  it("ends the call on a normal end or a policy refusal, moves it on 1012, and re-opens it on anything else", () => {
    expect(classifyCoreClose(1000)).toBe("ended");
    expect(classifyCoreClose(1008)).toBe("refused");
    expect(classifyCoreClose(1012)).toBe("moved");
    for (const code of [1001, 1005, 1006, 1011]) expect(classifyCoreClose(code)).toBe("lost");
  });
});

describe("reconnect policy on any input (property-based)", () => {
  it("classifies every close code, ending the call only on 1000 and 1008", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 65_535 }), fc.integer()), (code) => {
        const expected = code === 1000 ? "ended" : code === 1008 ? "refused" : code === 1012 ? "moved" : "lost";
        expect(classifyCoreClose(code)).toBe(expected);
      }),
      { seed: 8021, numRuns: RUNS },
    );
  });

  it("reads any RECONNECT_BUDGET_MS without throwing, into a budget that allows at least the first try", () => {
    fc.assert(
      fc.property(anyText, (raw) => {
        const { policy } = reconnectPolicy(raw);
        expect(Number.isSafeInteger(policy.budgetMs) && policy.budgetMs > 0).toBe(true);
        expect(nextAttempt(policy, 0, 0, 0.5)).toEqual({ delayMs: 0, timeoutMs: Math.min(policy.connectTimeoutMs, policy.budgetMs) });
      }),
      { seed: 8022, numRuns: RUNS },
    );
  });

  it("keeps every wait within (half, all] of its step and every try within the budget, for any draw", () => {
    fc.assert(
      fc.property(fc.nat({ max: 20 }), fc.nat({ max: 40_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (index, elapsed, draw) => {
        const step = DEFAULT_RECONNECT_POLICY.delaysMs[Math.min(index, DEFAULT_RECONNECT_POLICY.delaysMs.length - 1)]!;
        const attempt = nextAttempt(DEFAULT_RECONNECT_POLICY, index, elapsed, draw);
        if (!attempt) return;
        expect(attempt.delayMs).toBeLessThanOrEqual(step);
        if (step > 0) expect(attempt.delayMs).toBeGreaterThan(step / 2);
        expect(elapsed + attempt.delayMs + attempt.timeoutMs).toBeLessThanOrEqual(DEFAULT_RECONNECT_POLICY.budgetMs);
      }),
      { seed: 8023, numRuns: RUNS },
    );
  });
});
