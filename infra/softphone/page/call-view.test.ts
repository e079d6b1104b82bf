// The call view's model: turns in order with both sides' words, each with the moment the page heard
// its answer, barge-ins on the turn they cut, and a moved call's second leg kept apart from its first.
import type { BargeInLine, CallLine, TurnLine } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { callView, markTurn } from "./call-view.js";

const turn = (n: number, extra: Partial<TurnLine> = {}): TurnLine => ({
  message: "TURN",
  call_id: "CA1",
  turn: n,
  input: "speech",
  EOU_MS: 160,
  TOTAL_LATENCY_MS: 800,
  speech_start_audio_ms: n * 10_000,
  speech_end_audio_ms: n * 10_000 + 1500,
  transcript: `caller words ${n}`,
  transcript_chars: 14,
  stt_used_partial: false,
  retries: 0,
  fallbacks: 0,
  stt_fallback: false,
  interrupted: false,
  answer_sentences: 1,
  tts_failures: 0,
  ...extra,
});
const bargeIn = (n: number, audioMs: number): BargeInLine => ({ message: "BARGE_IN", call_id: "CA1", turn: n, reason: "words", heard_sentences: 1, voiced_ms: 300, audio_ms: audioMs, detect_to_clear_ms: 2, transcript: "" });
const callEnd: CallLine = { message: "CALL", call_id: "CA1", duration_ms: 1, turns: 1, dtmf_turns: 0, barge_ins: 0, backchannels: 0, retries: 0, fallbacks: 0, stt_rotations: 0, cache_hits: 0, tts_syntheses: 0, frames_in: 1, frames_out: 1, dropped_frames: 0, stt_errors: 0, stt_reopens: 0, end_reason: "moved" };

describe("callView", () => {
  it("lists the turns with both sides' words, when each answer was heard, and the barge-ins that cut them", () => {
    const lines = [bargeIn(0, 2000), turn(1, { agent_text: "Our clinic...", interrupted: true, speculation: "used" }), bargeIn(1, 14_000), turn(2)];
    const view = callView(lines, { "0:1": 12_400 });
    expect(view.openingBargeIns).toHaveLength(1);
    expect(view.turns.map((t) => [t.key, t.callerText, t.agentText, t.interrupted, t.speculation])).toEqual([
      ["0:1", "caller words 1", "Our clinic...", true, "used"],
      ["0:2", "caller words 2", null, false, undefined],
    ]);
    const first = view.turns[0]!;
    expect(first.waterfall.rows.find((row) => row.key === "heard")).toMatchObject({ toMs: 900 });
    expect(first.bargeIns.map((line) => line.audio_ms)).toEqual([14_000]);
    expect(first.waterfall.markers).toHaveLength(1);
    expect(view.turns[1]!.waterfall.missing).toContain("heard by you: none of the answer has played on this page");
  });

  it("keeps a moved call's legs apart: the second leg's turn 1 is not the first's", () => {
    const view = callView([turn(1), callEnd, turn(1), bargeIn(1, 12_000)], { "1:1": 11_600 });
    expect(view.turns.map((t) => t.key)).toEqual(["0:1", "1:1"]);
    expect(view.turns[0]!.bargeIns).toEqual([]);
    expect(view.turns[1]!.bargeIns).toHaveLength(1);
    expect(view.turns[1]!.waterfall.rows.find((row) => row.key === "heard")?.toMs).toBe(100);
    expect(view.ends).toHaveLength(1);
  });

  it("reads the turn an answer's mark belongs to", () => {
    expect([markTurn("3.1:We open at 8:30."), markTurn("12.end"), markTurn("greeting"), markTurn("hold")]).toEqual([3, 12, null, null]);
  });
});
