// Turn-taking as a caller notices it, through the whole stack (simulator -> edge in workerd -> core
// process -> emulators): one scripted call in which the caller coughs and says "כן" over a long
// answer (neither interrupts it), then talks over it for real (barge-in), presses keys, gets no
// final from STT for one question, and ends on an answer the TTS cache already holds.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bargeInLine, callLine, turnLine, type TurnLine } from "@voice/protocol";
import { LOCAL_SECRETS, startStack, type Stack } from "../local/stack.js";
import { runCall } from "../sim/call.js";
import type { CallReport } from "../sim/report.js";
import type { CallerScript } from "../sim/script.js";

const LONG_QUESTION = "ספר לי על המרפאה";
const HOURS_QUESTION = "רגע, מה שעות הפתיחה שלכם?";
const APPOINTMENT_QUESTION = "אפשר לקבוע תור למחר בבוקר?";
const GOODBYE = "תודה רבה, להתראות";
/** The chat emulator's answer to GOODBYE, made a fixed phrase so warmup puts it in the TTS cache. */
const GOODBYE_ANSWER = "תודה שהתקשרת, יום נעים ולהתראות!";

/** How long after the clear reaches the caller a stream the core aborted may still finish on its own. */
const ABORT_RACE_MS = 500;

const caller: CallerScript = {
  language: "he-IL",
  voice: "he",
  lines: [
    LONG_QUESTION,
    // Over the long answer, timed from when it started playing:
    { noiseMs: 150, interruptAfterMs: 800 },
    { text: "כן", interruptAfterMs: 2000, expectAnswer: false },
    { text: HOURS_QUESTION, interruptAfterMs: 3000 },
    { dtmf: "1234#" },
    APPOINTMENT_QUESTION,
    GOODBYE,
  ],
};

let stack: Stack;
let report: CallReport;

beforeAll(async () => {
  stack = await startStack({
    emulators: {
      // What the speech emulator "recognises", utterance by utterance (the cough is too short to be one).
      script: [LONG_QUESTION, "כן", HOURS_QUESTION, { text: APPOINTMENT_QUESTION, withholdFinal: true }, GOODBYE],
      // A slow LLM (about 3 words a second, as fast as eSpeak speaks them): the long answer is still
      // streaming when the caller talks over it.
      openai: { tokenIntervalMs: 300 },
    },
    coreEnv: { FIXED_PHRASES: JSON.stringify({ goodbye: GOODBYE_ANSWER }) },
  });
  report = await runCall({ url: stack.edge.url, authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN, script: caller, timeoutMs: 25_000 });
  // The core writes its CALL line when the call ends; wait for it to come through its stdout.
  await new Promise<void>((resolve) => {
    const ended = () => stack.core.lines.some((l) => l.json?.message === "CALL" && l.json.call_id === report.call_sid);
    if (ended()) return resolve();
    stack.core.onLine(() => ended() && resolve());
  });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
});

const logged = <T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } }) =>
  stack.core.lines.flatMap((line) => {
    const parsed = schema.safeParse(line.json);
    return parsed.success && (parsed.data as { call_id?: string }).call_id === report.call_sid ? [parsed.data] : [];
  });

describe("turn-taking through edge, core and emulators", () => {
  it("completes the scripted call without errors", () => {
    expect(report.errors).toEqual([]);
    expect(report.turns).toHaveLength(caller.lines.length);
  });

  it("starts speaking a long answer before the LLM has finished streaming it", () => {
    const long = stack.emulators.openai.stats.completions.find((c) => c.messages.at(-1)?.content === LONG_QUESTION);
    const firstHeard = report.turns[0]!.first_answer_at;
    expect(long).toBeDefined();
    expect(firstHeard).not.toBeNull();
    // Cancelled by the barge-in, or finished: either way the caller heard it before the stream ended.
    const streamEnd = long!.endedAt ?? Number.POSITIVE_INFINITY;
    expect(firstHeard!).toBeLessThan(streamEnd);
  });

  it("lets neither a cough nor a backchannel interrupt the answer, nor become a turn", () => {
    const [, cough, yes] = report.turns;
    expect(cough!.interrupted_previous).toBe(false);
    expect(yes!.interrupted_previous).toBe(false);
    expect(report.clears).toHaveLength(1);
    const transcripts = logged(turnLine).map((line) => line.transcript);
    expect(transcripts).not.toContain("כן");
    expect(logged(callLine)[0]?.backchannels).toBe(1);
  });

  it("stops at once when the caller really talks over the answer, and aborts the LLM stream", async () => {
    const bargeIn = report.turns[3]!;
    expect(bargeIn.interrupted_previous).toBe(true);
    const [line] = logged(bargeInLine);
    expect(line).toBeDefined();
    // On the caller's audio clock: the clear reached the caller within 100 ms of the decision.
    expect(bargeIn.clear_audio_ms! - line!.audio_ms).toBeLessThanOrEqual(100);
    expect(bargeIn.clear_audio_ms! - line!.audio_ms).toBeGreaterThanOrEqual(0);
    // The LLM is slow enough that its stream normally still runs seconds past the barge-in, and then
    // it must be cancelled. On a loaded machine the stream may end about when the clear reaches the
    // caller (the core aborts right after sending `clear`, the last tokens may already be on their
    // way); a stream that went on well past the clear without being cancelled was never aborted.
    const long = stack.emulators.openai.stats.completions.find((c) => c.messages.at(-1)?.content === LONG_QUESTION)!;
    if (!long.cancelled) expect(long.endedAt).toBeLessThan(report.clears[0]!.at + ABORT_RACE_MS);
  });

  it("keeps in the history only what the caller heard of the interrupted answer", () => {
    const next = stack.emulators.openai.stats.completions.find((c) => c.messages.at(-1)?.content === HOURS_QUESTION);
    const messages = next!.messages.map((m) => ({ role: m.role, content: m.content }));
    const afterLong = messages[messages.findIndex((m) => m.content === LONG_QUESTION) + 1];
    // Sentences the caller heard to the end before talking over the answer (a mark tells each).
    const heard = report.turns[0]!.agent_text;
    if (heard === "") expect(afterLong).toEqual({ role: "user", content: HOURS_QUESTION });
    else expect(afterLong).toEqual({ role: "assistant", content: heard });
    const long = stack.emulators.openai.stats.completions.find((c) => c.messages.at(-1)?.content === LONG_QUESTION);
    expect(heard.length).toBeLessThan(long!.answer.length);
  });

  it("hands keypad digits to the LLM as text and answers them", () => {
    const keypad = stack.emulators.openai.stats.completions.find((c) => String(c.messages.at(-1)?.content).startsWith("[keypad]"));
    expect(keypad).toBeDefined();
    expect(report.turns[4]!.agent_text).toContain("1234");
  });

  it("answers from the latest partial when no final comes within STT_TIMEOUT_MS, once", () => {
    const lines = logged(turnLine).filter((line) => line.transcript.length > 0 && APPOINTMENT_QUESTION.startsWith(line.transcript.split(" ")[0]!));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.stt_used_partial).toBe(true);
    expect(report.turns[5]!.agent_audio_ms).toBeGreaterThan(500);
  });

  it("speaks a phrase warmed into the TTS cache with no synthesis wait", () => {
    const last = logged(turnLine).at(-1) as TurnLine;
    expect(last.transcript).toBe(GOODBYE);
    expect(last.tts_cache_hit).toBe(true);
    expect(last.TTS_READY_MS).toBeLessThanOrEqual(5);
  });

  it("writes one TURN line per answered turn, each matching the schema, and one CALL line", () => {
    const raw = stack.core.lines.filter((l) => l.json?.message === "TURN" && l.json.call_id === report.call_sid);
    for (const line of raw) expect(turnLine.safeParse(line.json).success, line.text).toBe(true);
    // long question, opening hours, keypad, appointment, goodbye
    expect(raw).toHaveLength(5);
    expect(logged(callLine)).toHaveLength(1);
  });
});
