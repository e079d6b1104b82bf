// Limits on what calls can take from a core: MAX_CALLS at once (one more is accepted, closed with
// 1013 and counted on /health), and MAX_AUDIO_BACKLOG_MS per call (audio running further ahead of
// real time is thinned, with one line for the run of drops, and the call goes on). A stall's backlog,
// which is not ahead of real time, loses nothing: stalls.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOSE_AT_CAPACITY, DEFAULT_MAX_FRAMES_PER_SECOND, callLine } from "@voice/protocol";
import script from "../../../infra/caller-scripts/default.he.json" with { type: "json" };
import { coreHealth } from "../../../infra/local/core-process.js";
import { TEST_SECRET, callerSpeech, startCore, type CoreUnderTest } from "../../testing/core-harness.js";

const MAX_CALLS = 2;
/** Audio that may run ahead of real time: 2 s, 100 frames. */
const MAX_AUDIO_BACKLOG_MS = 2000;
/** Frames sent at once ahead of real time: 3 s of audio, a second more than the allowance. */
const BURST = 150;

let core: CoreUnderTest;
let question: Uint8Array;

beforeAll(async () => {
  [core, question] = await Promise.all([
    startCore({
      env: { MAX_CALLS: String(MAX_CALLS), MAX_FRAMES_PER_SECOND: String(DEFAULT_MAX_FRAMES_PER_SECOND), MAX_AUDIO_BACKLOG_MS: String(MAX_AUDIO_BACKLOG_MS) },
    }),
    callerSpeech(script.lines[0]!),
  ]);
});

afterAll(async () => {
  await core?.close();
});

async function health(): Promise<Record<string, unknown>> {
  return coreHealth(`http://127.0.0.1:${core.server.port}`, TEST_SECRET);
}

describe("MAX_AUDIO_BACKLOG_MS", () => {
  it("drops what a burst runs ahead of real time past the allowance, says so once, and the call goes on", async () => {
    const call = await core.open("CA-burst");
    call.begin(true);
    call.echo("greeting");
    // Three seconds of audio ahead of real time at once: what is past the allowance is dropped unread.
    call.burst(BURST);
    await call.say(question);
    await call.mark("1.end");
    expect(await core.logs.next("TURN", { call_id: "CA-burst" })).toMatchObject({ turn: 1, transcript: script.lines[0] });
    await call.hangUp();
    const lines = core.logs.find("frames over the flood limit; dropping them", { call_id: "CA-burst" });
    expect(lines).toEqual([expect.objectContaining({ severity: "WARNING", max_audio_backlog_ms: MAX_AUDIO_BACKLOG_MS })]);
    const summary = callLine.parse(await core.logs.next("CALL", { call_id: "CA-burst" }));
    expect(summary.end_reason).toBe("stop");
    // About a second of it (50 frames); more if the line arrived in clumps before (a loaded machine).
    const allowance = MAX_AUDIO_BACKLOG_MS / 20;
    expect(summary.dropped_frames).toBeGreaterThanOrEqual(BURST - allowance - 2);
    expect(summary.dropped_frames).toBeLessThanOrEqual(BURST - allowance / 2);
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
