import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyText, RUNS } from "../testing/fuzz-inputs.js";
import { classifyCoreClose, DEFAULT_RECONNECT_POLICY, mayReopen, nextAttempt, reconnectPolicy, type Attempt } from "./reconnect-policy.js";

/** Every attempt of one outage whose tries all fail at once: the schedule the budget allows. */
function schedule(budgetMs: number): (Attempt & { at: number })[] {
  const policy = { ...DEFAULT_RECONNECT_POLICY, budgetMs };
  const attempts: (Attempt & { at: number })[] = [];
  let elapsed = 0;
  for (let index = 0; ; index++) {
    const attempt = nextAttempt(policy, index, elapsed);
    if (!attempt) return attempts;
    elapsed += attempt.delayMs;
    attempts.push({ ...attempt, at: elapsed });
  }
}

describe("reconnect schedule", () => {
  it("tries at once, then backs off 250, 500, 1000, 2000, 4000, 4000... ms within the 30 s budget", () => {
    const attempts = schedule(30_000);
    expect(attempts.map((a) => a.at)).toEqual([0, 250, 750, 1750, 3750, 7750, 11750, 15750, 19750, 23750, 27750]);
    expect(attempts[0]!.timeoutMs).toBe(10_000);
    // The last try may not wait for the core past the budget.
    expect(attempts.at(-1)!.timeoutMs).toBe(2250);
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
        expect(nextAttempt(policy, 0, 0)).toEqual({ delayMs: 0, timeoutMs: Math.min(policy.connectTimeoutMs, policy.budgetMs) });
      }),
      { seed: 8022, numRuns: RUNS },
    );
  });
});
