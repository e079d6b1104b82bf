// What the stack's cores logged, by call: TURN lines collected, the call's CALL line wakes a reader
// waiting for its end, and a reader who waits in vain gets the turns so far.
import { describe, expect, it } from "vitest";
import type { CallLine } from "@voice/protocol";
import { healthyStages, turnFields } from "../go-no-go/fixtures.js";
import { CoreCallLog } from "./core-call-log.js";
import { parseCoreLine } from "./core-process.js";

const turn = (callId: string, n: number) => parseCoreLine(JSON.stringify({ message: "TURN", severity: "INFO", ...turnFields(callId, n, healthyStages(1, n)) }), "stdout");
const callEnd = (callId: string) => {
  const zero = { dtmf_turns: 0, barge_ins: 0, backchannels: 0, retries: 0, fallbacks: 0, stt_rotations: 0, cache_hits: 0, tts_syntheses: 0 };
  const fields: CallLine = { message: "CALL", call_id: callId, duration_ms: 1000, turns: 1, ...zero, frames_in: 50, frames_out: 50, dropped_frames: 0, stt_errors: 0, stt_reopens: 0, end_reason: "caller" };
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
});
