// The core ends a call itself at MAX_CALL_MS, or when the call has spent its LLM or TTS budget: it
// stops listening, says CALL_LIMIT_TEXT from the TTS cache (no synthesis, however spent the budget)
// and closes the link with 1000, which the edge takes as the end of the call. One WARNING line says
// why; the CALL line's end_reason is "time limit" or "budget".
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callLine } from "@voice/protocol";
import script from "../../../infra/caller-scripts/default.he.json" with { type: "json" };
import { DEFAULT_CALL_LIMIT_TEXT } from "../config.js";
import { NO_SPECULATION, callerSpeech, levelDbfs, startCore, type CoreUnderTest, type EdgeLink } from "../../testing/core-harness.js";

const MAX_CALL_MS = 2000;
/** The caller's audio and the answers' playout run this much faster than real time (turns run on the audio clock). */
const SPEED = 4;

let timed: CoreUnderTest;
let llmBudget: CoreUnderTest;
let ttsBudget: CoreUnderTest;
let lines: Uint8Array[];

beforeAll(async () => {
  // One after the other: each warmup synthesizes its phrases with eSpeak, and a loaded machine is slow enough.
  timed = await startCore({ env: { MAX_CALL_MS: String(MAX_CALL_MS) } });
  llmBudget = await startCore({ env: { ...NO_SPECULATION, LLM_MAX_REQUESTS_PER_CALL: "1" } });
  // Less than any sentence of an answer, more than nothing.
  ttsBudget = await startCore({ env: { ...NO_SPECULATION, TTS_MAX_CHARS_PER_CALL: "10" } });
  lines = await Promise.all(script.lines.map(callerSpeech));
});

afterAll(async () => {
  await Promise.all([timed?.close(), llmBudget?.close(), ttsBudget?.close()]);
});

/** The farewell the call ends with: its marks, its audio (speech), and the close that follows its echo. */
async function expectFarewell(call: EdgeLink, turn: number): Promise<void> {
  await call.mark(`${turn}.end`);
  const farewellMarks = call.marks().filter((name) => name.startsWith(`${turn}.`));
  expect(farewellMarks).toEqual([`${turn}.1:${DEFAULT_CALL_LIMIT_TEXT}`, `${turn}.end`]);
  expect(levelDbfs(call.audioByTurn.get(turn)!)).toBeGreaterThan(-35);
  expect(await call.closed).toBe(1000);
  expect(call.closedByCore).toBe(true);
  expect(call.echoed).toContain(`${turn}.end`);
}

// Each test calls its own core: they run side by side.
describe.concurrent("MAX_CALL_MS", () => {
  it("cuts what is playing, stops listening, says CALL_LIMIT_TEXT from the cache and closes with 1000", async ({ expect }) => {
    const { emulators, logs } = timed;
    const syntheses = emulators.tts.stats.requests;
    const call = await timed.open("CA-long");
    // The greeting's mark never comes back: as far as the core knows it is still playing at the limit.
    call.begin(true, { speed: SPEED });
    await call.markStarting("1.1:");
    expect(call.received.findIndex((frame) => frame.event === "clear")).toBeLessThan(call.received.findIndex((frame) => frame.event === "media"));
    // The caller talks over the farewell: nobody listens any more.
    void call.say(lines[0]!, 0);
    await expectFarewell(call, 1);

    expect(logs.find("call time limit reached; ending the call")).toEqual([expect.objectContaining({ severity: "WARNING", call_id: "CA-long", max_call_ms: MAX_CALL_MS })]);
    const summary = callLine.parse(await logs.next("CALL", { call_id: "CA-long" }));
    expect(summary).toMatchObject({ end_reason: "time limit", turns: 0, barge_ins: 0 });
    expect(summary.duration_ms).toBeGreaterThanOrEqual(MAX_CALL_MS);
    expect(call.clears()).toBe(1);
    expect(emulators.openai.stats.completions.filter((c) => c.callId === "CA-long")).toEqual([]);
    expect(emulators.tts.stats.requests).toBe(syntheses);
  });
});

describe.concurrent("LLM_MAX_REQUESTS_PER_CALL", () => {
  it("answers until the budget is spent; the request past it is not sent and the call is ended", async ({ expect }) => {
    const { emulators, logs } = llmBudget;
    const call = await llmBudget.open("CA-chatty");
    call.begin(true, { speed: SPEED });
    call.echo("greeting");
    await call.say(lines[0]!);
    await call.mark("1.end");
    await call.echoOf("1.end");
    await call.say(lines[1]!);
    // Turn 2 got no answer: the farewell comes as turn 3.
    await expectFarewell(call, 3);

    expect(logs.find("call budget spent; ending the call")).toEqual([
      expect.objectContaining({ severity: "WARNING", call_id: "CA-chatty", budget: "LLM_MAX_REQUESTS_PER_CALL", limit: 1, used: 1 }),
    ]);
    expect(emulators.openai.stats.completions.filter((c) => c.callId === "CA-chatty")).toHaveLength(1);
    expect(callLine.parse(await logs.next("CALL", { call_id: "CA-chatty" }))).toMatchObject({ end_reason: "budget", turns: 2, fallbacks: 0 });
    expect(logs.find("LLM failed; speaking the fallback phrase")).toEqual([]);
  });
});

describe.concurrent("TTS_MAX_CHARS_PER_CALL", () => {
  it("sends no sentence past the budget to the service and ends the call with the cached farewell", async ({ expect }) => {
    const { emulators, logs } = ttsBudget;
    const syntheses = emulators.tts.stats.requests;
    const call = await ttsBudget.open("CA-wordy");
    call.begin(true, { speed: SPEED });
    call.echo("greeting");
    await call.say(lines[0]!);
    await expectFarewell(call, 2);

    expect(logs.find("call budget spent; ending the call")).toEqual([
      expect.objectContaining({ severity: "WARNING", call_id: "CA-wordy", budget: "TTS_MAX_CHARS_PER_CALL", limit: 10, used: 0 }),
    ]);
    expect(emulators.tts.stats.requests).toBe(syntheses);
    expect(call.audioByTurn.has(1)).toBe(false);
    expect(callLine.parse(await logs.next("CALL", { call_id: "CA-wordy" }))).toMatchObject({ end_reason: "budget", turns: 1, tts_syntheses: 0 });
    expect(logs.find("TTS failed; speaking the fallback phrase")).toEqual([]);
  });
});
