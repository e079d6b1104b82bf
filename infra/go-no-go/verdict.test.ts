import type { TurnLine } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import type { CallSummary } from "../sim/report.js";
import { callSid, callTurns, cloudLoggingExport, coreLog, coreStdout, simulatorOutput, simulatorSummary, type Stages } from "./fixtures.js";
import { formatResult, oneLine } from "./format.js";
import { parseInput, type ParsedInput } from "./input.js";
import { DEFAULT_THRESHOLDS, type Thresholds } from "./thresholds.js";
import { evaluate, type Evaluation, type GoNoGo } from "./verdict.js";

const A = callSid(1);
const B = callSid(2);

/** Two smoke calls of three turns each, as the deploy pipeline sees them: the export and the simulator's output. */
function smokeCalls(
  stages: (turn: number, healthy: Stages) => Stages = (_t, healthy) => healthy,
  facts: (turn: number, stages: Stages) => Partial<TurnLine> = () => ({}),
  simulated: CallSummary[] = [simulatorSummary(1, [1480, 1610, 1550]), simulatorSummary(2, [1520, 1700, 1490])],
): Record<string, string> {
  return {
    "logs.json": cloudLoggingExport(coreLog([callTurns(1, 3, stages, facts), callTurns(2, 3, stages, facts)])),
    "smoke.json": simulatorOutput(simulated),
  };
}

function judge(files: Record<string, string>, thresholds: Thresholds = DEFAULT_THRESHOLDS): Evaluation {
  const inputs: ParsedInput[] = Object.entries(files).map(([name, text]) => {
    const parsed = parseInput(name, text);
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.input;
  });
  return evaluate(inputs, thresholds);
}

function verdict(files: Record<string, string>, thresholds?: Thresholds): GoNoGo {
  const evaluation = judge(files, thresholds);
  if (!evaluation.ok) throw new Error(evaluation.reason);
  return evaluation.result;
}

const metric = (r: GoNoGo, name: string) => r.metrics.find((m) => m.metric === name)!;
const at = (r: GoNoGo["failures"][number] | GoNoGo["diagnoses"][number]) => r.evidence.map((e) => [e.call_id, e.turn ?? e.sim_line]);

describe("GO/NO-GO verdict", () => {
  it("is GO for two healthy calls, with p50/p95 and n of each metric", () => {
    const r = verdict(smokeCalls());

    expect(r.verdict).toBe("GO");
    expect(r).toMatchObject({ calls: [A, B], turns: 6, simulated_calls: [A, B], failures: [], diagnoses: [], warnings: [], duplicates: 0 });
    expect(r.metrics).toEqual([
      { metric: "STT_FIRST_PARTIAL_MS", n: 6, p50: 302, p95: 333, target: 500, bound: 500, status: "ok" },
      { metric: "STT_FINAL_MS", n: 6, p50: 452, p95: 483, target: 700, bound: 900, status: "ok" },
      { metric: "LLM_FIRST_TOKEN_MS", n: 6, p50: 424, p95: 486, status: "report only" },
      { metric: "TTS_READY_MS", n: 6, p50: 162, p95: 193, target: 250, bound: 400, status: "ok" },
      { metric: "TOTAL_LATENCY_MS", n: 6, p50: 1245, p95: 1400, target: 2200, bound: 2800, status: "ok" },
      { metric: "CALLER_LATENCY_MS", n: 6, p50: 1520, p95: 1700, status: "report only" },
    ]);
    expect(r.counts).toEqual({ retries: 0, fallbacks: 0, stt_fallback_turns: 0, tts_failures: 0, stt_used_partial_turns: 0, interrupted_turns: 0, dtmf_turns: 0 });
  });

  it("judges a held end of utterance's TOTAL without the hold: the wait on the caller's unfinished sentence is not the stack's", () => {
    // Every turn waited 1040 ms on a pause after "and"; whole, the TOTALs of the odd turns are past the target.
    const held = (turn: number, stages: Stages): Partial<TurnLine> => ({
      EOU_MS: stages.eou + 1040,
      EOU_HOLD_MS: 1040,
      eou_hold: "function_word",
      TOTAL_LATENCY_MS: Math.max(stages.final, stages.eou + 1040) + stages.llmFirstToken + stages.firstSentence + stages.ttsReady + stages.io + 600 * (turn % 2),
    });
    const r = verdict(smokeCalls(undefined, held));
    expect(metric(r, "TOTAL_LATENCY_MS")).toMatchObject({ status: "ok" });
    expect(metric(r, "TOTAL_LATENCY_MS").p95!).toBeLessThan(2200);
  });

  it("is GO with a warning naming the turns when a p95 is between target and bound", () => {
    const r = verdict(smokeCalls((turn, h) => (turn === 2 ? { ...h, final: 820 } : h)));

    expect(r.verdict).toBe("GO");
    expect(metric(r, "STT_FINAL_MS")).toMatchObject({ p95: 820, status: "warning" });
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]!.message).toBe("STT_FINAL_MS p95 820 ms above target 700 ms, within bound 900 ms (2 of 6 above target)");
    expect(at(r.warnings[0]!)).toEqual([[A, 2], [B, 2]]);
  });

  it("diagnoses a warmup or cache mismatch when TTS ready is over 1000 ms, saying whether the cache missed", () => {
    const r = verdict(smokeCalls((turn, h) => (turn === 1 ? { ...h, ttsReady: 1400 + turn } : h)));

    expect(r.verdict).toBe("NO-GO");
    expect(r.failures.map((f) => f.message)).toEqual(["TTS_READY_MS p95 1401 ms > bound 400 ms (2 of 6 above)"]);
    expect(r.diagnoses.map((d) => d.kind)).toEqual(["warmup_or_cache_mismatch"]);
    const [d] = r.diagnoses;
    expect(d!.message).toBe("TTS_READY_MS above 1000 ms on 2 turns; tts_cache_hit was false on 2 of them");
    expect(d!.hint).toMatch(/^warmup did not run or the TTS cache key did not match: check GET \/health\/warmup/);
    expect(d!.evidence.map((e) => [e.call_id, e.turn, e.values])).toEqual([
      [A, 1, { TTS_READY_MS: 1401, tts_cache_hit: false }],
      [B, 1, { TTS_READY_MS: 1401, tts_cache_hit: false }],
    ]);
  });

  it("points a slow cache hit at the process, not at synthesis", () => {
    const r = verdict(smokeCalls((turn, h) => (turn === 3 ? { ...h, ttsReady: 1200 } : h), () => ({ tts_cache_hit: true })));
    expect(r.diagnoses[0]!.message).toBe("TTS_READY_MS above 1000 ms on 2 turns; tts_cache_hit was false on 0 of them");
    expect(r.diagnoses[0]!.hint).toMatch(/slow cache hits point at a stalled process/);
  });

  it("is NO-GO on one cold TTS turn even when the p95 is within bound", () => {
    const calls = [1, 2, 3, 4, 5, 6, 7].map((c) => callTurns(c, 3, (turn, h) => (c === 5 && turn === 1 ? { ...h, ttsReady: 1100 } : h)));
    const r = verdict({ "core.log": coreStdout(coreLog(calls)) });

    expect(metric(r, "TTS_READY_MS").status).toBe("ok");
    expect(r.verdict).toBe("NO-GO");
    expect(r.diagnoses.map((d) => [d.kind, at(d)])).toEqual([["warmup_or_cache_mismatch", [[callSid(5), 1]]]]);
  });

  it("diagnoses EOU too loose when the final is late but the first partial fast, pointing at the hangover and the STT timeout", () => {
    const r = verdict(smokeCalls((_t, h) => ({ ...h, final: 1150, eou: 420 }), (turn) => ({ stt_used_partial: turn !== 3 })));

    expect(r.verdict).toBe("NO-GO");
    expect(r.failures.map((f) => f.message)).toEqual(["STT_FINAL_MS p95 1150 ms > bound 900 ms (6 of 6 above)"]);
    expect(r.diagnoses.map((d) => d.kind)).toEqual(["eou_too_loose"]);
    const [d] = r.diagnoses;
    expect(d!.message).toBe(
      "STT_FINAL_MS p95 1150 ms > 900 ms while STT_FIRST_PARTIAL_MS p95 is 333 ms: recognition keeps up, the end of the utterance is decided late",
    );
    expect(d!.hint).toBe(
      "lower VAD_HANGOVER_MS (EOU_MS p95 420 ms is the hangover in effect) and STT_TIMEOUT_MS " +
        "(no final came and the partial was used after the timeout on 4 of these 6 turns)",
    );
    expect(d!.evidence[0]!.values).toEqual({ STT_FINAL_MS: 1150, STT_FIRST_PARTIAL_MS: expect.any(Number), EOU_MS: 420, stt_used_partial: true });
  });

  it("does not blame the EOU when the first partial is slow too (recognition itself is slow)", () => {
    const r = verdict(smokeCalls((_t, h) => ({ ...h, firstPartial: 900, final: 1150 })));
    expect(r.verdict).toBe("NO-GO");
    expect(r.failures.map((f) => f.message.split(" p95")[0])).toEqual(["STT_FIRST_PARTIAL_MS", "STT_FINAL_MS"]);
    expect(r.diagnoses).toEqual([]);
  });

  it("diagnoses I/O, logging or network when the total is high and its parts are healthy", () => {
    const r = verdict(smokeCalls((_t, h) => ({ ...h, io: 1800 })));

    expect(r.verdict).toBe("NO-GO");
    expect(r.failures.map((f) => f.message)).toEqual(["TOTAL_LATENCY_MS p95 3175 ms > bound 2800 ms (6 of 6 above)"]);
    expect(r.diagnoses.map((d) => d.kind)).toEqual(["io_or_network"]);
    const [d] = r.diagnoses;
    expect(d!.message).toBe("TOTAL_LATENCY_MS p95 3175 ms > 2800 ms, and 2013 ms of it (p95) is outside STT, LLM and TTS (above 500 ms)");
    expect(d!.hint).toMatch(/I\/O, logging or network round trips/);
    // Worst first: the turn with the largest unaccounted time, with the parts it was computed from.
    expect(d!.evidence[0]).toMatchObject({
      call_id: B,
      turn: 3,
      values: { TOTAL_LATENCY_MS: 3175, STT_FINAL_MS: 483, EOU_MS: 165, LLM_FIRST_TOKEN_MS: 486, TTS_READY_MS: 193, unaccounted_ms: 2013 },
    });
  });

  it("does not blame I/O when a part explains the slow total", () => {
    const r = verdict(smokeCalls((_t, h) => ({ ...h, llmFirstToken: 2300 })));
    expect(r.failures.map((f) => f.message.split(" p95")[0])).toEqual(["TOTAL_LATENCY_MS"]);
    expect(metric(r, "LLM_FIRST_TOKEN_MS")).toMatchObject({ p95: 2300, status: "report only" });
    expect(r.diagnoses).toEqual([]);
  });

  it("is NO-GO when a fixed phrase was spoken instead of an answer, and counts retries as a warning", () => {
    const r = verdict(
      smokeCalls(
        (_t, h) => h,
        (turn) => (turn === 2 ? { fallbacks: 1, retries: 2, LLM_FIRST_TOKEN_MS: undefined } : {}),
      ),
    );

    expect(r.verdict).toBe("NO-GO");
    expect(r.failures.map((f) => f.message)).toEqual(["2 fixed phrases spoken instead of answers (max_fallbacks 0): recognition, LLM or TTS failed"]);
    expect(at(r.failures[0]!)).toEqual([[A, 2], [B, 2]]);
    expect(r.counts).toMatchObject({ fallbacks: 2, retries: 4 });
    expect(r.warnings.map((w) => w.message)).toEqual(["retries on 2 of 6 turns"]);
  });

  it("warns about recovered trouble and about an input with nothing in it", () => {
    const r = verdict({
      ...smokeCalls(
        (_t, h) => h,
        (turn) => (turn === 3 ? { stt_fallback: true, tts_failures: 1, answer_sentences: 1 } : {}),
      ),
      "notes.txt": "deploy of voice-core-00042 at 09:14\n",
    });

    expect(r.verdict).toBe("GO");
    expect(r.counts).toMatchObject({ stt_fallback_turns: 2, tts_failures: 2 });
    expect(r.warnings.map((w) => [w.message, at(w)])).toEqual([
      ["fallback transcription (recognition down) on 2 turns", [[A, 3], [B, 3]]],
      ["sentences skipped because synthesis failed on 2 turns", [[A, 3], [B, 3]]],
      ["notes.txt: no TURN line and no simulator output in it", []],
    ]);
  });

  it("is NO-GO when a smoke call had errors or a line got no answer, even without any TURN line", () => {
    const files = {
      "smoke.json": simulatorOutput([
        simulatorSummary(1, [1480, null, 1550]),
        simulatorSummary(2, [], ["voice webhook http://edge/twilio/voice answered 403"]),
      ]),
    };
    const r = verdict(files);

    expect(r.verdict).toBe("NO-GO");
    expect(r.failures.map((f) => f.message)).toEqual([
      `simulated call ${A}: 1 of 3 lines got no answer`,
      `simulated call ${B} failed: voice webhook http://edge/twilio/voice answered 403`,
    ]);
    expect(r.failures[0]!.evidence).toEqual([{ call_id: A, sim_line: 2, source: "smoke.json line 1", values: { caller_text: "אפשר לקבוע תור למחר בבוקר?" } }]);
    expect(r.warnings[0]!.message).toMatch(/^latency not judged: no TURN lines in smoke\.json/);
  });

  it("judges the latency the caller heard when a bound is set for it", () => {
    const thresholds = { ...DEFAULT_THRESHOLDS, metrics: { ...DEFAULT_THRESHOLDS.metrics, CALLER_LATENCY_MS: { target: 1500, bound: 1650 } } };
    const r = verdict(smokeCalls(), thresholds);
    expect(r.failures.map((f) => f.message)).toEqual(["CALLER_LATENCY_MS p95 1700 ms > bound 1650 ms (1 of 6 above)"]);
    expect(r.failures[0]!.evidence).toEqual([{ call_id: B, sim_line: 2, source: "smoke.json line 2", values: { CALLER_LATENCY_MS: 1700 } }]);
  });

  it("refuses to judge without TURN lines from enough calls", () => {
    expect(judge({ "smoke.json": simulatorOutput([simulatorSummary(1, [1500])]) })).toEqual({
      ok: false,
      reason: "no TURN lines in smoke.json: the simulator's output has no TURN metrics, pass the core's TURN lines too",
    });
    const oneCall = { "core.log": coreStdout(coreLog([callTurns(1, 3)])) };
    expect(judge(oneCall)).toEqual({ ok: false, reason: `TURN lines from 1 call (${A}), at least 2 needed (min_calls)` });
    expect(verdict(oneCall, { ...DEFAULT_THRESHOLDS, min_calls: 1 }).verdict).toBe("GO");
  });

  it("says how many malformed lines it skipped when nothing else was left", () => {
    const broken = coreStdout(coreLog([callTurns(1, 2), callTurns(2, 1)])).replaceAll(/"TTS_READY_MS":(\d+)/g, '"TTS_READY_MS":"$1"');
    expect(judge({ "core.log": broken })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^no TURN lines in core\.log \(3 malformed lines skipped, first: core\.log line 5: TURN line: TTS_READY_MS: /),
    });
  });

  it("counts a TURN line read twice once, and warns about a smoke call missing from the logs", () => {
    const lines = coreLog([callTurns(1, 3), callTurns(2, 3)]);
    const r = verdict({
      "core.log": coreStdout(lines),
      "logs.json": cloudLoggingExport(lines),
      "smoke.json": simulatorOutput([simulatorSummary(1, [1500]), simulatorSummary(9, [1600])]),
    });

    expect(r).toMatchObject({ verdict: "GO", turns: 6, duplicates: 6 });
    expect(r.warnings.map((w) => w.message)).toEqual([
      "6 duplicate TURN lines (same call and turn) counted once",
      `simulated call ${callSid(9)} has no TURN lines in the inputs (not in the logs yet, or outside the export's filter)`,
    ]);
  });
});

describe("the printed verdict", () => {
  it("reads verdict first, then the numbers, the reasons with their turns, and the diagnosis", () => {
    const r = verdict(smokeCalls((turn, h) => (turn === 1 ? { ...h, ttsReady: 1400 } : h)));
    const lines = formatResult(r).split("\n");

    expect(lines[0]).toBe("NO-GO: 2 calls, 6 turns with TURN lines; 2 simulated calls");
    expect(lines).toContain("  logs.json: Cloud Logging export, 13 records, 6 TURN lines");
    expect(lines).toContain("  smoke.json: simulator --json output, 2 records, 0 TURN lines, 2 simulated calls");
    expect(lines).toContain("  metric (ms)                n     p50     p95  target   bound  status");
    expect(lines).toContain("  TTS_READY_MS               6     176    1400     250     400  no-go");
    expect(lines).toContain("  LLM_FIRST_TOKEN_MS         6     424     486       -       -  report only");
    expect(lines).toContain("NO-GO because:");
    expect(lines).toContain("  - TTS_READY_MS p95 1400 ms > bound 400 ms (2 of 6 above)");
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^      ${A} turn 1: TTS_READY_MS 1400 ms \\(logs\\.json entry \\d+\\)$`)));
    expect(lines).toContain("  - warmup or cache mismatch: TTS_READY_MS above 1000 ms on 2 turns; tts_cache_hit was false on 2 of them");
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^      ${A} turn 1: TTS_READY_MS 1400 ms, tts_cache_hit false `)));
    expect(oneLine(r)).toBe("NO-GO: TTS_READY_MS p95 1400 ms > bound 400 ms (2 of 6 above); diagnosis: warmup or cache mismatch");
  });

  it("shows five turns of evidence and says how many more --json has", () => {
    const calls = [1, 2, 3].map((c) => callTurns(c, 3, (_t, h) => ({ ...h, io: 1900 })));
    const text = formatResult(verdict({ "core.log": coreStdout(coreLog(calls)) }));
    expect(text).toMatch(/\n {6}\.\.\. and 4 more \(--json lists all\)\n/);
  });

  it("says GO in one line with the first warning", () => {
    const r = verdict(smokeCalls((turn, h) => (turn === 2 ? { ...h, final: 820 } : h)));
    expect(oneLine(r)).toBe(
      "GO: 2 calls, 6 turns with TURN lines; 2 simulated calls, every p95 within its bound; 1 warning: STT_FINAL_MS p95 820 ms above target 700 ms, within bound 900 ms (2 of 6 above target)",
    );
  });
});
