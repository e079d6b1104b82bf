// The NO-GO diagnoses (ARCHITECTURE.md, Turn metrics and targets), each naming the turns and values behind it:
// - TTS ready > 1000 ms: warmup did not run or the cache key did not match;
// - a high final with a fast first partial: the end of utterance is decided too late (EOU too loose);
// - a high total with healthy parts: I/O, logging or network round trips.
// The last two read the metric table, which is over plain turns: they look at plain turns only (a
// tool turn's TOTAL holds its TOOL_MS). A cold TTS is per turn and tools do not slow it: every turn.
// Each runs on what the lines carry: the I/O diagnosis needs EOU_MS (a turn without it is left out),
// the others say what their lines did not (coverage.ts lists the checks lines were too lean for).
import { distribution } from "../stats/distribution.js";
import { turnEvidence, type Evidence } from "./evidence.js";
import type { TurnSample } from "./turn-sample.js";
import type { MetricSummary } from "./stats.js";
import type { MetricName, Thresholds } from "./thresholds.js";
import { plural } from "./words.js";

export type DiagnosisKind = "warmup_or_cache_mismatch" | "eou_too_loose" | "io_or_network";

export interface Diagnosis {
  kind: DiagnosisKind;
  /** What the numbers show. */
  message: string;
  /** What it means and where to look. */
  hint: string;
  evidence: Evidence[];
}

/** `samples`: every turn; `plain`: the turns without tools, the ones `metrics` was computed over. */
export function diagnose(samples: TurnSample[], plain: TurnSample[], metrics: Record<MetricName, MetricSummary>, t: Thresholds): Diagnosis[] {
  return [warmupOrCacheMismatch(samples, t), eouTooLoose(plain, metrics, t), ioOrNetwork(plain, metrics, t)].filter(
    (d): d is Diagnosis => d !== undefined,
  );
}

function warmupOrCacheMismatch(samples: TurnSample[], t: Thresholds): Diagnosis | undefined {
  const cold = samples
    .filter((s) => (s.line.TTS_READY_MS ?? 0) > t.tts_cold_ms)
    .sort((a, b) => b.line.TTS_READY_MS! - a.line.TTS_READY_MS!);
  if (cold.length === 0) return undefined;
  const misses = cold.filter((s) => s.line.tts_cache_hit === false).length;
  const hits = cold.filter((s) => s.line.tts_cache_hit === true).length;
  const unsaid = cold.length - misses - hits;
  return {
    kind: "warmup_or_cache_mismatch",
    message:
      `TTS_READY_MS above ${t.tts_cold_ms} ms on ${plural(cold.length, "turn")}; tts_cache_hit was false on ${misses} of them` +
      (unsaid ? `, not in the line on ${unsaid}` : ""),
    hint:
      "warmup did not run or the TTS cache key did not match: check GET /health/warmup (tts_warmup_ms, greeting_cached) " +
      "and that LANGUAGE / TTS_VOICE / GREETING_TEXT are the values warmup used" +
      (hits ? "; slow cache hits point at a stalled process rather than synthesis" : ""),
    evidence: cold.map((s) => turnEvidence(s, ["TTS_READY_MS", "tts_cache_hit"])),
  };
}

function eouTooLoose(samples: TurnSample[], metrics: Record<MetricName, MetricSummary>, t: Thresholds): Diagnosis | undefined {
  const final = metrics.STT_FINAL_MS;
  const partial = metrics.STT_FIRST_PARTIAL_MS;
  const fastPartial = t.metrics.STT_FIRST_PARTIAL_MS.bound ?? t.metrics.STT_FIRST_PARTIAL_MS.target;
  if (final.status !== "no-go" || partial.p95 === null || fastPartial === undefined || partial.p95 > fastPartial) return undefined;
  const late = samples
    .filter((s) => (s.line.STT_FINAL_MS ?? 0) > final.bound! && (s.line.STT_FIRST_PARTIAL_MS ?? Infinity) <= fastPartial)
    .sort((a, b) => b.line.STT_FINAL_MS! - a.line.STT_FINAL_MS!);
  const usedPartial = late.filter((s) => s.line.stt_used_partial === true).length;
  const partialUnsaid = late.filter((s) => s.line.stt_used_partial === undefined).length;
  const eous = samples.flatMap((s) => (s.line.EOU_MS === undefined ? [] : [s.line.EOU_MS]));
  const hangover = eous.length ? `EOU_MS p95 ${distribution(eous).p95} ms is the hangover in effect` : "no EOU_MS in the lines to show the hangover in effect";
  const partials = partialUnsaid ? `, not in the line on ${partialUnsaid}` : "";
  return {
    kind: "eou_too_loose",
    message:
      `STT_FINAL_MS p95 ${final.p95} ms > ${final.bound} ms while STT_FIRST_PARTIAL_MS p95 is ${partial.p95} ms: ` +
      `recognition keeps up, the end of the utterance is decided late`,
    hint:
      `lower VAD_HANGOVER_MS (${hangover}) and STT_TIMEOUT_MS ` +
      `(no final came and the partial was used after the timeout on ${usedPartial} of these ${plural(late.length, "turn")}${partials})`,
    evidence: late.map((s) => turnEvidence(s, ["STT_FINAL_MS", "STT_FIRST_PARTIAL_MS", "EOU_MS", "stt_used_partial"])),
  };
}

/**
 * The time of a turn outside its measured parts: the LLM starts once both the transcript and the end
 * of utterance are in, then the first sentence is generated, synthesized and sent. What is left is
 * the rest of the first sentence's generation plus I/O, logging and network round trips. Without
 * EOU_MS the wait for the end of utterance is unknown, and so is the rest.
 */
function unaccountedMs(s: TurnSample): number | undefined {
  const { TOTAL_LATENCY_MS: total, LLM_FIRST_TOKEN_MS: llm, TTS_READY_MS: tts, STT_FINAL_MS: final, EOU_MS: eou } = s.line;
  if (total === undefined || llm === undefined || tts === undefined || eou === undefined) return undefined;
  return total - Math.max(final ?? 0, eou) - llm - tts;
}

function ioOrNetwork(samples: TurnSample[], metrics: Record<MetricName, MetricSummary>, t: Thresholds): Diagnosis | undefined {
  const total = metrics.TOTAL_LATENCY_MS;
  if (total.status !== "no-go") return undefined;
  const gaps = samples.flatMap((s) => {
    const gap = unaccountedMs(s);
    return gap === undefined ? [] : [{ s, gap }];
  });
  if (gaps.length === 0) return undefined;
  const p95 = distribution(gaps.map((g) => g.gap)).p95;
  if (p95 <= t.unaccounted_ms) return undefined;
  const slow = gaps.filter((g) => g.gap > t.unaccounted_ms).sort((a, b) => b.gap - a.gap);
  return {
    kind: "io_or_network",
    message: `TOTAL_LATENCY_MS p95 ${total.p95} ms > ${total.bound} ms, and ${p95} ms of it (p95) is outside STT, LLM and TTS (above ${t.unaccounted_ms} ms)`,
    hint:
      "the parts are not what is slow: look at I/O, logging or network round trips (the core's region against the edge, " +
      "Google and OpenAI endpoints; synchronous logging or a blocked event loop on the core)",
    evidence: slow.map(({ s, gap }) =>
      turnEvidence(s, ["TOTAL_LATENCY_MS", "STT_FINAL_MS", "EOU_MS", "LLM_FIRST_TOKEN_MS", "TTS_READY_MS"], { unaccounted_ms: gap }),
    ),
  };
}
