// Turns whose answer called the business's tools (a TURN line with a non-empty `tools`), judged apart
// from plain turns: a booking turn is slower by the time it waited on the tools (TOOL_MS), which is
// the business's, not ours. So tool turns stay out of the plain turns' percentiles, and their
// TOTAL_LATENCY_MS minus TOOL_MS (the time our stack added around the tools) is judged against the
// same TOTAL_LATENCY_MS target and bound, on its own p95. A failed tool is a warning: the caller
// heard an apology, and a fixed phrase counted as a fallback is the fallback rule's business.
import { distribution } from "../stats/distribution.js";
import { turnEvidence, type Finding } from "./evidence.js";
import type { TurnSample } from "./turn-sample.js";
import { above, summarize, type Measurement, type MetricSummary } from "./stats.js";
import type { Thresholds } from "./thresholds.js";
import { plural } from "./words.js";

/** What a tool turn is judged on, as the JSON names it (the text says TOTAL_LATENCY_MS − TOOL_MS). */
export const TOOL_TURN_METRIC = "TOTAL_LATENCY_MS - TOOL_MS";

export interface ToolTurns {
  /** Turns whose answer called tools. */
  n: number;
  /** TOOL_MS over those turns (null: none has it). */
  tool_ms: { median: number; max: number } | null;
  /** TOTAL_LATENCY_MS − TOOL_MS over the tool turns with a TOTAL, against TOTAL_LATENCY_MS's target and bound. */
  latency: Omit<MetricSummary, "metric"> & { metric: typeof TOOL_TURN_METRIC };
  /** Tool calls made on those turns, and those that failed (`ok: false`). */
  tool_calls: number;
  failed_tool_calls: number;
}

export function isToolTurn(sample: TurnSample): boolean {
  return (sample.line.tools?.length ?? 0) > 0;
}

/** Plain turns (no tools, or an empty list) and tool turns, each in the order given. */
export function splitTurns(samples: TurnSample[]): { plain: TurnSample[]; tool: TurnSample[] } {
  return { plain: samples.filter((s) => !isToolTurn(s)), tool: samples.filter(isToolTurn) };
}

/**
 * The time our stack added around the tools: TOTAL_LATENCY_MS − TOOL_MS, never below 0. This takes
 * TOTAL to have waited on all of TOOL_MS; when audio went out while a tool still ran (a filler, or the
 * model's own words before its tool call) TOTAL ended earlier, and the figure understates our time.
 * A tool turn without TOOL_MS has nothing to take off: it is judged on its whole TOTAL.
 */
export function toolTurnLatency(sample: TurnSample): number | undefined {
  const { TOTAL_LATENCY_MS: total, TOOL_MS: toolMs = 0 } = sample.line;
  return total === undefined ? undefined : Math.max(0, total - toolMs);
}

export function toolTurnMeasurements(tool: TurnSample[]): Measurement[] {
  return tool.flatMap((s) => {
    const value = toolTurnLatency(s);
    return value === undefined ? [] : [{ value, evidence: turnEvidence(s, ["TOTAL_LATENCY_MS", "TOOL_MS"], { [TOOL_TURN_METRIC]: value, tools: toolNames(s) }) }];
  });
}

export function summarizeToolTurns(tool: TurnSample[], t: Thresholds): ToolTurns {
  const toolMs = tool.flatMap((s) => (s.line.TOOL_MS === undefined ? [] : [s.line.TOOL_MS]));
  const spread = toolMs.length ? distribution(toolMs) : undefined;
  const calls = tool.flatMap((s) => s.line.tools ?? []);
  const { metric: _judgedAs, ...latency } = summarize("TOTAL_LATENCY_MS", toolTurnMeasurements(tool), t.metrics.TOTAL_LATENCY_MS);
  return {
    n: tool.length,
    tool_ms: spread ? { median: spread.median, max: spread.max } : null,
    latency: { metric: TOOL_TURN_METRIC, ...latency },
    tool_calls: calls.length,
    failed_tool_calls: calls.filter((c) => !c.ok).length,
  };
}

/** The tool turns' p95 over the TOTAL_LATENCY_MS bound: NO-GO, naming the turns. */
export function toolTurnFailures(summary: ToolTurns, tool: TurnSample[]): Finding[] {
  const { status, p95, bound, n } = summary.latency;
  if (status !== "no-go") return [];
  const evidence = above(toolTurnMeasurements(tool), bound!);
  return [{ message: `tool turns: TOTAL_LATENCY_MS − TOOL_MS p95 ${p95} ms > bound ${bound} ms (${evidence.length} of ${n} above)`, evidence }];
}

/** Over target within bound, a tool turn without TOOL_MS, a failed tool: not a NO-GO, but to be read. */
export function toolTurnWarnings(summary: ToolTurns, tool: TurnSample[]): Finding[] {
  const warnings: Finding[] = [];
  const { status, p95, target, bound, n } = summary.latency;
  if (status === "warning") {
    const evidence = above(toolTurnMeasurements(tool), target!);
    const within = bound === undefined ? "" : `, within bound ${bound} ms`;
    warnings.push({ message: `tool turns: TOTAL_LATENCY_MS − TOOL_MS p95 ${p95} ms above target ${target} ms${within} (${evidence.length} of ${n} above target)`, evidence });
  }
  const untimed = tool.filter((s) => s.line.TOOL_MS === undefined);
  if (untimed.length) {
    warnings.push({
      message: `${plural(untimed.length, "tool turn")} without TOOL_MS, judged on the whole TOTAL_LATENCY_MS`,
      evidence: untimed.map((s) => turnEvidence(s, ["TOTAL_LATENCY_MS"], { tools: toolNames(s) })),
    });
  }
  for (const s of tool) {
    for (const use of s.line.tools ?? []) {
      if (use.ok) continue;
      warnings.push({
        message: `tool ${use.name} failed on ${s.line.call_id} turn ${s.line.turn} after ${use.ms} ms (not a NO-GO by itself)`,
        evidence: [turnEvidence(s, ["TOOL_MS", "tool_filler", "fallbacks"], { tool: use.name, tool_ms: use.ms })],
      });
    }
  }
  return warnings;
}

/** The text report's one line about tool turns (absent without any). */
export function toolTurnsLine(summary: ToolTurns): string | undefined {
  if (summary.n === 0) return undefined;
  const toolMs = summary.tool_ms ? `TOOL_MS median ${summary.tool_ms.median} ms, max ${summary.tool_ms.max} ms` : "no TOOL_MS";
  return `tool turns: ${summary.n}, judged on TOTAL_LATENCY_MS − TOOL_MS; ${toolMs}`;
}

/** "check_slots ok 820 ms, book_appointment failed 400 ms". */
function toolNames(s: TurnSample): string {
  return (s.line.tools ?? []).map((use) => `${use.name} ${use.ok ? "ok" : "failed"} ${use.ms} ms`).join(", ");
}
