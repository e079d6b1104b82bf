// The core against slow services, through the real emulators. With a slowly streaming LLM and 2 s
// syntheses, a barge-in must cancel what is in flight (the emulators count the cancellations). With
// the recognizer's finals 1.5 s late, a final that misses STT_TIMEOUT_MS must neither hold the turn
// nor make a second one when it finally comes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bargeInLine, callLine, turnLine } from "@voice/protocol";
import type { EmulatorsOptions } from "../../../infra/local/emulators/index.js";
import { NO_SPECULATION, callerSpeech, startCore, until, type CoreUnderTest } from "../../testing/core-harness.js";

const BOOKING = "אפשר לקבוע תור למחר בבוקר?";
const HOURS = "שלום, מה שעות הפתיחה שלכם?";
const FINAL_DELAY_MS = 1500;

const speech = new Map<string, Uint8Array>();

beforeAll(async () => {
  for (const line of [BOOKING, HOURS]) speech.set(line, await callerSpeech(line));
});

/** A core (and emulators) for one describe block. */
function coreWith(emulators: EmulatorsOptions, env: Record<string, string> = {}): () => CoreUnderTest {
  let core: CoreUnderTest | undefined;
  beforeAll(async () => {
    // The tests count LLM requests per turn.
    core = await startCore({ emulators: { script: [BOOKING, HOURS], ...emulators }, env: { ...NO_SPECULATION, ...env } });
  });
  afterAll(async () => {
    await core?.close();
  });
  return () => core!;
}

/** True when `text` is `line` or a word-prefix of it: what a partial shows of the line. */
const isPartialOf = (text: string, line: string) => text !== "" && line.split(" ").join(" ").startsWith(text);

// Each describe block has its own core: they run side by side.
describe.concurrent("barge-in", () => {
  // The caller speaks again before hearing anything of the answer: with cut-off recovery on, that
  // would take the turn back (listening-recovery.test.ts, real-speech.test.ts); here it is a barge-in.
  const current = coreWith({ openai: { tokenIntervalMs: 200 }, tts: { latencyMs: 2000 } }, { CUTOFF_RECOVERY_MS: "0" });

  it("sends clear at once and cancels the LLM stream and the synthesis in flight", async ({ expect }) => {
    const core = current();
    const { openai, tts } = core.emulators;
    const call = await core.open("CA-cancel");
    call.begin(true);
    call.echo("greeting");
    const requests = openai.stats.requests;
    const syntheses = tts.stats.requests;
    const { cancelled } = openai.stats;
    const { cancellations } = tts.stats;

    await call.say(speech.get(BOOKING)!, 300);
    // The answer's first sentence is being synthesized while the LLM is still writing the rest.
    await until(() => tts.stats.requests > syntheses, "the first sentence's synthesis");
    expect(openai.stats.requests).toBe(requests + 1);
    expect(openai.stats.completed).toBeLessThan(openai.stats.requests);

    // The caller talks over it.
    void call.say(speech.get(HOURS)!, 0);
    await call.next((frame) => frame.event === "clear");
    const bargeIn = bargeInLine.parse(await core.logs.next("BARGE_IN", { call_id: "CA-cancel" }));
    expect(bargeIn).toMatchObject({ turn: 1, reason: "words", heard_sentences: 0 });
    expect(bargeIn.detect_to_clear_ms).toBeLessThan(50);
    // Decided on the caller's audio clock once BARGE_IN_MIN_MS of speech was voiced, and soon after.
    expect(bargeIn.voiced_ms).toBeGreaterThanOrEqual(core.app.config.BARGE_IN_MIN_MS);
    expect(bargeIn.audio_ms - bargeIn.speech_start_audio_ms!).toBeLessThan(1000);
    await until(() => openai.stats.cancelled > cancelled, "the LLM stream's cancellation");
    await until(() => tts.stats.cancellations > cancellations, "the synthesis's cancellation");

    const first = turnLine.parse(await core.logs.next("TURN", { call_id: "CA-cancel", turn: 1 }));
    expect(first).toMatchObject({ interrupted: true, answer_sentences: 0 });
    expect(first.TOTAL_LATENCY_MS).toBeUndefined();
    await call.hangUp();
  });
});

describe.concurrent("a final that comes too late", () => {
  const current = coreWith({ speech: { finalDelayMs: FINAL_DELAY_MS } });

  it("the turn uses the partial after STT_TIMEOUT_MS, and the late final makes no second turn", async ({ expect }) => {
    const core = current();
    const { openai, speech: stt } = core.emulators;
    const call = await core.open("CA-late-final");
    call.begin(true);
    call.echo("greeting");
    const requests = openai.stats.requests;
    const finals = stt.stats.finalsSent;

    await call.say(speech.get(BOOKING)!, 300);
    const first = turnLine.parse(await core.logs.next("TURN", { call_id: "CA-late-final", turn: 1 }));
    expect(first.stt_used_partial).toBe(true);
    expect(isPartialOf(first.transcript, BOOKING)).toBe(true);
    // The final was awaited STT_TIMEOUT_MS after the end of the utterance, no longer.
    const waited = first.STT_FINAL_MS! - first.EOU_MS;
    expect(waited).toBeGreaterThanOrEqual(core.app.config.STT_TIMEOUT_MS - 2);
    expect(waited).toBeLessThan(core.app.config.STT_TIMEOUT_MS + 1000); // a busy machine fires timers late

    // The final arrives long after the turn started; then the caller asks something else.
    await until(() => stt.stats.finalsSent > finals, "the late final");
    await call.say(speech.get(HOURS)!, 300);
    await until(() => openai.stats.requests === requests + 2, "the second question's LLM request");
    const userMessages = openai.stats.lastMessages.filter((m) => m.role === "user").map((m) => String(m.content));
    expect(userMessages).toHaveLength(2);
    expect(isPartialOf(userMessages[0]!, BOOKING)).toBe(true);
    expect(isPartialOf(userMessages[1]!, HOURS)).toBe(true);

    await call.hangUp();
    expect(callLine.parse(await core.logs.next("CALL", { call_id: "CA-late-final" }))).toMatchObject({ turns: 2 });
    expect(core.logs.find("TURN", { call_id: "CA-late-final" }).map((line) => line.turn)).toEqual([1, 2]);
  });
});
