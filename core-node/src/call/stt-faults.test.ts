// Recognition streams that fail mid-utterance, through the real speech emulator: each call below gets
// one fault class (keyed by its x-call-id) in the middle of its first line, all calls at once. Each
// must be recovered by replacing only that call's stream after the backoff, feeding it the audio no
// final covered, so that every line reaches the LLM exactly once and every line gets its answer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { callLine, turnLine } from "@voice/protocol";
import type { SpeechFault } from "../../../infra/local/emulators/index.js";
import { NO_SPECULATION, callerSpeech, converse, startCore, type CoreUnderTest } from "../../testing/core-harness.js";

/** A thank-you that is not a goodbye (after a goodbye the agent ends the call: call-control.test.ts). */
const THANKS = "תודה רבה על העזרה שלך";
const HOURS = "שלום, מה שעות הפתיחה שלכם?";
/** The first line's answer is short, so the caller's wait for it to play is too. */
const SCRIPT = [THANKS, HOURS];
/** The caller's first line starts 600 ms into the call and lasts 1.8 s: 1.1 s is 0.5 s into it. */
const MID_FIRST_LINE_MS = 1100;

let core: CoreUnderTest;
let speech: Uint8Array[];

beforeAll(async () => {
  [core, speech] = await Promise.all([startCore({ emulators: { script: SCRIPT }, env: NO_SPECULATION }), Promise.all(SCRIPT.map(callerSpeech))]);
});

afterAll(async () => {
  await core?.close();
});

/** The backoff's step before each new stream of an episode, by attempt: each wait is drawn in (half, all] of it. */
const BACKOFF_MS = [200, 400, 800, 1600];

interface FaultCase {
  name: string;
  /** The fault of the first stream, mid-utterance. */
  fault: SpeechFault;
  /** Faults of the streams after it (each at its first audio). */
  then?: SpeechFault[];
  /** Silence before the first line (default 600 ms). */
  silenceMs?: number;
  /** The code the core logs for it. */
  code: string;
}

const CASES: FaultCase[] = [
  { name: "UNAVAILABLE", fault: { code: status.UNAVAILABLE }, code: "UNAVAILABLE" },
  { name: "INTERNAL", fault: { code: status.INTERNAL }, code: "INTERNAL" },
  { name: "RST_STREAM", fault: { kind: "reset" }, code: "INTERNAL" },
  { name: "DEADLINE_EXCEEDED", fault: { code: status.DEADLINE_EXCEEDED }, code: "DEADLINE_EXCEEDED" },
  { name: "stream duration", fault: { code: status.OUT_OF_RANGE }, code: "OUT_OF_RANGE" },
  {
    name: "audio timeout",
    fault: { code: status.OUT_OF_RANGE, details: "Audio Timeout Error: Long duration elapsed without audio. Audio should be sent close to real time." },
    code: "OUT_OF_RANGE",
  },
  { name: "stall", fault: { kind: "stall" }, code: "STALLED" },
  // Hung before the caller spoke: the utterance gets no result at all.
  { name: "stall before speech", fault: { kind: "stall", afterAudioMs: 0 }, code: "STALLED" },
  { name: "slow", fault: { kind: "slow", delayMs: 1500 }, code: "STALLED" },
  // Before the caller speaks, so that the new stream has nothing to answer before it fails too: a
  // stream that answers something ends the failure episode, and the next failure is attempt 1 again.
  { name: "twice UNAVAILABLE", fault: { code: status.UNAVAILABLE, afterAudioMs: 400 }, then: [{ code: status.UNAVAILABLE }], silenceMs: 2000, code: "UNAVAILABLE" },
];

const failuresOf = (c: FaultCase) => 1 + (c.then?.length ?? 0);

describe("a recognition stream failing mid-utterance", () => {
  it("is replaced after the backoff, alone, and every line reaches the LLM once and is answered", async () => {
    const { emulators, logs } = core;
    const callSid = (c: FaultCase) => `CA-stt-${c.name.replaceAll(" ", "-")}`;
    for (const c of CASES) {
      emulators.speech.injectFault({ afterAudioMs: MID_FIRST_LINE_MS, ...c.fault }, { callId: callSid(c), times: 1 });
      for (const next of c.then ?? []) emulators.speech.injectFault(next, { callId: callSid(c), times: 1 });
    }
    const calls = await Promise.all(CASES.map((c) => core.open(callSid(c))));
    await Promise.all(
      calls.map(async (call, i) => {
        call.begin(true);
        call.echo("greeting");
        await converse(call, speech, CASES[i]!.silenceMs);
        await call.hangUp();
      }),
    );

    for (const c of CASES) {
      const id = callSid(c);
      const call = calls[CASES.indexOf(c)]!;
      expect(call.closedByCore, c.name).toBe(false);
      // Each line answered (its marks and end mark sent), in order, once.
      for (const turn of [1, 2]) expect(call.marks().filter((m) => m.startsWith(`${turn}.`)).at(-1), c.name).toBe(`${turn}.end`);
      const turns = logs.find("TURN", { call_id: id }).map((line) => turnLine.parse(line));
      expect(turns.map((t) => [t.turn, t.transcript, t.stt_used_partial]), c.name).toEqual([
        [1, THANKS, false],
        [2, HOURS, false],
      ]);
      // A turn counts the retries made while its utterance was spoken (the early failures are the call's).
      expect(turns[0]!.retries, c.name).toBe(c.silenceMs ? 0 : failuresOf(c));
      expect(turns[0]!.answer_sentences, c.name).toBeGreaterThan(0);

      // One log line per retry, on the backoff schedule: the wait drawn lies in (half, all] of the step.
      const retries = logs.find("STT stream failed; retrying", { call_id: id });
      expect(
        retries.map((line) => [line.code, line.attempt]),
        c.name,
      ).toEqual(Array.from({ length: failuresOf(c) }, (_, i) => [c.code, i + 1]));
      const waits = retries.map((line) => line.delay_ms as number);
      waits.forEach((wait, i) => {
        expect(wait, `${c.name}: wait ${i + 1}`).toBeGreaterThan(BACKOFF_MS[i]! / 2);
        expect(wait, `${c.name}: wait ${i + 1}`).toBeLessThanOrEqual(BACKOFF_MS[i]!);
      });
      // The next stream reached the emulator no sooner than the wait the core logged after the
      // failure (and not much later: a busy machine fires timers late, so the bound is generous).
      // Timed from the core's own line, not from when the emulator saw the old stream end: a stream
      // the core cancels (a stall) ends, at the emulator, whenever its busy event loop gets to it.
      const streams = emulators.speech.stats.calls.get(id)!.streams;
      for (let i = 0; i < failuresOf(c); i++) {
        const gap = streams[i + 1]!.openedAtEpochMs - Date.parse(String(retries[i]!.timestamp));
        expect(gap, `${c.name}: gap before stream ${i + 2}`).toBeGreaterThanOrEqual(waits[i]! - 5);
        expect(gap, `${c.name}: gap before stream ${i + 2}`).toBeLessThan(waits[i]! + 1500);
      }
      // Only this call's stream was replaced: one stream per failure, plus the first.
      expect(streams.length, c.name).toBe(1 + failuresOf(c));
      expect(callLine.parse(logs.find("CALL", { call_id: id })[0]), c.name).toMatchObject({
        end_reason: "stop",
        turns: 2,
        stt_errors: failuresOf(c),
        stt_reopens: failuresOf(c),
        retries: failuresOf(c),
        fallbacks: 0,
      });
    }

    // The model got each line once, in order, in every call: its requests' user messages are the
    // script up to that turn, nothing repeated, nothing missing.
    const requests = emulators.openai.stats.completions
      .filter((completion) => completion.messages[0]?.role === "system") // not warmup's ping
      .map((completion) => completion.messages.filter((message) => message.role === "user").map((message) => message.content));
    expect(requests).toHaveLength(CASES.length * SCRIPT.length);
    for (const users of requests) expect(users).toEqual(SCRIPT.slice(0, users.length));
    expect(requests.filter((users) => users.length === SCRIPT.length)).toHaveLength(CASES.length);
  });
});
