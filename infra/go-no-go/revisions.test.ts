// GO/NO-GO on the TURN lines of any revision of the core: lines holding only a call id and the five
// seed metrics (a leaner or older core), and a rollout's mix of such lines with schema 2 lines.
import { describe, expect, it } from "vitest";
import { callSid, callTurns, coreLog, coreStdout, leanTurn, schema2Facts, type Stages, type TurnLineFields } from "./fixtures.js";
import { formatResult, oneLine } from "./format.js";
import { parseInput } from "./input.js";
import { DEFAULT_THRESHOLDS } from "./thresholds.js";
import { ALWAYS_WRITTEN } from "./turn-sample.js";
import { evaluate, type GoNoGo } from "./verdict.js";

const A = callSid(1);
const B = callSid(2);
const healthy = (_turn: number, stages: Stages) => stages;

function verdict(calls: TurnLineFields[][]): GoNoGo {
  const parsed = parseInput("core.log", coreStdout(coreLog(calls)));
  if (!parsed.ok) throw new Error(parsed.reason);
  const evaluation = evaluate([parsed.input], DEFAULT_THRESHOLDS);
  if (!evaluation.ok) throw new Error(evaluation.reason);
  return evaluation.result;
}

/** Call `call`'s three turns as a lean core writes them: a call id and the five metrics. */
const lean = (call: number, stages: (turn: number, healthy: Stages) => Stages = healthy) => callTurns(call, 3, stages).map((line) => leanTurn(line));
/** The same turns as a schema 2 core writes them. */
const schema2 = (call: number, stages: (turn: number, healthy: Stages) => Stages = healthy) => callTurns(call, 3, stages, (_turn, s) => schema2Facts(s));

describe("TURN lines holding only a call id and the five seed metrics", () => {
  it("are GO when healthy, with the same figures as whole lines, naming what they lack and what could not run", () => {
    const r = verdict([lean(1), lean(2)]);
    const whole = verdict([callTurns(1, 3), callTurns(2, 3)]);

    expect(r).toMatchObject({ verdict: "GO", calls: [A, B], turns: 6, failures: [], diagnoses: [], warnings: [] });
    expect(r.metrics).toEqual(whole.metrics);
    expect(r.counts).toEqual({ retries: null, fallbacks: null, stt_fallback_turns: null, tts_failures: null, stt_used_partial_turns: null, interrupted_turns: null, dtmf_turns: null });
    expect(r.coverage.schema_versions).toEqual([{ version: 1, lines: 6 }]);
    expect(r.coverage.missing_fields).toEqual(ALWAYS_WRITTEN.map((field) => ({ field, lines: 6 })));
    expect(r.coverage.checks_limited.map((c) => [c.check, c.run])).toEqual([
      ["I/O, logging or network diagnosis", "not run"],
      ["EOU too loose diagnosis's hint (hangover in effect, partials used)", "not run"],
      ["warmup or cache mismatch diagnosis's cache hit or miss", "not run"],
      ["fixed phrases spoken (max_fallbacks)", "not run"],
      ["tool turns judged apart", "not run"],
      ["held end of utterance taken off TOTAL_LATENCY_MS", "not run"],
      ["retry, fallback transcription and skipped sentence warnings", "not run"],
    ]);
    // Whole lines of the current schema leave nothing undone.
    expect(whole.coverage).toMatchObject({ missing_fields: [], unreadable_fields: [], checks_limited: [] });

    const text = formatResult(r).split("\n");
    expect(text[0]).toBe("GO: 2 calls, 6 turns with TURN lines");
    expect(text).toContain("TURN lines by schema version: 1: 6 lines");
    expect(text).toContain(`missing fields (a leaner or older core did not write them): 6 of 6 lines lack ${ALWAYS_WRITTEN.join(", ")}`);
    expect(text).toContain("not run, no line carries what they read:");
    expect(text).toContain("  - I/O, logging or network diagnosis: needs EOU_MS");
    expect(text).toContain("counts (over the lines that carry each): retries n/a, fallbacks n/a, fallback transcriptions n/a, tts failures n/a, partial used at timeout n/a, interrupted n/a, keypad turns n/a");
    expect(oneLine(r)).toBe("GO: 2 calls, 6 turns with TURN lines, every p95 within its bound; 7 checks not run for fields the TURN lines lack");
  });

  it("are NO-GO on a cold TTS with the warmup diagnosis, saying the lines do not tell a cache miss", () => {
    const r = verdict([lean(1, (turn, h) => (turn === 1 ? { ...h, ttsReady: 1400 } : h)), lean(2)]);

    expect(r.verdict).toBe("NO-GO");
    expect(r.failures.map((f) => f.message)).toEqual(["TTS_READY_MS p95 1400 ms > bound 400 ms (1 of 6 above)"]);
    expect(r.diagnoses.map((d) => [d.kind, d.message])).toEqual([
      ["warmup_or_cache_mismatch", "TTS_READY_MS above 1000 ms on 1 turn; tts_cache_hit was false on 0 of them, not in the line on 1"],
    ]);
    expect(r.diagnoses[0]!.evidence).toEqual([{ call_id: A, source: "core.log line 5", values: { TTS_READY_MS: 1400 } }]);
  });

  it("are NO-GO on a late final with a fast first partial, diagnosed as EOU too loose without the hangover figure", () => {
    const r = verdict([lean(1, (_t, h) => ({ ...h, final: 1150 })), lean(2, (_t, h) => ({ ...h, final: 1150 }))]);

    expect(r.failures.map((f) => f.message)).toEqual(["STT_FINAL_MS p95 1150 ms > bound 900 ms (6 of 6 above)"]);
    expect(r.diagnoses.map((d) => d.kind)).toEqual(["eou_too_loose"]);
    expect(r.diagnoses[0]!.hint).toBe(
      "lower VAD_HANGOVER_MS (no EOU_MS in the lines to show the hangover in effect) and STT_TIMEOUT_MS " +
        "(no final came and the partial was used after the timeout on 0 of these 6 turns, not in the line on 6)",
    );
  });

  it("are NO-GO on a slow total, without blaming I/O they cannot show", () => {
    const r = verdict([lean(1, (_t, h) => ({ ...h, io: 1800 })), lean(2, (_t, h) => ({ ...h, io: 1800 }))]);
    expect(r.failures.map((f) => f.message)).toEqual(["TOTAL_LATENCY_MS p95 3175 ms > bound 2800 ms (6 of 6 above)"]);
    expect(r.diagnoses).toEqual([]);
    expect(r.coverage.checks_limited[0]).toEqual({ check: "I/O, logging or network diagnosis", needs: ["EOU_MS"], lines_lacking: 6, of: 6, run: "not run" });
  });
});

describe("a rollout's mix of lean schema 1 lines and schema 2 lines", () => {
  it("is judged over both, grouped by schema version, with the checks run on the lines that allow them", () => {
    const r = verdict([lean(1), schema2(2)]);

    expect(r).toMatchObject({ verdict: "GO", calls: [A, B], turns: 6, failures: [], diagnoses: [] });
    expect(r.metrics.find((m) => m.metric === "TOTAL_LATENCY_MS")).toMatchObject({ n: 6, p95: 1400, status: "ok" });
    expect(r.counts).toMatchObject({ retries: 0, fallbacks: 0, dtmf_turns: 0 });
    expect(r.coverage.schema_versions).toEqual([
      { version: 1, lines: 3 },
      { version: 2, lines: 3 },
    ]);
    expect(r.coverage.missing_fields).toEqual(ALWAYS_WRITTEN.map((field) => ({ field, lines: 3 })));
    expect(new Set(r.coverage.checks_limited.map((c) => `${c.run} ${c.lines_lacking}/${c.of}`))).toEqual(new Set(["partly 3/6"]));

    const text = formatResult(r).split("\n");
    expect(text).toContain("TURN lines by schema version: 1: 3 lines, 2: 3 lines");
    expect(text).toContain("run on part of the lines:");
    expect(text).toContain("  - I/O, logging or network diagnosis: 3 of 6 lines lack EOU_MS");
    expect(text).toContain("  - fixed phrases spoken (max_fallbacks): 3 of 6 lines lack fallbacks");
  });

  it("diagnoses I/O from the schema 2 lines that show it, and judges the fixed phrases they report", () => {
    const slow = (_t: number, h: Stages) => ({ ...h, io: 1800 });
    const calls = [lean(1, slow), callTurns(2, 3, slow, (turn, s) => ({ ...schema2Facts(s), fallbacks: turn === 2 ? 1 : 0 }))];
    const r = verdict(calls);

    expect(r.verdict).toBe("NO-GO");
    expect(r.failures.map((f) => f.message)).toEqual([
      "TOTAL_LATENCY_MS p95 3175 ms > bound 2800 ms (6 of 6 above)",
      "1 fixed phrase spoken instead of answers (max_fallbacks 0): recognition, LLM or TTS failed",
    ]);
    expect(r.diagnoses.map((d) => d.kind)).toEqual(["io_or_network"]);
    expect(new Set(r.diagnoses[0]!.evidence.map((e) => e.call_id))).toEqual(new Set([B]));
  });
});
