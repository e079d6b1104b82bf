import { describe, expect, it } from "vitest";
import { IdleWatch, type IdleAction, type IdleEvent } from "./idle.js";

const SETTINGS = { repromptMs: 8000, maxReprompts: 2 };

type FrameContext = Partial<Pick<Extract<IdleEvent, { type: "frame" }>, "agentHolds" | "callerBusy">>;

/** Caller frames every 20 ms from `fromMs` up to (not including) `toMs`: the actions that came out. */
function frames(watch: IdleWatch, fromMs: number, toMs: number, context: FrameContext = {}): IdleAction[] {
  const out: IdleAction[] = [];
  for (let audioMs = fromMs; audioMs < toMs; audioMs += 20) {
    const action = watch.handle({ type: "frame", audioMs, agentHolds: false, callerBusy: false, ...context });
    if (action) out.push(action);
  }
  return out;
}

describe("the silence watch", () => {
  it("reprompts IDLE_REPROMPT_MS after the agent's words played, each time, then says goodbye", () => {
    const watch = new IdleWatch(SETTINGS);
    expect(frames(watch, 0, 3000, { agentHolds: true })).toEqual([]);
    expect(frames(watch, 3000, 11_020)).toEqual([{ type: "reprompt", count: 1, silentFromMs: 3000, audioMs: 11_000 }]);
    // The reprompt plays (the agent holds the floor), then the count starts again.
    expect(frames(watch, 11_020, 12_000, { agentHolds: true })).toEqual([]);
    expect(frames(watch, 12_000, 20_020)).toEqual([{ type: "reprompt", count: 2, silentFromMs: 12_000, audioMs: 20_000 }]);
    expect(frames(watch, 20_020, 21_000, { agentHolds: true })).toEqual([]);
    expect(frames(watch, 21_000, 40_000)).toEqual([{ type: "goodbye", silentFromMs: 21_000, audioMs: 29_000 }]);
  });

  it("words, a backchannel or a key start it over, reprompts included", () => {
    const watch = new IdleWatch(SETTINGS);
    expect(frames(watch, 0, 8020)).toMatchObject([{ type: "reprompt", count: 1 }]);
    watch.handle({ type: "callerActive" });
    // The caller's turn is answered; after the answer played, the count and the reprompts start over.
    expect(frames(watch, 8020, 9000, { agentHolds: true })).toEqual([]);
    expect(frames(watch, 9000, 40_000)).toMatchObject([
      { type: "reprompt", count: 1, silentFromMs: 9000 },
      { type: "reprompt", count: 2 },
      { type: "goodbye" },
    ]);
  });

  it("sound without words does not reset it: the reprompt waits for the utterance to end, then comes at once", () => {
    const watch = new IdleWatch(SETTINGS);
    expect(frames(watch, 0, 5000)).toEqual([]);
    // A tone from 5 s to 9 s: an utterance the recognizer finds no words in.
    expect(frames(watch, 5000, 9000, { callerBusy: true })).toEqual([]);
    expect(frames(watch, 9000, 9100)).toEqual([{ type: "reprompt", count: 1, silentFromMs: 0, audioMs: 9000 }]);
  });

  it("never decides while the agent holds the floor (an answer, a tool running), however long", () => {
    const watch = new IdleWatch({ repromptMs: 1000, maxReprompts: 0 });
    expect(frames(watch, 0, 60_000, { agentHolds: true })).toEqual([]);
    expect(frames(watch, 60_000, 62_000)).toEqual([{ type: "goodbye", silentFromMs: 60_000, audioMs: 61_000 }]);
    // Once the goodbye is decided nothing more comes.
    expect(frames(watch, 62_000, 70_000)).toEqual([]);
  });
});
