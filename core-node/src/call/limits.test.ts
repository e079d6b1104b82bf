// Limits on what calls can take from a core: MAX_CALLS at once (one more is accepted, closed with
// 1013 and counted on /health), and MAX_FRAMES_PER_SECOND per call (a burst over it is thinned, with
// one line for the second it lasted, and the call goes on).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOSE_AT_CAPACITY, DEFAULT_MAX_FRAMES_PER_SECOND, callLine } from "@voice/protocol";
import script from "../../../infra/caller-scripts/default.he.json" with { type: "json" };
import { callerSpeech, startCore, type CoreUnderTest } from "../../testing/core-harness.js";

const MAX_CALLS = 2;
/** Frames sent at once, past the rate limit. */
const BURST = 150;

let core: CoreUnderTest;
let question: Uint8Array;

beforeAll(async () => {
  [core, question] = await Promise.all([
    startCore({ env: { MAX_CALLS: String(MAX_CALLS), MAX_FRAMES_PER_SECOND: String(DEFAULT_MAX_FRAMES_PER_SECOND) } }),
    callerSpeech(script.lines[0]!),
  ]);
});

afterAll(async () => {
  await core?.close();
});

async function health(): Promise<Record<string, unknown>> {
  return (await fetch(`http://127.0.0.1:${core.server.port}/health`)).json() as Promise<Record<string, unknown>>;
}

describe("MAX_FRAMES_PER_SECOND", () => {
  it("drops a burst's frames past the rate, says so once, and the call goes on", async () => {
    const call = await core.open("CA-burst");
    call.begin(true);
    call.echo("greeting");
    // Three seconds of audio at once: the rest of the second past the limit is dropped unread.
    call.burst(BURST);
    await call.say(question);
    await call.mark("1.end");
    expect(await core.logs.next("TURN", { call_id: "CA-burst" })).toMatchObject({ turn: 1, transcript: script.lines[0] });
    await call.hangUp();
    const lines = core.logs.find("frames over the rate limit; dropping the rest of this second", { call_id: "CA-burst" });
    expect(lines).toEqual([expect.objectContaining({ severity: "WARNING", max_frames_per_second: DEFAULT_MAX_FRAMES_PER_SECOND })]);
    const summary = callLine.parse(await core.logs.next("CALL", { call_id: "CA-burst" }));
    expect(summary.end_reason).toBe("stop");
    expect(summary.dropped_frames).toBeGreaterThanOrEqual(BURST - DEFAULT_MAX_FRAMES_PER_SECOND);
    expect(summary.dropped_frames).toBeLessThan(BURST);
  });
});

describe("MAX_CALLS", () => {
  it("accepts the call past the limit, closes it at once with 1013, counts it, and takes calls again once one ends", async () => {
    const calls = await Promise.all([core.open("CA-cap-1"), core.open("CA-cap-2")]);
    for (const call of calls) call.begin(true);
    const refused = await core.open("CA-cap-3");
    const reason = new Promise<string>((resolve) => refused.ws.once("close", (_code, why) => resolve(String(why))));
    expect(await refused.closed).toBe(CLOSE_AT_CAPACITY);
    expect(await reason).toBe("core at capacity");
    expect(core.logs.find("call refused: core at capacity")).toEqual([
      expect.objectContaining({ severity: "WARNING", call_id: "CA-cap-3", active_calls: MAX_CALLS, max_calls: MAX_CALLS }),
    ]);
    expect(await health()).toMatchObject({ active_calls: MAX_CALLS, max_calls: MAX_CALLS, calls_refused: 1 });

    await calls[0]!.hangUp();
    const again = await core.open("CA-cap-4");
    again.begin(true);
    await again.next((frame) => frame.event === "core.state");
    expect(again.closedByCore).toBe(false);
    expect(await health()).toMatchObject({ active_calls: MAX_CALLS, calls_refused: 1 });
    await Promise.all([calls[1]!.hangUp(), again.hangUp()]);
  });
});
