// Turn-taking through the real emulators: what is and is not a turn, keypad input, phrases from the
// TTS cache, and a call that ends cleanly. The core runs with DEBUG on, so its debug lines ("utterance
// too short") are events a test can wait for.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FRAME_BYTES, MULAW_SILENCE, callLine, turnLine } from "@voice/protocol";
import { answerFor } from "../../../infra/local/emulators/chat-answers.js";
import script from "../../../infra/caller-scripts/default.he.json" with { type: "json" };
import { SentenceSplitter } from "../llm/sentences.js";
import { NO_SPECULATION, TEST_GREETING, callerSpeech, levelDbfs, noiseBurst, startCore, until, type CoreUnderTest } from "../../testing/core-harness.js";

const [HOURS_QUESTION] = script.lines as [string];
const KEYPAD_TIMEOUT_MS = 600;

/** The first sentence of the emulator's answer to the hours question: made a fixed phrase, so warmup caches it. */
const hoursFirstSentence = (() => {
  const splitter = new SentenceSplitter("he-IL");
  return [...splitter.push(answerFor(HOURS_QUESTION)), ...splitter.flush()][0]!;
})();

let core: CoreUnderTest;
const speech = new Map<string, Uint8Array>();

beforeAll(async () => {
  core = await startCore({
    debug: true,
    // One LLM request per turn: the tests count them.
    env: { ...NO_SPECULATION, DTMF_TIMEOUT_MS: String(KEYPAD_TIMEOUT_MS), FIXED_PHRASES: JSON.stringify({ hours: hoursFirstSentence }) },
  });
  for (const line of script.lines) speech.set(line, await callerSpeech(line));
});

afterAll(async () => {
  await core?.close();
});

/** A call whose greeting (played by the edge) has been heard. */
async function callWithGreetingHeard(callSid: string) {
  const call = await core.open(callSid);
  call.begin(true);
  call.echo("greeting");
  return call;
}

/** `mulaw` with `pauseMs` of silence inserted in the middle of its longest stretch of loud frames, so
 *  the pause is exactly `pauseMs` and not added to a gap the speech already had. */
function withPauseInsideSpeech(mulaw: Uint8Array, pauseMs: number): Uint8Array {
  const loud = (at: number) => levelDbfs([mulaw.subarray(at, at + FRAME_BYTES)]) > -30;
  let best = { from: 0, frames: 0 };
  let run = { from: 0, frames: 0 };
  for (let at = 0; at + FRAME_BYTES <= mulaw.length; at += FRAME_BYTES) {
    run = loud(at) ? { from: run.frames > 0 ? run.from : at, frames: run.frames + 1 } : { from: 0, frames: 0 };
    if (run.frames > best.frames) best = run;
  }
  const cut = best.from + Math.floor(best.frames / 2) * FRAME_BYTES;
  const pause = new Uint8Array((pauseMs / 20) * FRAME_BYTES).fill(MULAW_SILENCE);
  return new Uint8Array(Buffer.concat([mulaw.subarray(0, cut), pause, mulaw.subarray(cut)]));
}

describe("what is a turn", () => {
  it("a 150 ms noise burst is not a turn: no TURN line, no LLM request", async () => {
    const call = await callWithGreetingHeard("CA-noise");
    const requests = core.emulators.openai.stats.requests;
    await call.say(noiseBurst(150), 300);
    const outcome = await Promise.race([
      core.logs.next("utterance too short", { call_id: "CA-noise" }).then(() => "discarded"),
      core.logs.next("TURN", { call_id: "CA-noise" }).then(() => "turn"),
    ]);
    expect(outcome).toBe("discarded");
    // The VAD did hear it start: it was judged, not missed.
    expect(core.logs.find("speech start", { call_id: "CA-noise" })).toHaveLength(1);
    await call.hangUp();
    expect(await core.logs.next("CALL", { call_id: "CA-noise" })).toMatchObject({ turns: 0, barge_ins: 0 });
    expect(core.logs.find("TURN", { call_id: "CA-noise" })).toEqual([]);
    expect(core.emulators.openai.stats.requests).toBe(requests);
  });

  it("a pause shorter than the hangover inside a sentence does not split it: one turn with the whole sentence", async () => {
    const call = await callWithGreetingHeard("CA-pause");
    // The speech emulator transcribes a stream's first utterance as the script's first line.
    const spoken = withPauseInsideSpeech(speech.get(HOURS_QUESTION)!, 100);
    const requests = core.emulators.openai.stats.requests;
    await call.say(spoken, 300);
    // The TURN line is written once the turn stands (CUTOFF_RECOVERY_MS of the caller's audio later).
    await core.logs.next("TURN", { call_id: "CA-pause" });
    await call.mark("1.end");
    const turns = core.logs.find("TURN", { call_id: "CA-pause" });
    expect(turns).toHaveLength(1);
    const turn = turnLine.parse(turns[0]);
    expect(turn).toMatchObject({ turn: 1, input: "speech", transcript: HOURS_QUESTION, stt_used_partial: false });
    // The turn spans both halves of the sentence, pause included.
    expect(turn.speech_end_audio_ms - turn.speech_start_audio_ms).toBeGreaterThan((spoken.length / 8) * 0.8);
    expect(turn.EOU_MS).toBeGreaterThanOrEqual(core.app.config.VAD_HANGOVER_MS - 20);
    expect(core.emulators.openai.stats.requests).toBe(requests + 1);
    await call.hangUp();
  });
});

describe("keypad", () => {
  it("digits reach the LLM as a marker message, on '#' or after DTMF_TIMEOUT_MS, and a key stops the agent", async () => {
    const call = await callWithGreetingHeard("CA-keys");
    for (const key of ["1", "2", "3", "#"]) call.key(key);
    const first = turnLine.parse(await core.logs.next("TURN", { call_id: "CA-keys", turn: 1 }));
    expect(first).toMatchObject({ input: "dtmf", transcript: "[keypad] 1 2 3 #", stt_used_partial: false });
    expect(first.STT_FINAL_MS).toBeUndefined();
    expect(core.emulators.openai.stats.lastMessages.at(-1)).toEqual({ role: "user", content: "[keypad] 1 2 3 #" });

    // While the answer plays, a key interrupts it; without "#" the entry ends after the timeout.
    await call.markStarting("1.1:");
    call.key("4");
    call.key("2");
    await call.next((frame) => frame.event === "clear");
    expect(await core.logs.next("BARGE_IN", { call_id: "CA-keys" })).toMatchObject({ reason: "dtmf", turn: 1, voiced_ms: 0 });
    const second = turnLine.parse(await core.logs.next("TURN", { call_id: "CA-keys", turn: 2 }));
    expect(second).toMatchObject({ input: "dtmf", transcript: "[keypad] 4 2" });
    expect(second.EOU_MS).toBeGreaterThanOrEqual(KEYPAD_TIMEOUT_MS - 2); // timers may fire a millisecond early
    expect(second.EOU_MS).toBeLessThan(KEYPAD_TIMEOUT_MS + 1000);
    const messages = core.emulators.openai.stats.lastMessages;
    expect(messages.filter((m) => m.role === "user").map((m) => m.content)).toEqual(["[keypad] 1 2 3 #", "[keypad] 4 2"]);
    await call.hangUp();
    expect(callLine.parse(await core.logs.next("CALL", { call_id: "CA-keys" }))).toMatchObject({ turns: 2, dtmf_turns: 2, barge_ins: 1 });
  });
});

describe("the TTS cache", () => {
  it("serves the greeting and a fixed phrase warmed at start: TTS_READY_MS about 0 and tts_cache_hit", async () => {
    const call = await core.open("CA-cached");
    const syntheses = core.emulators.tts.stats.requests;
    call.begin(false); // the edge could not play the greeting: the core speaks it, from the cache
    await call.echoOf("0.end");
    expect(call.marks()).toEqual([`0.1:${TEST_GREETING}`, "0.end"]);
    await call.say(speech.get(HOURS_QUESTION)!, 300);
    const turn = turnLine.parse(await core.logs.next("TURN", { call_id: "CA-cached" }));
    expect(turn.tts_cache_hit).toBe(true);
    expect(turn.TTS_READY_MS).toBeLessThanOrEqual(20);
    expect(call.marks()).toContain(`1.1:${hoursFirstSentence}`);
    await call.hangUp();
    const summary = callLine.parse(await core.logs.next("CALL", { call_id: "CA-cached" }));
    expect(summary.cache_hits).toBeGreaterThanOrEqual(2);
    // Only the answer's later sentences went to the service; the greeting and the first sentence did not.
    expect(core.emulators.tts.stats.requests - syntheses).toBe(summary.tts_syntheses);
  });
});

describe("the end of a call", () => {
  const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === "Timeout").length;

  it("stop mid-answer closes the recognition stream, aborts the LLM and leaves no timer behind", async () => {
    const { speech: stt, openai } = core.emulators;
    await until(() => stt.stats.streamsEnded === stt.stats.streamsOpened, "earlier streams to end");
    const baseline = timers();
    const call = await callWithGreetingHeard("CA-stop");
    const requests = openai.stats.requests;
    const cancelled = openai.stats.cancelled;
    await call.say(speech.get(HOURS_QUESTION)!, 300);
    await until(() => openai.stats.requests > requests, "the LLM request");
    call.key("7"); // stops the answer and leaves a keypad entry waiting for its timeout
    await call.hangUp();
    const summary = callLine.parse(await core.logs.next("CALL", { call_id: "CA-stop" }));
    expect(summary).toMatchObject({ end_reason: "stop", turns: 1, dtmf_turns: 0 });
    await until(() => stt.stats.streamsEnded === stt.stats.streamsOpened, "the call's recognition stream to end");
    await until(() => openai.stats.cancelled > cancelled || openai.stats.completed >= openai.stats.requests, "the LLM stream to end");
    expect(timers()).toBeLessThanOrEqual(baseline);
    expect(core.server.activeCalls()).toBe(0);
  });
});
