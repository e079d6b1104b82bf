// The GO/NO-GO decision over every input: NO-GO when a metric's p95 is over its bound, a diagnosis
// (diagnoses.ts) holds, too many fixed phrases were spoken, or a simulated call failed (errors, or a
// line that wanted an answer got none). Too little evidence is no verdict at all: a GO needs TURN
// lines from `min_calls` calls; a failed simulated call is NO-GO whatever else is missing.
// Turns whose answer called tools are judged apart (tool-turns.ts): the metric table, its p95s and
// the diagnoses built on them are over plain turns only; fixed phrases and cold TTS over every turn.
// TURN lines of any revision count (turn-sample.ts): each check runs on the lines that carry what it
// reads, and the result says what the lines lacked and which checks that left undone (coverage.ts).
import { TURN_METRICS } from "@voice/protocol";
import { coverage, type Coverage } from "./coverage.js";
import { diagnose, type Diagnosis } from "./diagnoses.js";
import type { Finding } from "./evidence.js";
import { fallbackFailures, inputWarnings, malformedNote, metricFailures, metricWarnings, simulatorFailures, turnWarnings } from "./findings.js";
import type { InputKind, Malformed, ParsedInput, SimulatedCall } from "./input.js";
import type { GateTurnLine, TurnField, TurnSample } from "./turn-sample.js";
import { callerMeasurements, summarize, turnMeasurements, type Measurement, type MetricSummary } from "./stats.js";
import { METRICS, type MetricName, type Thresholds } from "./thresholds.js";
import { splitTurns, summarizeToolTurns, toolTurnFailures, toolTurnWarnings, type ToolTurns } from "./tool-turns.js";
import { plural } from "./words.js";

export interface InputSummary {
  name: string;
  kinds: InputKind[];
  records: number;
  turn_lines: number;
  simulated_calls: number;
  malformed: number;
}

/** Over the lines that carry the field each is counted from; null when none does. */
export interface Counts {
  retries: number | null;
  fallbacks: number | null;
  stt_fallback_turns: number | null;
  tts_failures: number | null;
  stt_used_partial_turns: number | null;
  interrupted_turns: number | null;
  dtmf_turns: number | null;
}

export interface GoNoGo {
  verdict: "GO" | "NO-GO";
  /** Calls with TURN lines, in the order first seen. */
  calls: string[];
  /** Every turn with a TURN line, tool turns included. */
  turns: number;
  simulated_calls: string[];
  /** Over plain turns (no tools); CALLER_LATENCY_MS over every answered simulator line. */
  metrics: MetricSummary[];
  /** Turns whose answer called tools, judged on TOTAL_LATENCY_MS − TOOL_MS. */
  tool_turns: ToolTurns;
  counts: Counts;
  /** The lines' schema versions, the fields they lacked and the checks that left undone. */
  coverage: Coverage;
  failures: Finding[];
  diagnoses: Diagnosis[];
  warnings: Finding[];
  malformed: { count: number; first?: Malformed };
  /** TURN lines seen twice (the same call and turn in two inputs), counted once. */
  duplicates: number;
  inputs: InputSummary[];
  thresholds: Thresholds;
}

export type Evaluation = { ok: true; result: GoNoGo } | { ok: false; reason: string };

export function evaluate(inputs: ParsedInput[], t: Thresholds): Evaluation {
  const { samples, duplicates } = uniqueTurns(inputs.flatMap((i) => i.turns));
  const simulated = inputs.flatMap((i) => i.calls);
  const malformed = inputs.flatMap((i) => i.malformed);
  const calls = [...new Set(samples.map((s) => s.line.call_id))];

  const { plain, tool } = splitTurns(samples);
  const measurements = measure(plain, simulated);
  const metrics = Object.fromEntries(METRICS.map((m) => [m, summarize(m, measurements[m], t.metrics[m])])) as Record<MetricName, MetricSummary>;
  const toolTurns = summarizeToolTurns(tool, t);
  const simulatorFailed = simulatorFailures(simulated);
  const failures = [...simulatorFailed, ...metricFailures(metrics, measurements), ...toolTurnFailures(toolTurns, tool), ...fallbackFailures(samples, t)];
  const diagnoses = diagnose(samples, plain, metrics, t);
  const warnings = [
    ...metricWarnings(metrics, measurements),
    ...toolTurnWarnings(toolTurns, tool),
    ...turnWarnings(samples),
    ...inputWarnings(inputs, simulated, calls, malformed, duplicates),
  ];

  const shortOfEvidence = evidenceProblem(inputs, calls, t);
  if (shortOfEvidence) {
    // A smoke call that failed is a NO-GO even without TURN lines (it may never have reached the core).
    if (simulatorFailed.length === 0) return { ok: false, reason: malformed.length ? `${shortOfEvidence} (${malformedNote(malformed)})` : shortOfEvidence };
    warnings.unshift({ message: `latency not judged: ${shortOfEvidence}`, evidence: [] });
  }

  return {
    ok: true,
    result: {
      verdict: failures.length || diagnoses.length ? "NO-GO" : "GO",
      calls,
      turns: samples.length,
      simulated_calls: simulated.map((c) => c.summary.call_sid),
      metrics: METRICS.map((m) => metrics[m]),
      tool_turns: toolTurns,
      counts: counts(samples),
      coverage: coverage(samples),
      failures,
      diagnoses,
      warnings,
      malformed: { count: malformed.length, first: malformed[0] },
      duplicates,
      inputs: inputs.map((i) => ({
        name: i.name,
        kinds: i.kinds,
        records: i.records,
        turn_lines: i.turns.length,
        simulated_calls: i.calls.length,
        malformed: i.malformed.length,
      })),
      thresholds: t,
    },
  };
}

/**
 * The same TURN line read twice (stdout and an export of the same calls) counts once. Calls come in
 * the order they started (an export lists the newest first), turns in order within a call. A line
 * without its turn number cannot be matched with another: it counts, after the numbered ones.
 */
function uniqueTurns(all: TurnSample[]): { samples: TurnSample[]; duplicates: number } {
  const byKey = new Map<string, TurnSample>();
  const firstLine = new Map<string, string>();
  for (const sample of all) {
    const { call_id, turn, timestamp = "" } = sample.line;
    const key = turn === undefined ? `${call_id}\n${sample.source}` : `${call_id}\n${turn}`;
    if (!byKey.has(key)) byKey.set(key, sample);
    const first = firstLine.get(call_id);
    if (first === undefined || timestamp < first) firstLine.set(call_id, timestamp);
  }
  // ISO timestamps sort as strings; a line without one counts as the earliest.
  const order = [...firstLine.keys()].sort((a, b) => Number(firstLine.get(a)! > firstLine.get(b)!) - Number(firstLine.get(a)! < firstLine.get(b)!));
  const samples = [...byKey.values()].sort(
    (a, b) => order.indexOf(a.line.call_id) - order.indexOf(b.line.call_id) || (a.line.turn ?? Infinity) - (b.line.turn ?? Infinity) || 0,
  );
  return { samples, duplicates: all.length - samples.length };
}

function measure(samples: TurnSample[], simulated: SimulatedCall[]): Record<MetricName, Measurement[]> {
  return {
    ...(Object.fromEntries(TURN_METRICS.map((m) => [m, turnMeasurements(samples, m)])) as Record<(typeof TURN_METRICS)[number], Measurement[]>),
    CALLER_LATENCY_MS: callerMeasurements(simulated),
  };
}

function evidenceProblem(inputs: ParsedInput[], calls: string[], t: Thresholds): string | undefined {
  if (calls.length === 0) {
    const onlySimulator = inputs.every((i) => i.turns.length === 0 && i.calls.length > 0);
    const hint = onlySimulator ? ": the simulator's output has no TURN metrics, pass the core's TURN lines too" : "";
    return `no TURN lines in ${inputs.map((i) => i.name).join(", ")}${hint}`;
  }
  if (calls.length < t.min_calls) {
    return `TURN lines from ${plural(calls.length, "call")} (${calls.join(", ")}), at least ${t.min_calls} needed (min_calls)`;
  }
  return undefined;
}

function counts(samples: TurnSample[]): Counts {
  const sum = <F extends TurnField>(field: F, count: (value: NonNullable<GateTurnLine[F]>) => number): number | null => {
    let total: number | null = null;
    for (const { line } of samples) {
      const value = line[field];
      if (value !== undefined && value !== null) total = (total ?? 0) + count(value);
    }
    return total;
  };
  return {
    retries: sum("retries", (n) => n),
    fallbacks: sum("fallbacks", (n) => n),
    stt_fallback_turns: sum("stt_fallback", Number),
    tts_failures: sum("tts_failures", (n) => n),
    stt_used_partial_turns: sum("stt_used_partial", Number),
    interrupted_turns: sum("interrupted", Number),
    dtmf_turns: sum("input", (input) => Number(input === "dtmf")),
  };
}
