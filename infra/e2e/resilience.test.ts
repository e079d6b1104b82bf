// Resilience as a caller notices it, through the whole stack: calls run side by side against one
// stack while the emulators misbehave towards one call each (faults aimed by the call's x-call-id),
// and every recognition stream is cut at 10 s of audio, as Google cuts at 305 s. Each call must stay
// up, every utterance must get an answer (or the defined apology), and no utterance may be lost or
// reach the LLM twice.
import * as grpc from "@grpc/grpc-js";
import { isSummaryRequest } from "../local/emulators/chat-summary.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { turnLine } from "@voice/protocol";
import { LOCAL_SECRETS, startStack, type Stack } from "../local/stack.js";
import { runCall } from "../sim/call.js";
import type { CallReport } from "../sim/report.js";
import { DEFAULT_SCRIPT_PATH, loadCallerScript, type CallerScript } from "../sim/script.js";
import { newSid } from "../sim/twilio-client.js";

/** Stream audio before the caller's first words end: the greeting (~3.5 s), a pause, then ~2.4 s of speech. */
const MID_FIRST_UTTERANCE_MS = 5_000;
const STT_TROUBLE = "יש תקלה רגעית בזיהוי";
/** FIXED_PHRASES.answer_error and .stt_failed: the defined apologies. */
const ANSWER_ERROR = "סליחה, משהו השתבש אצלי";
const STT_FAILED = "סליחה, לא הצלחתי לשמוע";

interface Scenario {
  name: string;
  lines: number;
  inject(stack: Stack, callSid: string): void;
  /** The first utterance gets this apology instead of an answer, and its text never reaches the LLM. */
  apology?: string;
}

const speechFault = (fault: Parameters<Stack["emulators"]["speech"]["injectFault"]>[0], times = 1) => (stack: Stack, callId: string) =>
  stack.emulators.speech.injectFault(fault, { callId, times });
const chatFault = (fault: Parameters<Stack["emulators"]["openai"]["injectChatFault"]>[0], times = 1) => (stack: Stack, callId: string) =>
  stack.emulators.openai.injectChatFault(fault, { callId, times });

const scenarios: Scenario[] = [
  { name: "STT UNAVAILABLE mid-utterance", lines: 2, inject: speechFault({ code: grpc.status.UNAVAILABLE, afterAudioMs: MID_FIRST_UTTERANCE_MS }) },
  { name: "STT stream reset (RST_STREAM)", lines: 2, inject: speechFault({ kind: "reset", afterAudioMs: MID_FIRST_UTTERANCE_MS }) },
  {
    name: "STT INTERNAL, then DEADLINE_EXCEEDED on the new stream",
    lines: 2,
    inject: (stack, callId) => {
      stack.emulators.speech.injectFault({ code: grpc.status.INTERNAL, afterAudioMs: MID_FIRST_UTTERANCE_MS }, { callId });
      stack.emulators.speech.injectFault({ code: grpc.status.DEADLINE_EXCEEDED, afterAudioMs: 400 }, { callId });
    },
  },
  { name: "STT 305 s duration limit (OUT_OF_RANGE)", lines: 2, inject: speechFault({ code: grpc.status.OUT_OF_RANGE, afterAudioMs: MID_FIRST_UTTERANCE_MS }) },
  {
    name: "STT outage: retries exhausted, the Whisper fallback answers",
    lines: 2,
    inject: (stack, callId) => {
      stack.emulators.speech.injectFault({ code: grpc.status.UNAVAILABLE, afterAudioMs: MID_FIRST_UTTERANCE_MS }, { callId });
      stack.emulators.speech.injectFault({ code: grpc.status.UNAVAILABLE }, { callId, times: 4 });
    },
  },
  { name: "LLM 503 once", lines: 2, inject: chatFault({ kind: "http", status: 503 }) },
  { name: "LLM 429 once", lines: 2, inject: chatFault({ kind: "http", status: 429, retryAfterSeconds: 0.2 }) },
  { name: "LLM stream cut after 2 tokens", lines: 2, inject: chatFault({ kind: "cut", afterTokens: 2 }) },
  { name: "LLM stall before the first token", lines: 2, inject: chatFault({ kind: "stall", afterHeaders: true }) },
  { name: "LLM fails twice: the caller hears the apology", lines: 2, inject: chatFault({ kind: "http", status: 500 }, 2), apology: ANSWER_ERROR },
  {
    name: "STT outage and the Whisper fallback fails too: the caller hears the apology, STT recovers",
    lines: 2,
    inject: (stack, callId) => {
      stack.emulators.speech.injectFault({ code: grpc.status.UNAVAILABLE, afterAudioMs: MID_FIRST_UTTERANCE_MS }, { callId });
      stack.emulators.speech.injectFault({ code: grpc.status.UNAVAILABLE }, { callId, times: 4 });
      stack.emulators.openai.injectTranscriptionFault({ kind: "http", status: 500 }, { callId, times: 2 });
    },
    apology: STT_FAILED,
  },
  { name: "60 s call across many 10 s stream limits", lines: 6, inject: () => {} },
];

let stack: Stack;
let script: CallerScript;
/** The default script's questions: its last line is a goodbye, and a goodbye ends the call (end_call). */
let questions: CallerScript["lines"];
const results = new Map<string, CallReport>();

beforeAll(async () => {
  script = await loadCallerScript(DEFAULT_SCRIPT_PATH);
  questions = script.lines.slice(0, -1);
  stack = await startStack({
    // Every stream ends at 10 s of audio; the core rotates its streams before that.
    emulators: { script: questions.map(String), speech: { maxStreamMs: 10_000 } },
    coreEnv: { STT_STREAM_MAX_MS: "9500", STT_STREAM_ROTATE_MS: "7000" },
  });
  // Two synthesis failures for whichever call asks first: its sentence is retried (or apologised for).
  stack.emulators.tts.injectFault({ code: grpc.status.INTERNAL }, { times: 2 });
  await Promise.all(
    scenarios.map(async (scenario) => {
      const callSid = newSid("CA");
      scenario.inject(stack, callSid);
      // The speech emulator hears line k of `questions` as utterance k of a call (cycling).
      const lines = Array.from({ length: scenario.lines }, (_, i) => questions[i % questions.length]!);
      results.set(scenario.name, await runCall({ url: stack.edge.url, authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN, script: { ...script, lines }, callSid, timeoutMs: 30_000 }));
    }),
  );
  await new Promise<void>((resolve) => {
    const ended = () => [...results.values()].every((r) => stack.core.lines.some((l) => l.json?.message === "CALL" && l.json.call_id === r.call_sid));
    if (ended()) return resolve();
    stack.core.onLine(() => ended() && resolve());
  });
}, 300_000);

afterAll(async () => {
  await stack?.stop();
});

/** What the LLM was asked, in order, for one call: the user messages of its last request (not the summary after it). */
function userMessagesSeen(callSid: string): string[] {
  const last = stack.emulators.openai.stats.completions.filter((c) => c.callId === callSid && !isSummaryRequest(c.messages)).at(-1);
  return (last?.messages ?? []).filter((m) => m.role === "user").map((m) => String(m.content));
}

describe.each(scenarios)("$name", (scenario) => {
  it("keeps the call up and answers every utterance, losing and repeating none", () => {
    const report = results.get(scenario.name)!;
    // The simulator records an early close by our side ("the edge closed the media stream") as an error.
    expect(report.errors).toEqual([]);
    expect(report.turns).toHaveLength(scenario.lines);
    for (const turn of report.turns) expect(turn.agent_audio_ms).toBeGreaterThan(500);
    const said = report.turns.map((t) => t.caller_text);
    if (scenario.apology) expect(report.turns[0]!.agent_text).toContain(scenario.apology);
    // What the caller said reaches the LLM once each, in order (an utterance nobody understood, never).
    const understood = scenario.apology === STT_FAILED ? said.slice(1) : said;
    expect(userMessagesSeen(report.call_sid)).toEqual(understood);
  });
});

describe("retries and fallbacks", () => {
  it("retries a failed recognition stream after at most 200 ms, doubling, and only for that call", () => {
    const callSid = results.get(scenarios[2]!.name)!.call_sid;
    const calls = stack.emulators.speech.stats.calls;
    const streams = calls.get(callSid)!.streams;
    const failed = streams.filter((s) => s.faultFired);
    expect(failed.length).toBe(2);
    // The waits the core drew: within (half, all] of 200 ms, then of 400 ms (jittered, see protocol/src/backoff.ts).
    const waits = stack.core.lines
      .filter((l) => l.json?.message === "STT stream failed; retrying" && l.json.call_id === callSid)
      .map((l) => l.json!.delay_ms as number);
    expect(waits).toHaveLength(2);
    [200, 400].forEach((step, i) => {
      expect(waits[i]!).toBeGreaterThan(step / 2);
      expect(waits[i]!).toBeLessThanOrEqual(step);
    });
    // The stream after each failure opened no sooner than that wait.
    const gaps = failed.map((f) => streams[streams.indexOf(f) + 1]!.openedAt - f.endedAt!);
    expect(gaps[0]!).toBeGreaterThanOrEqual(waits[0]! - 10);
    expect(gaps[1]!).toBeGreaterThanOrEqual(waits[1]! - 10);
  });

  it("survives synthesis failures: both injected TTS errors were served, every call still answered", () => {
    expect(stack.emulators.tts.stats.faultsInjected).toBe(2);
  });

  it("tells the caller about an STT outage at once, then answers from the Whisper transcript", () => {
    const report = results.get(scenarios[4]!.name)!;
    expect(report.turns[0]!.agent_text).toContain(STT_TROUBLE);
    expect(stack.emulators.openai.stats.transcriptions).toBeGreaterThanOrEqual(1);
    const turns = stack.core.lines.flatMap((l) => {
      const parsed = turnLine.safeParse(l.json);
      return parsed.success && parsed.data.call_id === report.call_sid ? [parsed.data] : [];
    });
    expect(turns.some((t) => t.fallbacks > 0)).toBe(true);
  });
});
