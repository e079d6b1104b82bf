import { describe, expect, it } from "vitest";
import { AWAITING_START, answers, listens, nextPhase, type CallPhase, type PhaseEvent } from "./phase.js";

/** Applies events in order; an event the phase refuses leaves it as it was. */
function run(events: PhaseEvent[], from: CallPhase = AWAITING_START): CallPhase {
  return events.reduce((phase, event) => nextPhase(phase, event) ?? phase, from);
}

describe("call phase", () => {
  it("a normal call: start, opening, live, ended by the caller", () => {
    const live = run([{ type: "start" }, { type: "opening" }]);
    expect(live).toEqual({ name: "live" });
    expect(answers(live) && listens(live)).toBe(true);
    expect(run([{ type: "end", reason: "stop" }], live)).toEqual({ name: "ended", reason: "stop" });
  });

  it("refuses what means nothing in a phase: a second start or opening, an opening before start, anything after the end", () => {
    const live = run([{ type: "start" }, { type: "opening" }]);
    expect(nextPhase(live, { type: "start" })).toBeUndefined();
    expect(nextPhase(live, { type: "opening" })).toBeUndefined();
    expect(nextPhase(AWAITING_START, { type: "opening" })).toBeUndefined();
    const ended = run([{ type: "end", reason: "flood" }], live);
    for (const event of [{ type: "start" }, { type: "drain" }, { type: "end", reason: "stop" }] as PhaseEvent[]) expect(nextPhase(ended, event)).toBeUndefined();
  });

  it("wrapping up stops listening and answering and cannot become a drain; a draining call listens but answers nothing", () => {
    const wrapping = run([{ type: "start" }, { type: "opening" }, { type: "wrapUp", reason: "budget" }]);
    expect(wrapping).toEqual({ name: "wrapping up", reason: "budget" });
    expect(listens(wrapping) || answers(wrapping)).toBe(false);
    expect(nextPhase(wrapping, { type: "drain" })).toBeUndefined();
    expect(nextPhase(wrapping, { type: "wrapUp", reason: "time limit" })).toBeUndefined();

    const draining = run([{ type: "start" }, { type: "drain" }]);
    expect(draining).toEqual({ name: "draining" });
    expect(listens(draining)).toBe(true);
    expect(answers(draining)).toBe(false);
    expect(nextPhase(draining, { type: "wrapUp", reason: "time limit" })).toBeUndefined();
    expect(run([{ type: "end", reason: "moved" }], draining)).toEqual({ name: "ended", reason: "moved" });
  });
});
