// The caller's richer behaviour against the fake edge: barge-in, backchannel, a cough over the answer,
// keypad digits. The calls are independent, so they run at once (which also shows runCall is safe to
// use concurrently).
import { FRAME_BYTES, MULAW_SILENCE, type DtmfFrame, type InboundMediaFrame } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { runCall, type CallOptions } from "./call.js";
import { startFakeEdge, type FakeEdge, type FakeEdgeOptions } from "./fake-edge.js";
import type { CallReport } from "./report.js";
import type { CallerLine } from "./script.js";

const AUTH_TOKEN = "behaviour-test-auth-token";
const QUESTION = "שלום, מה שעות הפתיחה שלכם?";
/** 2 s answers, so the caller has something to speak over. */
const ANSWER_FRAMES = 100;

async function call(edgeOptions: Omit<FakeEdgeOptions, "authToken">, lines: CallerLine[], options: Partial<CallOptions> = {}) {
  const edge = await startFakeEdge({ authToken: AUTH_TOKEN, answerFrames: ANSWER_FRAMES, ...edgeOptions });
  try {
    const report = await runCall({ url: edge.url, authToken: AUTH_TOKEN, script: { language: "he-IL", voice: "he", lines }, timeoutMs: 8000, quietMs: 600, ...options });
    await edge.streamClosed;
    return { report, edge };
  } finally {
    await edge.close();
  }
}

/** Whether 20 ms frame `n` of a mu-law track is silence. */
const silentAt = (track: Uint8Array, ms: number) => track.subarray(ms * 8, ms * 8 + FRAME_BYTES).every((byte) => byte === MULAW_SILENCE);

function answerHeardInFull(report: CallReport, turn: number) {
  expect(report.turns[turn]).toMatchObject({ agent_text: `answer ${turn + 1}`, agent_audio_ms: ANSWER_FRAMES * 20 });
}

describe.concurrent("a caller who does more than take turns", () => {
  it("barges in a set time into the answer, and the report places the clear and both lines on the audio clock", async () => {
    const { report, edge } = await call({ bargeInFrames: 5 }, [QUESTION, { text: "רגע, יש לי שאלה אחרת", interruptAfterMs: 600 }]);

    expect(report.errors).toEqual([]);
    const [asked, interrupting] = report.turns;
    expect(interrupting!.speech_start_audio_ms! - asked!.first_answer_audio_ms!).toBeGreaterThanOrEqual(600);
    expect(interrupting!.speech_start_audio_ms! - asked!.first_answer_audio_ms!).toBeLessThan(800);

    // The edge cleared on the 5th speech frame of the new line; the clear reached the caller within a few frames.
    const [bargeIn] = edge.bargeIns;
    expect(interrupting).toMatchObject({ interrupted_previous: true, caller_kind: "speech" });
    expect(interrupting!.clear_audio_ms!).toBeGreaterThanOrEqual(bargeIn!.audioMs);
    expect(interrupting!.clear_audio_ms!).toBeLessThan(bargeIn!.audioMs + 200);
    expect(bargeIn!.audioMs - interrupting!.speech_start_audio_ms!).toBeGreaterThanOrEqual(100);
    expect(report.clears.map((clear) => clear.audio_ms)).toEqual([interrupting!.clear_audio_ms]);

    // The first answer was heard from its first frame up to the clear, and no sentence of it in full.
    expect(asked).toMatchObject({ interrupted_previous: false, clear_audio_ms: null, agent_text: "" });
    expect(asked!.agent_audio_ms).toBe(interrupting!.clear_audio_ms! - asked!.first_answer_audio_ms!);
    answerHeardInFull(report, 1);
    expect(interrupting!.first_answer_audio_ms!).toBeGreaterThan(interrupting!.speech_end_audio_ms!);

    // The audio clock is the recording's: speech and answers start and stop where the report says.
    const { caller, agent } = report.recording;
    for (const turn of report.turns) {
      expect(silentAt(caller, turn.speech_start_audio_ms! - 20)).toBe(true);
      expect(silentAt(caller, turn.speech_start_audio_ms!)).toBe(false);
      expect(silentAt(caller, turn.speech_end_audio_ms!)).toBe(true);
      expect(silentAt(agent, turn.first_answer_audio_ms! - 20)).toBe(true);
      expect(silentAt(agent, turn.first_answer_audio_ms!)).toBe(false);
    }
    expect(silentAt(agent, interrupting!.clear_audio_ms! - 20)).toBe(false);
    expect(silentAt(agent, interrupting!.clear_audio_ms!)).toBe(true);
    // The silence heard after the line, on the audio clock, is the wall-clock latency less the last frame's 20 ms.
    const heardGap = interrupting!.first_answer_audio_ms! - interrupting!.speech_end_audio_ms!;
    expect(Math.abs(interrupting!.caller_latency_ms! - 20 - heardGap)).toBeLessThan(60);
  });

  it("lets a backchannel spoken over the answer pass: no clear, no answer, the answer heard in full", async () => {
    const { report } = await call({ bargeInFrames: 25, minUtteranceFrames: 25 }, [
      QUESTION,
      { text: "כן", interruptAfterMs: 500, expectAnswer: false },
      "תודה רבה, להתראות",
    ]);

    expect(report.errors).toEqual([]);
    const [asked, nodded, thanked] = report.turns;
    expect(nodded).toMatchObject({
      caller_text: "כן",
      expect_answer: false,
      interrupted_previous: false,
      clear_audio_ms: null,
      first_answer_audio_ms: null,
      caller_latency_ms: null,
      agent_audio_ms: 0,
    });
    expect(nodded!.speech_start_audio_ms!).toBeGreaterThanOrEqual(asked!.first_answer_audio_ms! + 500);
    answerHeardInFull(report, 0);
    expect(report.clears).toEqual([]);
    // The caller waited for the answer to end, listened for quietMs, paused, then spoke again.
    expect(thanked!.speech_start_audio_ms!).toBeGreaterThanOrEqual(asked!.first_answer_audio_ms! + ANSWER_FRAMES * 20 + 600 + 400);
    expect(thanked!.agent_text).toBe("answer 2");
  });

  it("coughs over the answer without cutting it off", async () => {
    const { report } = await call({ bargeInFrames: 10, minUtteranceFrames: 10 }, [QUESTION, { noiseMs: 150, interruptAfterMs: 400 }]);

    expect(report.errors).toEqual([]);
    const [asked, cough] = report.turns;
    expect(cough).toMatchObject({ caller_kind: "noise", caller_text: "", expect_answer: false, interrupted_previous: false, agent_audio_ms: 0 });
    expect(cough!.speech_end_audio_ms! - cough!.speech_start_audio_ms!).toBe(160);
    expect(cough!.speech_start_audio_ms!).toBeLessThan(asked!.first_answer_audio_ms! + ANSWER_FRAMES * 20);
    answerHeardInFull(report, 0);
  });

  it("catches an agent that cuts off and answers a cough", async () => {
    const { report } = await call({ bargeInFrames: 3, minUtteranceFrames: 3 }, [QUESTION, { noiseMs: 300, interruptAfterMs: 400 }]);

    expect(report.errors).toEqual(["turn 2 expects no answer, but the agent answered it"]);
    const [asked, cough] = report.turns;
    expect(cough).toMatchObject({ interrupted_previous: true, agent_text: "answer 2" });
    expect(asked!.agent_audio_ms).toBeLessThan(ANSWER_FRAMES * 20);
  });

  it("presses keys as Twilio dtmf frames about 150 ms apart, and waits for the answer", async () => {
    const { report, edge } = await call({}, [{ dtmf: "12#4" }]);

    expect(report.errors).toEqual([]);
    const [keyed] = report.turns;
    expect(keyed).toMatchObject({ caller_kind: "dtmf", caller_text: "12#4", expect_answer: true, agent_text: "keys 12#4" });
    expect(keyed!.caller_latency_ms!).toBeGreaterThan(200);

    const frames = edge.frames.map((f) => f.frame);
    const start = frames.find((frame) => frame.event === "start")!;
    const keys = frames.flatMap((frame, i) => {
      if (frame.event !== "dtmf") return [];
      const media = frames.slice(0, i).findLast((f): f is InboundMediaFrame => f.event === "media")!;
      return [{ frame: frame as DtmfFrame, audioMs: Number(media.media.timestamp) }];
    });
    expect(keys.map((key) => key.frame.dtmf)).toEqual(["1", "2", "#", "4"].map((digit) => ({ track: "inbound_track", digit })));
    expect(keys.every((key) => key.frame.streamSid === start.streamSid)).toBe(true);
    expect(keys.map((key) => key.audioMs - keyed!.speech_start_audio_ms!)).toEqual([0, 160, 300, 460]);
    expect(keyed!.speech_end_audio_ms! - keyed!.speech_start_audio_ms!).toBe(480);
    // dtmf frames take their place in the one sequence of the stream.
    expect(frames.slice(1).map((f) => ("sequenceNumber" in f ? Number(f.sequenceNumber) : 0))).toEqual(frames.slice(1).map((_, i) => i + 1));
  });
});

describe("a bad script", () => {
  it("is reported with its reason, and no call is placed", async () => {
    const edge: FakeEdge = await startFakeEdge({ authToken: AUTH_TOKEN });
    try {
      const script = { language: "he-IL", voice: "he", lines: [QUESTION, { text: "כן", dtmf: "1" }] };
      const report = await runCall({ url: edge.url, authToken: AUTH_TOKEN, script });
      expect(report.errors).toEqual(["the caller script is invalid: lines.1: a line needs exactly one of text, noiseMs, dtmf, silenceMs or toneMs"]);
      expect(edge.webhookParams).toEqual([]);
    } finally {
      await edge.close();
    }
  });
});
