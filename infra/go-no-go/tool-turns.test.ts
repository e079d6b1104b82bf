import type { TurnLine } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { callSid, callTurns, cloudLoggingExport, coreLog, simulatorOutput, simulatorSummary, toolTurnFacts, type Stages, type ToolUse } from "./fixtures.js";
import { formatResult, oneLine } from "./format.js";
import { parseInput } from "./input.js";
import { DEFAULT_THRESHOLDS } from "./thresholds.js";
import { evaluate, type GoNoGo } from "./verdict.js";

const A = callSid(1);
const B = callSid(2);

type Facts = (turn: number, stages: Stages) => Partial<TurnLine>;

/** The two smoke calls (export and simulator output); `facts(call)` makes some of their turns tool turns. */
function verdict(facts: (call: number) => Facts = () => () => ({}), turns = 3): GoNoGo {
  const files = {
    "logs.json": cloudLoggingExport(coreLog([1, 2].map((c) => callTurns(c, turns, undefined, facts(c))))),
    "smoke.json": simulatorOutput([simulatorSummary(1, [1480, 1610, 1550]), simulatorSummary(2, [1520, 1700, 1490])]),
  };
  const inputs = Object.entries(files).map(([name, text]) => {
    const parsed = parseInput(name, text);
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.input;
  });
  const evaluation = evaluate(inputs, DEFAULT_THRESHOLDS);
  if (!evaluation.ok) throw new Error(evaluation.reason);
  return evaluation.result;
}

const booking: ToolUse[] = [
  { name: "check_slots", ok: true, ms: 700 },
  { name: "book_appointment", ok: true, ms: 500 },
];

/** Call A's turn 2 answered after 3500 ms; `facts` says whether tools explain 1200 ms of it. */
const slowTurn2 =
  (facts: Partial<TurnLine>) =>
  (call: number): Facts =>
  (turn) =>
    call === 1 && turn === 2 ? { TOTAL_LATENCY_MS: 3500, ...facts } : {};

describe("tool turns", () => {
  it("does not make the verdict NO-GO for a tool turn of TOTAL 3500 ms with TOOL_MS 1200 ms: it is judged on 2300 ms", () => {
    const r = verdict(slowTurn2({ TOOL_MS: 1200, tools: booking, tool_filler: false }));

    expect(r.verdict).toBe("GO");
    expect(r.failures).toEqual([]);
    expect(r.turns).toBe(6);
    expect(r.metrics.find((m) => m.metric === "TOTAL_LATENCY_MS")).toMatchObject({ n: 5, status: "ok" });
    expect(r.tool_turns).toEqual({
      n: 1,
      tool_ms: { median: 1200, max: 1200 },
      latency: { metric: "TOTAL_LATENCY_MS - TOOL_MS", n: 1, p50: 2300, p95: 2300, target: 2200, bound: 2800, status: "warning" },
      tool_calls: 2,
      failed_tool_calls: 0,
    });
    expect(r.warnings.map((w) => w.message)).toEqual(["tool turns: TOTAL_LATENCY_MS − TOOL_MS p95 2300 ms above target 2200 ms, within bound 2800 ms (1 of 1 above target)"]);
    expect(r.warnings[0]!.evidence).toEqual([
      {
        call_id: A,
        turn: 2,
        source: expect.stringMatching(/^logs\.json entry \d+$/),
        values: { TOTAL_LATENCY_MS: 3500, TOOL_MS: 1200, "TOTAL_LATENCY_MS - TOOL_MS": 2300, tools: "check_slots ok 700 ms, book_appointment ok 500 ms" },
      },
    ]);
  });

  it("makes the verdict NO-GO for the same turn without TOOL_MS: as a plain turn, or as a tool turn that lacks it", () => {
    const plain = verdict(slowTurn2({}));
    expect(plain.verdict).toBe("NO-GO");
    expect(plain.failures.map((f) => f.message)).toEqual(["TOTAL_LATENCY_MS p95 3500 ms > bound 2800 ms (1 of 6 above)"]);
    expect(plain.tool_turns).toMatchObject({ n: 0, tool_ms: null, latency: { n: 0, status: "no samples" } });

    const untimed = verdict(slowTurn2({ tools: booking }));
    expect(untimed.verdict).toBe("NO-GO");
    expect(untimed.failures.map((f) => f.message)).toEqual(["tool turns: TOTAL_LATENCY_MS − TOOL_MS p95 3500 ms > bound 2800 ms (1 of 1 above)"]);
    expect(untimed.failures[0]!.evidence.map((e) => [e.call_id, e.turn])).toEqual([[A, 2]]);
    expect(untimed.warnings.map((w) => w.message)).toEqual(["1 tool turn without TOOL_MS, judged on the whole TOTAL_LATENCY_MS"]);
    expect(oneLine(untimed)).toBe("NO-GO: tool turns: TOTAL_LATENCY_MS − TOOL_MS p95 3500 ms > bound 2800 ms (1 of 1 above)");
  });

  it("leaves the plain turns' percentiles as they were when tool turns are added", () => {
    const without = verdict();
    // A fourth turn in each call that booked: slow tools, and stages that would move every p95 if mixed in.
    const withTools = verdict(
      () => (turn, stages) =>
        turn === 4 ? toolTurnFacts({ ...stages, firstPartial: 490, final: 880, ttsReady: 390 }, [{ name: "book_appointment", ok: true, ms: 4000 }], { STT_FIRST_PARTIAL_MS: 490, STT_FINAL_MS: 880, TTS_READY_MS: 390 }) : {},
      4,
    );

    expect(withTools.turns).toBe(8);
    expect(withTools.metrics).toEqual(without.metrics);
    expect(withTools.verdict).toBe("GO");
    expect(withTools.tool_turns).toMatchObject({ n: 2, tool_ms: { median: 4000, max: 4000 }, latency: { n: 2, status: "ok" } });
  });

  it("warns about a failed tool, naming the tool and the turn, without making it NO-GO", () => {
    const failed: ToolUse[] = [{ name: "book_appointment", ok: false, ms: 3000 }];
    const r = verdict((call) => (turn, stages) => (call === 2 && turn === 3 ? toolTurnFacts(stages, failed, { tool_filler: true }) : {}));

    expect(r.verdict).toBe("GO");
    expect(r.tool_turns).toMatchObject({ n: 1, tool_calls: 1, failed_tool_calls: 1 });
    expect(r.warnings.map((w) => w.message)).toEqual([`tool book_appointment failed on ${B} turn 3 after 3000 ms (not a NO-GO by itself)`]);
    expect(r.warnings[0]!.evidence[0]).toMatchObject({ call_id: B, turn: 3, values: { TOOL_MS: 3000, tool_filler: true, fallbacks: 0, tool: "book_appointment", tool_ms: 3000 } });
  });

  it("says in one line how many tool turns there were, their TOOL_MS median and max, and what they are judged on", () => {
    const toolMs: Record<string, number> = { "1/1": 600, "1/3": 1400, "2/2": 820 };
    const r = verdict((call) => (turn, stages) => {
      const ms = toolMs[`${call}/${turn}`];
      return ms === undefined ? {} : toolTurnFacts(stages, [{ name: "check_slots", ok: true, ms }]);
    });
    const lines = formatResult(r).split("\n");

    expect(r.verdict).toBe("GO");
    expect(lines).toContain("tool turns: 3, judged on TOTAL_LATENCY_MS − TOOL_MS; TOOL_MS median 820 ms, max 1400 ms");
    expect(lines).toContain(`  TOTAL − TOOL_MS            3    ${r.tool_turns.latency.p50}    ${r.tool_turns.latency.p95}    2200    2800  ok`);
    expect(lines.indexOf("tool turns: 3, judged on TOTAL_LATENCY_MS − TOOL_MS; TOOL_MS median 820 ms, max 1400 ms")).toBe(
      lines.findIndex((l) => l.startsWith("  CALLER_LATENCY_MS")) + 2,
    );
    expect(formatResult(verdict())).not.toMatch(/tool turns|TOOL_MS/);
  });
});
