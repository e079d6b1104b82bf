// The findings behind a verdict, each a line of text and the turns or lines it is about: the
// failures that make it NO-GO (a failed smoke call, a p95 over its bound, fixed phrases spoken) and
// the warnings an engineer should still read (a p95 over its target, retries, skipped input).
import { turnEvidence, type Evidence, type Finding } from "./evidence.js";
import type { Malformed, ParsedInput, SimulatedCall } from "./input.js";
import type { TurnSample } from "./turn-sample.js";
import { above, type Measurement, type MetricSummary } from "./stats.js";
import { METRICS, type MetricName, type Thresholds } from "./thresholds.js";
import { plural } from "./words.js";

export function malformedNote(malformed: Malformed[]): string {
  const first = malformed[0]!;
  return `${plural(malformed.length, "malformed line")} skipped, first: ${first.source}: ${first.reason}`;
}

export function simulatorFailures(simulated: SimulatedCall[]): Finding[] {
  return simulated.flatMap(({ summary, source }) => {
    const findings: Finding[] = summary.errors.map((error) => ({
      message: `simulated call ${summary.call_sid} failed: ${error}`,
      evidence: [{ call_id: summary.call_sid, source, values: { error } }],
    }));
    const unanswered: Evidence[] = summary.turns.flatMap((turn, i) =>
      turn.expect_answer && turn.caller_latency_ms === null
        ? [{ call_id: summary.call_sid, sim_line: i + 1, source, values: { caller_text: turn.caller_text } }]
        : [],
    );
    if (unanswered.length) {
      findings.push({ message: `simulated call ${summary.call_sid}: ${unanswered.length} of ${plural(summary.turns.length, "line")} got no answer`, evidence: unanswered });
    }
    return findings;
  });
}

export function metricFailures(metrics: Record<MetricName, MetricSummary>, measurements: Record<MetricName, Measurement[]>): Finding[] {
  return METRICS.filter((m) => metrics[m].status === "no-go").map((m) => {
    const { p95, bound, n } = metrics[m];
    const evidence = above(measurements[m], bound!);
    return { message: `${m} p95 ${p95} ms > bound ${bound} ms (${evidence.length} of ${n} above)`, evidence };
  });
}

export function metricWarnings(metrics: Record<MetricName, MetricSummary>, measurements: Record<MetricName, Measurement[]>): Finding[] {
  return METRICS.flatMap((m): Finding[] => {
    const { status, p95, target, bound, n } = metrics[m];
    if (status === "warning") {
      const evidence = above(measurements[m], target!);
      const within = bound === undefined ? "" : `, within bound ${bound} ms`;
      return [{ message: `${m} p95 ${p95} ms above target ${target} ms${within} (${evidence.length} of ${n} above target)`, evidence }];
    }
    if (status === "no samples" && (target !== undefined || bound !== undefined)) return [{ message: `${m}: no samples, not judged`, evidence: [] }];
    return [];
  });
}

export function fallbackFailures(samples: TurnSample[], t: Thresholds): Finding[] {
  const total = samples.reduce((sum, s) => sum + (s.line.fallbacks ?? 0), 0);
  if (total <= t.max_fallbacks) return [];
  return [
    {
      message: `${plural(total, "fixed phrase")} spoken instead of answers (max_fallbacks ${t.max_fallbacks}): recognition, LLM or TTS failed`,
      evidence: samples.filter((s) => (s.line.fallbacks ?? 0) > 0).map((s) => turnEvidence(s, ["fallbacks", "LLM_FIRST_TOKEN_MS", "tts_failures", "transcript"])),
    },
  ];
}

/** Recovered trouble: not a NO-GO on its own, but an engineer should see it. */
export function turnWarnings(samples: TurnSample[]): Finding[] {
  const warn = (message: string, hits: TurnSample[], fields: Parameters<typeof turnEvidence>[1]): Finding[] =>
    hits.length ? [{ message, evidence: hits.map((s) => turnEvidence(s, fields)) }] : [];
  const retried = samples.filter((s) => (s.line.retries ?? 0) > 0);
  const sttFallback = samples.filter((s) => s.line.stt_fallback === true);
  const ttsFailed = samples.filter((s) => (s.line.tts_failures ?? 0) > 0);
  return [
    ...warn(`retries on ${retried.length} of ${plural(samples.length, "turn")}`, retried, ["retries"]),
    ...warn(`fallback transcription (recognition down) on ${plural(sttFallback.length, "turn")}`, sttFallback, ["stt_fallback", "STT_FINAL_MS"]),
    ...warn(`sentences skipped because synthesis failed on ${plural(ttsFailed.length, "turn")}`, ttsFailed, ["tts_failures", "answer_sentences"]),
  ];
}

export function inputWarnings(inputs: ParsedInput[], simulated: SimulatedCall[], calls: string[], malformed: Malformed[], duplicates: number): Finding[] {
  const warnings: Finding[] = [];
  if (malformed.length) warnings.push({ message: malformedNote(malformed), evidence: [] });
  if (duplicates) warnings.push({ message: `${plural(duplicates, "duplicate TURN line")} (same call and turn) counted once`, evidence: [] });
  for (const input of inputs) {
    if (input.turns.length === 0 && input.calls.length === 0 && input.malformed.length === 0) {
      warnings.push({ message: `${input.name}: no TURN line and no simulator output in it`, evidence: [] });
    }
  }
  if (calls.length) {
    for (const { summary, source } of simulated) {
      if (!calls.includes(summary.call_sid)) {
        warnings.push({
          message: `simulated call ${summary.call_sid} has no TURN lines in the inputs (not in the logs yet, or outside the export's filter)`,
          evidence: [{ call_id: summary.call_sid, source, values: {} }],
        });
      }
    }
  }
  return warnings;
}
