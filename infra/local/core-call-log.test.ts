// What the stack's cores logged, by call: TURN lines collected, the call's CALL line wakes a reader
// waiting for its end, a reader who waits in vain gets the turns so far, and a follower sees each
// TURN, BARGE_IN and CALL line as it comes.
import { describe, expect, it } from "vitest";
import type { BargeInLine, CallLine } from "@voice/protocol";
import { healthyStages, turnFields } from "../go-no-go/fixtures.js";
import { CoreCallLog } from "./core-call-log.js";
import { parseCoreLine } from "./core-process.js";

const turn = (callId: string, n: number) => parseCoreLine(JSON.stringify({ message: "TURN", severity: "INFO", ...turnFields(callId, n, healthyStages(1, n)) }), "stdout");
const callEnd = (callId: string) => {
  const zero = { dtmf_turns: 0, barge_ins: 0, backchannels: 0, retries: 0, fallbacks: 0, stt_rotations: 0, cache_hits: 0, tts_syntheses: 0 };
  const fields: CallLine = { message: "CALL", call_id: callId, duration_ms: 1000, turns: 1, ...zero, frames_in: 50, frames_out: 50, dropped_frames: 0, stt_errors: 0, stt_reopens: 0, end_reason: "caller" };
  return parseCoreLine(JSON.stringify(fields), "stdout");
};

const bargeIn = (callId: string, turn: number) => {
  const fields: BargeInLine = { message: "BARGE_IN", call_id: callId, turn, reason: "words", heard_sentences: 0, voiced_ms: 300, audio_ms: 9000, detect_to_clear_ms: 2.5, transcript: "[redacted]" };
  return parseCoreLine(JSON.stringify(fields), "stdout");
};

describe("CoreCallLog", () => {
  it("keeps each call's TURN lines apart and answers once the CALL line arrives", async () => {
    const log = new CoreCallLog();
    log.add(turn("CA1", 1));
    log.add(turn("CA2", 1));
    log.add(parseCoreLine("not json", "stderr"));
    const waiting = log.turnsOf("CA1", 60_000);
    log.add(turn("CA1", 2));
    log.add(callEnd("CA1"));
    const answer = await waiting;
    expect(answer.ended).toBe(true);
    expect(answer.turns.map((t) => [t.call_id, t.turn])).toEqual([["CA1", 1], ["CA1", 2]]);
  });

  it("answers with what it has, not ended, when the call's end does not come in time", async () => {
    const log = new CoreCallLog();
    log.add(turn("CA3", 1));
    expect(await log.turnsOf("CA3", 20)).toMatchObject({ ended: false, turns: [{ turn: 1 }] });
    expect(await log.turnsOf("CA-unknown", 0)).toEqual({ ended: false, turns: [] });
  });

  it("gives a follower each call's TURN, BARGE_IN and CALL lines as they come, and keeps them in order per call", () => {
    const log = new CoreCallLog();
    const seen: string[] = [];
    const unsubscribe = log.subscribe((line) => seen.push(`${line.call_id} ${line.message}`));
    log.add(turn("CA4", 1));
    log.add(bargeIn("CA4", 1));
    log.add(parseCoreLine(JSON.stringify({ message: "BARGE_IN", call_id: "CA4" }), "stdout"));
    log.add(parseCoreLine(JSON.stringify({ message: "APP_START", port: 1 }), "stdout"));
    log.add(turn("CA5", 1));
    log.add(callEnd("CA4"));
    unsubscribe();
    log.add(turn("CA5", 2));

    expect(seen).toEqual(["CA4 TURN", "CA4 BARGE_IN", "CA5 TURN", "CA4 CALL"]);
    expect(log.linesOf("CA4").map((line) => line.message)).toEqual(["TURN", "BARGE_IN", "CALL"]);
    expect(log.linesOf("CA5")).toHaveLength(2);
    expect(log.linesOf("CA-unknown")).toEqual([]);
  });
});
