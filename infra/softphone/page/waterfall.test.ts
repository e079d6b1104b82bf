// A turn's waterfall: what a TURN line holds is drawn on one axis from the speech end, what it lacks is
// named (a core without the timeline, a keypad turn, an answer never heard), and barge-ins are marked
// where they happened.
import type { BargeInLine, TurnLine } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { signedMs, waterfall } from "./waterfall.js";

/** A schema-1 spoken turn: caller spoke from 10.0 s to 11.5 s on the audio clock. */
const turnLine = (extra: Partial<TurnLine> = {}): TurnLine => ({
  message: "TURN",
  call_id: "CA1",
  turn: 1,
  input: "speech",
  STT_FIRST_PARTIAL_MS: 300,
  STT_FINAL_MS: 420,
  LLM_FIRST_TOKEN_MS: 250,
  TTS_READY_MS: 90,
  TOTAL_LATENCY_MS: 900,
  EOU_MS: 160,
  speech_start_audio_ms: 10_000,
  speech_end_audio_ms: 11_500,
  transcript: "tell me about the clinic",
  transcript_chars: 24,
  stt_used_partial: false,
  retries: 0,
  fallbacks: 0,
  stt_fallback: false,
  interrupted: false,
  answer_sentences: 3,
  tts_failures: 0,
  ...extra,
});

const byKey = (rows: ReturnType<typeof waterfall>["rows"]) => Object.fromEntries(rows.map((row) => [row.key, row]));

describe("waterfall", () => {
  it("draws a schema-1 line's moments from the speech end and names the stages it cannot place", () => {
    const drawn = waterfall(turnLine(), 1040);
    const rows = byKey(drawn.rows);
    expect(Object.keys(rows)).toEqual(["speech", "eou", "stt_final", "first_frame", "heard"]);
    expect(rows.speech).toMatchObject({ fromMs: -1500, toMs: 0, value: "−1.50 s → 0" });
    expect(rows.eou).toMatchObject({ fromMs: 0, toMs: 160, value: "+160 ms" });
    expect(rows.stt_final).toMatchObject({ toMs: 420 });
    expect(rows.first_frame).toMatchObject({ toMs: 900 });
    expect(rows.heard).toMatchObject({ toMs: 1040, value: "+1.04 s" });
    expect(drawn.missing).toEqual(["LLM first token: not in this core's TURN lines (no timeline)", "TTS ready: not in this core's TURN lines (no timeline)"]);

    // One axis: the speech starts near its left end, the heard answer ends near its right end, and
    // every bar starts where its start falls on it.
    expect(rows.speech!.leftPct).toBeGreaterThanOrEqual(0);
    expect(rows.speech!.leftPct).toBeLessThan(5);
    expect(rows.heard!.leftPct + rows.heard!.widthPct).toBeGreaterThan(95);
    expect(rows.heard!.leftPct + rows.heard!.widthPct).toBeLessThanOrEqual(100);
    expect(rows.eou!.leftPct).toBeCloseTo(drawn.axis.zeroPct, 6);
    expect(rows.speech!.leftPct + rows.speech!.widthPct).toBeCloseTo(drawn.axis.zeroPct, 6);
    expect(rows.first_frame!.widthPct / rows.eou!.widthPct).toBeCloseTo(900 / 160, 6);
    expect(drawn.axis.ticks.map((tick) => tick.ms)).toContain(0);
  });

  it("takes the schema-2 timeline when the line has one: a speculative LLM request starts before the speech end", () => {
    const timeline = { speech_start: -1500, first_result: -1200, eou: 160, stt_final: 400, llm_request: -300, llm_first_token: 120, tts_request: 130, tts_ready: 210, first_frame: 230 };
    const rows = byKey(waterfall(turnLine({ schema_version: 2, timeline, speculation: "used" }), 300).rows);
    expect(Object.keys(rows)).toEqual(["speech", "eou", "stt_final", "llm", "tts", "first_frame", "heard"]);
    expect(rows.llm).toMatchObject({ fromMs: -300, toMs: 120, value: "−300 ms → +120 ms" });
    expect(rows.tts).toMatchObject({ fromMs: 130, toMs: 210 });
    expect(rows.first_frame).toMatchObject({ toMs: 230 });
    expect(rows.llm!.leftPct).toBeLessThan(rows.eou!.leftPct);
  });

  it("names what a keypad turn and an answer nobody heard lack", () => {
    const keypad = turnLine({ input: "dtmf", STT_FIRST_PARTIAL_MS: undefined, STT_FINAL_MS: undefined, timeline: { speech_start: -2000, eou: 1500 } });
    const drawn = waterfall(keypad, null);
    expect(drawn.rows.map((row) => row.key)).toEqual(["speech", "eou", "first_frame"]);
    expect(drawn.missing).toEqual([
      "STT final: keypad turn, no speech",
      "LLM first token: no token came",
      "TTS ready: no answer audio synthesized",
      "heard by you: none of the answer has played on this page",
    ]);
  });

  it("marks a barge-in into the turn's answer where it happened", () => {
    const bargeIn: BargeInLine = { message: "BARGE_IN", call_id: "CA1", turn: 1, reason: "words", heard_sentences: 0, voiced_ms: 400, audio_ms: 14_500, detect_to_clear_ms: 3, transcript: "" };
    const drawn = waterfall(turnLine(), 1040, [bargeIn]);
    expect(drawn.markers).toHaveLength(1);
    expect(drawn.markers[0]).toMatchObject({ label: "barge-in (words)", atMs: 3000 });
    // The axis stretches to hold it: it is the right-most moment.
    expect(drawn.markers[0]!.leftPct).toBeGreaterThan(95);
  });

  it("writes times as a reader reads them", () => {
    expect([signedMs(0), signedMs(480), signedMs(-1500), signedMs(12_345)]).toEqual(["0", "+480 ms", "−1.50 s", "+12.3 s"]);
  });
});
