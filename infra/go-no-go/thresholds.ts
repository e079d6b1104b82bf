// What the verdict compares against: the seed targets of ARCHITECTURE.md ("Turn metrics and
// targets"), and this file is where they are enforced. Each metric has a range (first partial 500,
// final 700-900, TTS ready 250-400, total 2200-2800 ms), judged on the p95 over at least two calls:
// the upper end is the NO-GO bound, the lower end the target, and a p95 between the two is GO with
// a warning. A JSON file can override any of it.
import { TURN_METRICS } from "@voice/protocol";
import { z } from "zod";
import { firstIssue } from "./zod-issue.js";

/** The TURN metrics plus the latency the caller heard, which only the simulator measures. */
export const METRICS = [...TURN_METRICS, "CALLER_LATENCY_MS"] as const;
export type MetricName = (typeof METRICS)[number];

/** A metric without a bound is reported, never judged; without a target it has no warning zone. */
export interface Limits {
  target?: number;
  bound?: number;
}

export interface Thresholds {
  /** Calls with TURN lines needed before a verdict means anything. */
  min_calls: number;
  metrics: Record<MetricName, Limits>;
  /** A turn whose TTS_READY_MS exceeds this means warmup did not run or the cache key did not match. */
  tts_cold_ms: number;
  /** TOTAL minus its parts (p95) above which a slow TOTAL is blamed on I/O, logging or network. */
  unaccounted_ms: number;
  /** Fixed phrases spoken instead of answers tolerated over all turns. */
  max_fallbacks: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  min_calls: 2,
  metrics: {
    STT_FIRST_PARTIAL_MS: { target: 500, bound: 500 },
    STT_FINAL_MS: { target: 700, bound: 900 },
    LLM_FIRST_TOKEN_MS: {},
    TTS_READY_MS: { target: 250, bound: 400 },
    TOTAL_LATENCY_MS: { target: 2200, bound: 2800 },
    CALLER_LATENCY_MS: {},
  },
  tts_cold_ms: 1000,
  // The gap also holds the LLM's time from first token to the end of the first sentence (~100-300 ms).
  unaccounted_ms: 500,
  max_fallbacks: 0,
};

const ms = z.number().nonnegative();
const limits = z
  .strictObject({ target: ms.optional(), bound: ms.optional() })
  .refine((l) => l.target === undefined || l.bound === undefined || l.target <= l.bound, {
    message: "target must not be above bound",
    path: ["target"],
  });

/** The file: every key optional; a metric given replaces its default (`{}` makes it report-only). */
const thresholdsFile = z.strictObject({
  min_calls: z.int().positive().optional(),
  metrics: z.strictObject(Object.fromEntries(METRICS.map((m) => [m, limits.optional()])) as Record<MetricName, z.ZodOptional<typeof limits>>).optional(),
  tts_cold_ms: ms.optional(),
  unaccounted_ms: ms.optional(),
  max_fallbacks: z.int().nonnegative().optional(),
});

export type ThresholdsResult = { ok: true; thresholds: Thresholds } | { ok: false; reason: string };

/** Thresholds from a JSON file's text, over the defaults; the reason names the bad key. */
export function parseThresholds(text: string): ThresholdsResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not valid JSON: ${(error as Error).message}` };
  }
  const parsed = thresholdsFile.safeParse(json);
  if (!parsed.success) return { ok: false, reason: firstIssue(parsed.error) };
  const { metrics = {}, ...rest } = parsed.data;
  return {
    ok: true,
    // Zod leaves absent keys out, so a spread only overrides what the file gave.
    thresholds: { ...DEFAULT_THRESHOLDS, ...rest, metrics: { ...DEFAULT_THRESHOLDS.metrics, ...metrics } },
  };
}
