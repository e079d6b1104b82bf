// The LLM and TTS misbehaving, through the real emulators. An LLM request that fails (429, 500, 503,
// a cut stream) or stalls (no first token within LLM_FIRST_TOKEN_TIMEOUT_MS) is retried once while
// nothing was spoken; then, or when something was, the caller hears FIXED_PHRASES.answer_error
// instead of silence. A synthesis that fails (an error, or TTS_TIMEOUT_MS) is retried once; then the
// sentence is replaced by the same phrase from the cache and the answer ends there.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import type { ChatFault } from "../../../infra/local/emulators/index.js";
import { DEFAULT_FIXED_PHRASES as PHRASES } from "../config.js";
import { NO_SPECULATION, callerSpeech, converse, startCore, type CoreUnderTest, type EdgeLink } from "../../testing/core-harness.js";

const HOURS = "שלום, מה שעות הפתיחה שלכם?";
const BOOKING = "אפשר לקבוע תור למחר בבוקר?";
/** A thank-you that is not a goodbye (after a goodbye the agent ends the call: call-control.test.ts). */
const THANKS = "תודה רבה על העזרה שלך";
/** Short deadlines, so the stall cases take a second each. */
const DEADLINE_MS = 1000;

let llmCore: CoreUnderTest;
let ttsCore: CoreUnderTest;
const speech = new Map<string, Uint8Array>();

beforeAll(async () => {
  // Each fault goes to the next request: a speculative one (on a partial) would take it instead of the turn's.
  const env = { ...NO_SPECULATION, LLM_FIRST_TOKEN_TIMEOUT_MS: String(DEADLINE_MS), TTS_TIMEOUT_MS: String(DEADLINE_MS) };
  [llmCore, ttsCore] = await Promise.all([
    startCore({ emulators: { script: [HOURS] }, env }),
    startCore({ emulators: { script: [HOURS, BOOKING, THANKS] }, env }),
    ...[HOURS, BOOKING, THANKS].map(async (line) => speech.set(line, await callerSpeech(line))),
  ]);
});

afterAll(async () => {
  await Promise.all([llmCore?.close(), ttsCore?.close()]);
});

const turnOf = (core: CoreUnderTest, callSid: string, turn: number) => core.logs.find("TURN", { call_id: callSid, turn })[0];
const marksOf = (call: EdgeLink, turn: number) => call.marks().filter((mark) => mark.startsWith(`${turn}.`));

interface LlmCase {
  name: string;
  faults: ChatFault[];
  /** What the caller hears for the line. */
  heard: "answer" | "apology" | "part and apology";
}

const LLM_CASES: LlmCase[] = [
  { name: "500", faults: [{ kind: "http", status: 500 }], heard: "answer" },
  { name: "429", faults: [{ kind: "http", status: 429, retryAfterSeconds: 5 }], heard: "answer" },
  { name: "503", faults: [{ kind: "http", status: 503 }], heard: "answer" },
  { name: "cut before a sentence", faults: [{ kind: "cut", afterTokens: 2 }], heard: "answer" },
  { name: "stall after headers", faults: [{ kind: "stall", afterHeaders: true }], heard: "answer" },
  { name: "stall before headers", faults: [{ kind: "stall" }], heard: "answer" },
  { name: "500 twice", faults: [{ kind: "http", status: 500 }, { kind: "http", status: 500 }], heard: "apology" },
  // The first sentence ("...בערב.") is out once the next one has begun: it was spoken, so no retry.
  { name: "cut after a sentence", faults: [{ kind: "cut", afterTokens: 13 }], heard: "part and apology" },
];

// Each test calls its own core: they run side by side.
describe.concurrent("the LLM failing", () => {
  it("is retried once while nothing was spoken, then the caller hears the apology phrase, never silence", async ({ expect }) => {
    const { emulators, logs } = llmCore;
    const callSid = (c: LlmCase) => `CA-llm-${c.name.replaceAll(" ", "-")}`;
    for (const c of LLM_CASES) for (const fault of c.faults) emulators.openai.injectChatFault(fault, { callId: callSid(c), times: 1 });
    const requestsBefore = emulators.openai.stats.requests;
    const calls = await Promise.all(LLM_CASES.map((c) => llmCore.open(callSid(c))));
    await Promise.all(
      calls.map(async (call) => {
        call.begin(true);
        call.echo("greeting");
        await converse(call, [speech.get(HOURS)!]);
        await call.hangUp();
      }),
    );

    for (const [i, c] of LLM_CASES.entries()) {
      const call = calls[i]!;
      const id = callSid(c);
      expect(call.closedByCore, c.name).toBe(false);
      const retried = c.heard !== "part and apology";
      const retries = logs.find("LLM failed; retrying", { call_id: id });
      expect(retries, c.name).toHaveLength(retried ? 1 : 0);
      if (retried) expect(retries[0], c.name).toMatchObject({ attempt: 1, stalled: c.faults[0]!.kind === "stall" });
      const turn = turnOf(llmCore, id, 1)!;
      expect(turn, c.name).toMatchObject({ transcript: HOURS, retries: retried ? 1 : 0, fallbacks: c.heard === "answer" ? 0 : 1, interrupted: false });
      const marks = marksOf(call, 1);
      if (c.heard === "answer") {
        expect(marks, c.name).toEqual([expect.stringMatching(/^1\.1:אנחנו פתוחים/), expect.stringMatching(/^1\.2:ביום שישי/), "1.end"]);
        expect(turn.LLM_FIRST_TOKEN_MS, c.name).toEqual(expect.any(Number));
      } else if (c.heard === "apology") {
        expect(marks, c.name).toEqual([`1.1:${PHRASES.answer_error}`, "1.end"]);
        expect(logs.find("LLM failed; speaking the fallback phrase", { call_id: id }), c.name).toHaveLength(1);
      } else {
        expect(marks, c.name).toEqual([expect.stringMatching(/^1\.1:אנחנו פתוחים/), `1.2:${PHRASES.answer_error}`, "1.end"]);
      }
      // A stall costs the deadline, not more: the retry went out as soon as it passed.
      if (c.faults[0]!.kind === "stall") expect(turn.TOTAL_LATENCY_MS, c.name).toBeLessThan(DEADLINE_MS + 4000);
      expect(logs.find("CALL", { call_id: id })[0], c.name).toMatchObject({ end_reason: "stop", retries: retried ? 1 : 0 });
    }
    // One request per attempt: the SDK retried nothing itself (429's retry-after included).
    const attempts = LLM_CASES.reduce((sum, c) => sum + (c.heard === "part and apology" ? 1 : 2), 0);
    expect(emulators.openai.stats.requests - requestsBefore).toBe(attempts);
    for (const completion of emulators.openai.stats.completions.filter((c) => c.messages[0]?.role === "system")) {
      expect(completion.messages.filter((m) => m.role === "user").map((m) => m.content)).toEqual([HOURS]);
    }
  });
});

describe.concurrent("TTS failing", () => {
  it("is retried once (a deadline counts as a failure), then the sentence is replaced by the apology phrase", async ({ expect }) => {
    const { emulators, logs } = ttsCore;
    const call = await ttsCore.open("CA-tts-faults");
    // Four times real time: this caller waits for each answer to play.
    call.begin(true, { speed: 4 });
    call.echo("greeting");
    const say = async (line: string, turn: number) => {
      await call.say(speech.get(line)!, 600);
      await call.mark(`${turn}.end`);
      await call.echoOf(`${turn}.end`);
    };

    // 1. The first sentence's synthesis fails once.
    emulators.tts.injectFault({ code: status.UNAVAILABLE }, { times: 1 });
    await say(HOURS, 1);
    expect(marksOf(call, 1)).toEqual([expect.stringMatching(/^1\.1:אנחנו פתוחים/), expect.stringMatching(/^1\.2:ביום שישי/), "1.end"]);
    expect(turnOf(ttsCore, call.callSid, 1)).toMatchObject({ retries: 1, fallbacks: 0, tts_failures: 0, answer_sentences: 2 });

    // 2. It fails twice: the apology from the cache in its place, and the answer ends there.
    emulators.tts.injectFault({ code: status.INTERNAL }, { times: 2 });
    await say(BOOKING, 2);
    expect(marksOf(call, 2)).toEqual([`2.1:${PHRASES.answer_error}`, "2.end"]);
    expect(turnOf(ttsCore, call.callSid, 2)).toMatchObject({ retries: 1, fallbacks: 1, tts_failures: 1, answer_sentences: 1, tts_cache_hit: true });
    expect(logs.find("TTS failed; speaking the fallback phrase", { call_id: call.callSid })).toEqual([
      expect.objectContaining({ turn: 2, sentence: "בשמחה." }),
    ]);

    // 3. The service does not answer: TTS_TIMEOUT_MS ends the request, and the retry gets the audio.
    emulators.tts.injectFault({ kind: "stall" }, { times: 1 });
    await call.say(speech.get(THANKS)!, 600);
    await call.mark("3.end");
    expect(marksOf(call, 3)).toEqual([expect.stringMatching(/^3\.1:תודה שהתקשרת/), "3.end"]);
    expect(turnOf(ttsCore, call.callSid, 3)).toMatchObject({ retries: 1, fallbacks: 0 });
    const retries = logs.find("TTS failed; retrying", { call_id: call.callSid });
    expect(retries.map((line) => line.turn)).toEqual([1, 2, 3]);
    expect(retries[2]!.error).toMatch(/DEADLINE_EXCEEDED/);

    await call.hangUp();
    expect(call.closedByCore).toBe(false);
    expect(logs.find("CALL", { call_id: call.callSid })[0]).toMatchObject({ turns: 3, retries: 3, fallbacks: 1 });
    // The model saw each line once, and what the caller heard of the cut answer (the apology).
    const last = emulators.openai.stats.completions.at(-1)!;
    expect(last.messages.filter((m) => m.role === "user").map((m) => m.content)).toEqual([HOURS, BOOKING, THANKS]);
  });
});
