// Each metric's samples, their p50/p95, and where the p95 stands against its target and bound.
import { distribution } from "../stats/distribution.js";
import type { TurnMetric } from "@voice/protocol";
import { turnEvidence, type Evidence } from "./evidence.js";
import type { SimulatedCall } from "./input.js";
import type { TurnSample } from "./turn-sample.js";
import type { Limits, MetricName } from "./thresholds.js";

/** One value of a metric and the turn or line it came from. */
export interface Measurement {
  value: number;
  evidence: Evidence;
}

export type MetricStatus = "ok" | "warning" | "no-go" | "no samples" | "report only";

export interface MetricSummary extends Limits {
  metric: MetricName;
  n: number;
  p50: number | null;
  p95: number | null;
  status: MetricStatus;
}

/** A metric absent from a turn (its stage did not happen) is no sample, never a zero. */
export function turnMeasurements(samples: TurnSample[], metric: TurnMetric): Measurement[] {
  return samples.flatMap((sample) => {
    const value = sample.line[metric];
    if (value === undefined) return [];
    // A held end of utterance (EOU_HOLD_MS: the caller paused on an unfinished sentence) is a wait
    // on the caller, made on purpose; the stack's latency is the rest of TOTAL_LATENCY_MS.
    const held = metric === "TOTAL_LATENCY_MS" ? (sample.line.EOU_HOLD_MS ?? 0) : 0;
    if (held === 0) return [{ value, evidence: turnEvidence(sample, [metric]) }];
    return [{ value: Math.max(0, value - held), evidence: turnEvidence(sample, [metric, "EOU_HOLD_MS"], { "TOTAL_LATENCY_MS - EOU_HOLD_MS": value - held }) }];
  });
}

/** What the caller heard: the simulator's latency of each answered line. */
export function callerMeasurements(calls: SimulatedCall[]): Measurement[] {
  return calls.flatMap(({ summary, source }) =>
    summary.turns.flatMap((turn, i) =>
      turn.caller_latency_ms === null
        ? []
        : [{ value: turn.caller_latency_ms, evidence: { call_id: summary.call_sid, sim_line: i + 1, source, values: { CALLER_LATENCY_MS: turn.caller_latency_ms } } }],
    ),
  );
}

export function summarize(metric: MetricName, measurements: Measurement[], limits: Limits): MetricSummary {
  if (measurements.length === 0) return { metric, n: 0, p50: null, p95: null, ...limits, status: "no samples" };
  const { n, median, p95 } = distribution(measurements.map((m) => m.value));
  return { metric, n, p50: median, p95, ...limits, status: status(p95, limits) };
}

function status(p95: number, { target, bound }: Limits): MetricStatus {
  if (bound !== undefined && p95 > bound) return "no-go";
  if (target !== undefined && p95 > target) return "warning";
  return bound === undefined && target === undefined ? "report only" : "ok";
}

/** The measurements above a limit, worst first: the evidence of a p95 over it. */
export function above(measurements: Measurement[], limit: number): Evidence[] {
  return measurements
    .filter((m) => m.value > limit)
    .sort((a, b) => b.value - a.value)
    .map((m) => m.evidence);
}
