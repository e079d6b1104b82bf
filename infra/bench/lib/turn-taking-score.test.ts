import { describe, expect, it } from "vitest";
import {
  gapBucketMs,
  normalisedText,
  overlapMs,
  playedSpans,
  scoreItem,
  summarise,
  type AgentAudioEvent,
  type CallObservation,
  type ObservedTurn,
  type ScoredItem,
} from "./turn-taking-score.js";

// "Tuesday at ‖ nine thirty ‖ a m": speech 400-1000, a 800 ms pause after "at", speech 1800-2500,
// a 300 ms pause with no cue, speech 2800-3500, then the true end.
const ITEM: ScoredItem = {
  id: "tuesday-at-nine/800ms/clean",
  condition: "clean",
  text: "Tuesday at nine thirty a m",
  speechEndMs: 3500,
  gaps: [
    { kind: "continue", startMs: 1000, endMs: 1800, cue: "function_word" },
    { kind: "continue", startMs: 2500, endMs: 2800, cue: "none" },
    { kind: "end", startMs: 3500, endMs: 6000 },
  ],
};

const turn = (speechEndAudioMs: number, transcript: string, extra: Partial<ObservedTurn> = {}): ObservedTurn => ({
  speechStartAudioMs: 400,
  speechEndAudioMs,
  eouMs: 160,
  transcript,
  ...extra,
});

/** `frames` 20 ms frames arriving together at `atMs`, as the core sends a sentence in one burst. */
const burst = (atMs: number, frames: number): AgentAudioEvent[] => Array.from({ length: frames }, () => ({ kind: "media", atMs, durationMs: 20 }));

const call = (observation: Partial<CallObservation>): CallObservation => ({ turns: [], bargeIns: [], agentAudio: [], ...observation });

describe("playout as the caller hears it", () => {
  it("plays a burst in order from its arrival, and a later burst after the queue runs out", () => {
    expect(playedSpans([...burst(100, 5), ...burst(150, 5), ...burst(1000, 2)])).toEqual([
      { startMs: 100, endMs: 300 },
      { startMs: 1000, endMs: 1040 },
    ]);
  });

  it("drops what has not played when cleared", () => {
    expect(playedSpans([...burst(100, 50), { kind: "clear", atMs: 250 }, ...burst(400, 1)])).toEqual([
      { startMs: 100, endMs: 250 },
      { startMs: 400, endMs: 420 },
    ]);
  });

  it("measures overlap between played audio and speech", () => {
    expect(overlapMs([{ startMs: 100, endMs: 300 }], [{ startMs: 0, endMs: 150 }, { startMs: 250, endMs: 1000 }])).toBe(100);
  });
});

describe("one item's score", () => {
  it("counts a turn ending where a continue pause starts as a false cut-off, and the agent audio then played over the caller", () => {
    const score = scoreItem(
      ITEM,
      call({
        turns: [turn(1010, "Tuesday at"), turn(3490, "nine thirty a m")],
        bargeIns: [{ reason: "new_turn", speechStartAudioMs: 1820 }],
        // The answer to "Tuesday at" arrives 500 ms into the pause; the caller speaks on at 1800 and it is cleared at 1900.
        agentAudio: [...burst(1500, 100), { kind: "clear", atMs: 1900 }],
      }),
    );
    expect(score.gaps.map((gap) => [gap.cutOff, gap.recovered])).toEqual([
      [true, false],
      [false, false],
    ]);
    expect(score.agentOverCallerMs).toBe(100);
    expect(score.turns).toBe(2);
    expect(score.finalTranscriptMatches).toBe(false);
    expect(score.end).toEqual({ eouMs: 160, eouHoldMs: null, eouHold: null });
    expect(score.answerAfterSpeechEndMs).toBeNull();
  });

  it("scores a held pause as no cut-off, and the one turn at the true end with its latency", () => {
    const score = scoreItem(
      ITEM,
      call({
        turns: [turn(3500, "Tuesday at nine thirty, a.m.", { eouMs: 160, eouHoldMs: 0 })],
        agentAudio: burst(4400, 10),
        recoveredCutoffs: 0,
      }),
    );
    expect(score.gaps.every((gap) => !gap.cutOff)).toBe(true);
    expect(score.agentOverCallerMs).toBeNull();
    expect(score.finalTranscriptMatches).toBe(true);
    expect(score.answerAfterSpeechEndMs).toBe(900);
    expect(score.offBoundaryTurns).toBe(0);
    expect(score.unexplainedEarlyAudio).toBe(false);
  });

  it("finds a cut-off the core took back (no TURN line) by the caller resuming at the pause's end, and counts it recovered", () => {
    const score = scoreItem(ITEM, call({ turns: [turn(3480, "Tuesday at nine thirty a m")], bargeIns: [{ reason: "resumed", speechStartAudioMs: 2790 }], recoveredCutoffs: 1 }));
    expect(score.gaps.map((gap) => [gap.cutOff, gap.recovered])).toEqual([
      [false, false],
      [true, true],
    ]);
    expect(score.agentOverCallerMs).toBe(0);
    expect(score.finalTranscriptMatches).toBe(true);
  });

  it("takes a speech end that trails the pause's start, as the VAD's does under line noise, for a cut-off in that pause", () => {
    const score = scoreItem(ITEM, call({ turns: [turn(1130, "Tuesday at"), turn(3620, "nine thirty a m")] }));
    expect(score.gaps.map((gap) => gap.cutOff)).toEqual([true, false]);
    expect(score.end).not.toBeNull();
    expect(score.speechEndOffsetsMs).toEqual([130, 120]);
    expect(score.offBoundaryTurns).toBe(0);
  });

  it("takes a speech end a little before the labelled end, as the VAD's on an unvoiced last sound, for the true end", () => {
    const score = scoreItem(ITEM, call({ turns: [turn(3400, "Tuesday at nine thirty a m")] }));
    expect(score.end).not.toBeNull();
    expect(score.speechEndOffsetsMs).toEqual([-100]);
  });

  it("does not take a speech end in the middle of speech for a cut-off, and reports it as in no pause", () => {
    const score = scoreItem(ITEM, call({ turns: [turn(700, "Tuesday"), turn(3500, "at nine thirty a m")], agentAudio: burst(1700, 5) }));
    expect(score.gaps[0]!.cutOff).toBe(false);
    expect(score.offBoundaryTurns).toBe(1);
    expect(score.unexplainedEarlyAudio).toBe(true);
  });

  it("has no end when no turn ended at the true end", () => {
    expect(scoreItem(ITEM, call({ turns: [turn(1000, "Tuesday at")] })).end).toBeNull();
  });
});

describe("the summary over items", () => {
  it("gives cut-off rates by pause length, cue and condition, and the end latencies", () => {
    const cut = scoreItem(ITEM, call({ turns: [turn(1000, "Tuesday at"), turn(3500, "nine thirty a m")], agentAudio: [...burst(1400, 50)] }));
    const held = scoreItem({ ...ITEM, condition: "noise" }, call({ turns: [turn(3500, ITEM.text, { eouMs: 1360, eouHoldMs: 1200, eouHold: "number" })] }));
    const endOnly = scoreItem({ ...ITEM, id: "goodbye/clean", gaps: [{ kind: "end", startMs: 3500, endMs: 6000 }], text: "goodbye" }, call({ turns: [turn(3500, "goodbye", { eouMs: 180 })] }));
    const summary = summarise([cut, held, endOnly]);
    expect(summary.false_cutoffs).toEqual({ cut: 1, pauses: 4, rate: 0.25, recovered: 0 });
    expect(summary.items_cut).toEqual({ items: 1, of: 2, rate: 0.5 });
    expect(summary.by_gap_ms).toEqual({
      "300": { cut: 0, pauses: 2, rate: 0, recovered: 0 },
      "800": { cut: 1, pauses: 2, rate: 0.5, recovered: 0 },
    });
    expect(summary.by_cue["function_word"]).toMatchObject({ cut: 1, pauses: 2 });
    expect(summary.by_cue["none"]).toMatchObject({ cut: 0, pauses: 2 });
    // Both pause lengths (300 and 800 ms) are inside the target window; a 1500 ms pause is not.
    expect(summary.target_pauses_by_cue).toEqual({ function_word: summary.by_cue["function_word"], none: summary.by_cue["none"] });
    const long = { ...ITEM, gaps: [{ kind: "continue" as const, startMs: 1000, endMs: 2500, cue: "function_word" as const }, ITEM.gaps[2]!] };
    expect(summarise([scoreItem(long, call({ turns: [turn(3500, ITEM.text)] }))]).target_pauses_by_cue).toEqual({});
    expect(summary.by_condition["clean"]).toMatchObject({ cut: 1, pauses: 2 });
    expect(summary.by_condition["noise"]).toMatchObject({ cut: 0, pauses: 2, end_eou_ms: expect.objectContaining({ median: 1360 }) });
    // 1400-2400 played; the caller spoke 1800-2500 and 2800-3500 after the cut.
    expect(summary.agent_over_caller_ms).toMatchObject({ n: 1, median: 600 });
    expect(summary.end_eou_ms).toMatchObject({ n: 3, median: 180, max: 1360 });
    expect(summary.end_eou_ms_held).toMatchObject({ n: 1, median: 1360 });
    expect(summary.end_holds).toEqual({ none: 2, number: 1 });
    expect(summary.end_missed).toBe(0);
    expect(summary.one_turn_rate).toBe(0.667);
    expect(summary.final_transcript_rate).toBe(0.667);
    expect(summary.recovered_by_call_lines).toBeNull();
  });
});

describe("helpers", () => {
  it("reports a measured pause under the nearest nominal length", () => {
    expect([210, 260, 540, 790, 1240, 1490].map(gapBucketMs)).toEqual([200, 300, 500, 800, 1200, 1500]);
  });

  it("compares transcripts as words", () => {
    expect(normalisedText("Tuesday, at  nine.")).toBe(normalisedText("tuesday at nine"));
  });
});
