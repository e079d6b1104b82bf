// Speculative answers: the decisions alone (pure), then through the real emulators on loopback. The
// emulators hold their latencies fixed (final 200 ms late, LLM first token 400 ms, TTS 400 ms, no TTS
// cache), so an answer prepared on the partial shows up as a turn faster than its own parts added up.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { turnLine, type TurnLine } from "@voice/protocol";
import { answerFor } from "../../../infra/local/emulators/chat-answers.js";
import type { EmulatorsOptions } from "../../../infra/local/emulators/index.js";
import { SentenceSplitter } from "../llm/sentences.js";
import { PAUSE_MS, SpeculationTrigger, normaliseTranscript, speculationMismatch, type SpeculationSettings } from "./speculation.js";
import { NO_SPECULATION, callerSpeech, startCore, until, type CoreUnderTest, type EdgeLink } from "../../testing/core-harness.js";

const HOURS = "שלום, מה שעות הפתיחה שלכם?";
const THANKS = "תודה רבה, להתראות";
const BOOKING = "אפשר לקבוע תור למחר בבוקר?";

describe("deciding", () => {
  const settings: SpeculationSettings = { enabled: true, stableMs: 300, stableVoicedMs: 600, maxPerUtterance: 2 };

  it("normalises away case, punctuation and spacing, nothing else", () => {
    expect(normaliseTranscript("  Hello,   World! ")).toBe(normaliseTranscript("hello world"));
    expect(normaliseTranscript("שלום, מה שעות הפתיחה שלכם?")).toBe("שלום מה שעות הפתיחה שלכם");
    expect(normaliseTranscript('ד"ר כהן')).toBe(normaliseTranscript("ד״ר כהן"));
    expect(normaliseTranscript("מה שעות הפתיחה")).not.toBe(normaliseTranscript("מה שעות הפתיחה שלכם"));
  });

  it("speculates once the transcript held SPECULATE_STABLE_MS after a pause, or SPECULATE_STABLE_VOICED_MS while the voice goes on", () => {
    const trigger = new SpeculationTrigger(settings);
    expect(trigger.heard("מה שעות", 1000)).toBe(false);
    expect(trigger.due(1280, PAUSE_MS)).toBeUndefined();
    expect(trigger.due(1300, PAUSE_MS - 20)).toBeUndefined(); // one unvoiced frame is not a pause
    expect(trigger.due(1300, PAUSE_MS)).toBe("מה שעות");
    expect(trigger.due(1580, 0)).toBeUndefined();
    expect(trigger.due(1600, 0)).toBe("מה שעות");
    // A repeat, or a change of punctuation only, is the same transcript: the clock keeps running.
    expect(trigger.heard("מה, שעות", 1500)).toBe(false);
    expect(trigger.due(1600, 0)).toBe("מה שעות");
  });

  it("a new transcript voids the running speculation; the budget caps them per utterance", () => {
    const trigger = new SpeculationTrigger(settings);
    trigger.heard("מה", 0);
    trigger.began();
    expect(trigger.due(5000, 100)).toBeUndefined(); // one at a time
    expect(trigger.heard("מה שעות", 400)).toBe(true);
    expect(trigger.due(700, 100)).toBe("מה שעות");
    trigger.began();
    trigger.heard("מה שעות הפתיחה", 900);
    expect(trigger.due(5000, 100)).toBeUndefined(); // two of two spent
    trigger.reset();
    trigger.heard("תודה", 0);
    expect(trigger.due(300, 100)).toBe("תודה");
    expect(new SpeculationTrigger({ ...settings, enabled: false }).due(5000, 5000)).toBeUndefined();
  });

  it("a speculation answers the turn only for the same words, the same conversation and the same turn number", () => {
    const history = [{ role: "assistant" as const, content: "שלום" }];
    const basis = { text: "מה שעות הפתיחה", history, turn: 2 };
    expect(speculationMismatch(basis, { transcript: "מה שעות הפתיחה?", history: [...history], turn: 2 })).toBeUndefined();
    expect(speculationMismatch(basis, { transcript: "מה שעות הפתיחה מחר?", history, turn: 2 })).toMatch(/transcript/);
    expect(speculationMismatch(basis, { transcript: "מה שעות הפתיחה", history, turn: 3 })).toMatch(/turn/);
    expect(speculationMismatch(basis, { transcript: "מה שעות הפתיחה", history: [{ role: "assistant", content: "של" }], turn: 2 })).toMatch(/conversation/);
  });
});

/** Fixed latencies: the final 200 ms after the recognizer's 300 ms of silence, LLM first token 400 ms, TTS 400 ms, nothing cached. */
const FIXED: EmulatorsOptions = {
  speech: { finalDelayMs: 200 },
  openai: { firstTokenMs: 400, tokenIntervalMs: 10 },
  tts: { latencyMs: 400 },
};
const FIXED_ENV = { STT_TIMEOUT_MS: "1000", TTS_CACHE_MAX_BYTES: "1" };

/** The sentences of the emulator's answer to `question`, as the core splits them. */
function sentencesOf(question: string): string[] {
  const splitter = new SentenceSplitter("he-IL");
  return [...splitter.push(answerFor(question)), ...splitter.flush()];
}

function completionsOf(core: CoreUnderTest, callSid: string) {
  return core.emulators.openai.stats.completions.filter((completion) => completion.callId === callSid);
}

const lastUserText = (messages: { role: string; content?: unknown }[]) => String(messages.filter((m) => m.role === "user").at(-1)?.content);

/** Sentences of the turn's marks, in order. */
function markedSentences(call: EdgeLink, turn: number): string[] {
  return call.marks().flatMap((name) => (name.startsWith(`${turn}.`) && name.includes(":") ? [name.slice(name.indexOf(":") + 1)] : []));
}

describe("through the emulators", () => {
  let on: CoreUnderTest;
  let off: CoreUnderTest;
  let revised: CoreUnderTest;
  const speech = new Map<string, Uint8Array>();

  beforeAll(async () => {
    [on, off, revised] = await Promise.all([
      startCore({ emulators: { ...FIXED, script: [HOURS, THANKS] }, env: FIXED_ENV }),
      startCore({ emulators: { ...FIXED, script: [HOURS, THANKS] }, env: { ...FIXED_ENV, ...NO_SPECULATION } }),
      // The recognizer reads the caller's booking question as the hours question until its final.
      startCore({ emulators: { ...FIXED, openai: { ...FIXED.openai, tokenIntervalMs: 100 }, script: [{ text: BOOKING, partials: HOURS }] }, env: FIXED_ENV }),
    ]);
    for (const line of [HOURS, THANKS, BOOKING]) speech.set(line, await callerSpeech(line));
  });

  afterAll(async () => {
    await Promise.all([on?.close(), off?.close(), revised?.close()]);
  });

  async function callWithGreetingHeard(core: CoreUnderTest, callSid: string): Promise<EdgeLink> {
    const call = await core.open(callSid);
    call.begin(true);
    call.echo("greeting");
    return call;
  }

  /** The caller asks the hours question; resolves with the TURN line and when the last frame of speech was sent. */
  async function askHours(core: CoreUnderTest, callSid: string): Promise<{ call: EdgeLink; turn: TurnLine; speechEndAt: number }> {
    const call = await callWithGreetingHeard(core, callSid);
    await call.say(speech.get(HOURS)!, 300);
    const speechEndAt = performance.now();
    const turn = turnLine.parse(await core.logs.next("TURN", { call_id: callSid, turn: 1 }));
    return { call, turn, speechEndAt };
  }

  it("a turn whose partial held before the end is answered from the speculation, sooner than its parts add up and than without it", async () => {
    const [used, plain] = await Promise.all([askHours(on, "CA-spec-used"), askHours(off, "CA-spec-off")]);

    expect(used.turn).toMatchObject({ transcript: HOURS, speculation: "used", interrupted: false });
    expect(plain.turn).toMatchObject({ transcript: HOURS, speculation: "none" });
    // The LLM request went out before the final transcript came (the emulator's clock is the test's).
    const request = completionsOf(on, "CA-spec-used").find((completion) => !completion.cancelled)!;
    expect(lastUserText(request.messages)).toBe(HOURS);
    expect(request.startedAt - used.speechEndAt).toBeLessThan(used.turn.STT_FINAL_MS! - 100);
    // Speech end to first frame is shorter than final + first token + TTS, which the answer without speculation pays.
    const { STT_FINAL_MS, LLM_FIRST_TOKEN_MS, TTS_READY_MS, TOTAL_LATENCY_MS } = used.turn;
    expect(TOTAL_LATENCY_MS!).toBeLessThan(STT_FINAL_MS! + LLM_FIRST_TOKEN_MS! + TTS_READY_MS! - 100);
    expect(plain.turn.TOTAL_LATENCY_MS!).toBeGreaterThan(plain.turn.STT_FINAL_MS! + plain.turn.LLM_FIRST_TOKEN_MS! + plain.turn.TTS_READY_MS!);
    expect(TOTAL_LATENCY_MS!).toBeLessThan(plain.turn.TOTAL_LATENCY_MS! - 150);
    // The caller hears the whole answer, and only it goes into the history.
    await used.call.mark("1.end");
    expect(markedSentences(used.call, 1)).toEqual(sentencesOf(HOURS));
    await until(() => used.call.states.at(-1)?.history.length === 3, "the answer in the state");
    expect(used.call.states.at(-1)!.history).toEqual([
      { role: "assistant", content: expect.any(String) },
      { role: "user", content: HOURS },
      { role: "assistant", content: sentencesOf(HOURS).join(" ") },
    ]);
    await Promise.all([used.call.hangUp(), plain.call.hangUp()]);
  });

  // The test above compares latencies and runs alone. The rest run side by side: each checks only its
  // own call, and the last is the only one then calling `off`, whose connections it counts.
  it.concurrent("a final that differs from the stable partial: the speculation is cancelled, the caller hears only the answer to the final", async ({ expect }) => {
    const call = await callWithGreetingHeard(revised, "CA-spec-revised");
    await call.say(speech.get(BOOKING)!, 300);
    const turn = turnLine.parse(await revised.logs.next("TURN", { call_id: "CA-spec-revised", turn: 1 }));
    expect(turn).toMatchObject({ transcript: BOOKING, speculation: "discarded" });

    const completions = completionsOf(revised, "CA-spec-revised");
    const speculated = completions.filter((completion) => lastUserText(completion.messages) !== BOOKING);
    expect(speculated.length).toBeGreaterThanOrEqual(1);
    for (const completion of speculated) expect(HOURS.startsWith(lastUserText(completion.messages))).toBe(true);
    // Still streaming when the final came (100 ms a token): it was cut off, not left to run.
    await until(() => speculated.every((completion) => completion.cancelled), "the speculative completions' cancellation");

    await call.mark("1.end");
    expect(markedSentences(call, 1)).toEqual(sentencesOf(BOOKING));
    const answer = completions.find((completion) => lastUserText(completion.messages) === BOOKING)!;
    expect(answer.messages.map((m) => m.content)).not.toContain(HOURS);
    await until(() => call.states.at(-1)?.history.length === 3, "the answer in the state");
    const history = call.states.at(-1)!.history;
    expect(history.slice(1)).toEqual([
      { role: "user", content: BOOKING },
      { role: "assistant", content: sentencesOf(BOOKING).join(" ") },
    ]);
    expect(JSON.stringify(call.states)).not.toContain(answerFor(HOURS).slice(0, 20));
    await call.hangUp();
  });

  it.concurrent("hanging up during a speculation cancels it: no turn, nothing sent", async ({ expect }) => {
    const call = await callWithGreetingHeard(on, "CA-spec-hangup");
    await call.say(speech.get(HOURS)!, 300);
    await until(() => completionsOf(on, "CA-spec-hangup").length > 0, "the speculative LLM request");
    await call.hangUp();
    await until(() => completionsOf(on, "CA-spec-hangup").every((completion) => completion.cancelled), "its cancellation");
    expect(await on.logs.next("CALL", { call_id: "CA-spec-hangup" })).toMatchObject({ turns: 0 });
    expect(on.logs.find("TURN", { call_id: "CA-spec-hangup" })).toEqual([]);
    expect(call.received.filter((frame) => frame.event === "media" || frame.event === "mark")).toEqual([]);
  });

  it.concurrent("a key pressed during a speculation cancels it; the spoken turn is still answered, after the keypad turn", async ({ expect }) => {
    const call = await callWithGreetingHeard(on, "CA-spec-key");
    await call.say(speech.get(HOURS)!, 300);
    await until(() => completionsOf(on, "CA-spec-key").length > 0, "the speculative LLM request");
    call.key("5");
    call.key("#");
    const [speculative] = completionsOf(on, "CA-spec-key");
    await until(() => speculative!.cancelled, "the speculation's cancellation");
    const keypad = turnLine.parse(await on.logs.next("TURN", { call_id: "CA-spec-key", turn: 1 }));
    expect(keypad).toMatchObject({ input: "dtmf", speculation: "none" });
    const spoken = turnLine.parse(await on.logs.next("TURN", { call_id: "CA-spec-key", turn: 2 }));
    expect(spoken).toMatchObject({ input: "speech", transcript: HOURS, speculation: "discarded" });
    await call.mark("2.end");
    expect(markedSentences(call, 2)).toEqual(sentencesOf(HOURS));
    await call.hangUp();
  });

  it.concurrent("keeps the LLM connection: two turns more than 5 s apart use one TCP connection", async ({ expect }) => {
    const { openai } = off.emulators;
    const connections = openai.stats.connections;
    const call = await callWithGreetingHeard(off, "CA-warm");
    await call.say(speech.get(HOURS)!, 300);
    await call.echoOf("1.end");
    await call.say(speech.get(THANKS)!, 300);
    await call.mark("2.end");
    const [first, second] = completionsOf(off, "CA-warm");
    // Idle longer than Node's fetch keeps a connection (4 s).
    expect(second!.startedAt - first!.endedAt!).toBeGreaterThan(5000);
    expect(openai.stats.connections).toBe(connections);
    await call.hangUp();
  });
});
