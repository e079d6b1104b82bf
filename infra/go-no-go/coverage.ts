// What the TURN lines judged could tell: their schema versions, the fields of the current schema
// they lack, and the checks those fields feed, which the gate then ran on part of the lines or not
// at all. A leaner or older core's lines (or a rollout's mix of two revisions) are judged on what
// they carry; this is what the report says they did not.
import { knows, type TurnField, type TurnSample } from "./turn-sample.js";

/** A check of the verdict that reads more than the seed metrics, and the fields it reads. */
interface Check {
  check: string;
  needs: readonly TurnField[];
}

/** Every check beyond the p95s of the five metrics, with what it needs of a line. */
export const CHECKS: readonly Check[] = [
  { check: "I/O, logging or network diagnosis", needs: ["EOU_MS"] },
  { check: "EOU too loose diagnosis's hint (hangover in effect, partials used)", needs: ["EOU_MS", "stt_used_partial"] },
  { check: "warmup or cache mismatch diagnosis's cache hit or miss", needs: ["tts_cache_hit"] },
  { check: "fixed phrases spoken (max_fallbacks)", needs: ["fallbacks"] },
  { check: "tool turns judged apart", needs: ["tools"] },
  { check: "held end of utterance taken off TOTAL_LATENCY_MS", needs: ["EOU_HOLD_MS"] },
  { check: "retry, fallback transcription and skipped sentence warnings", needs: ["retries", "stt_fallback", "tts_failures"] },
];

export interface FieldCount {
  field: TurnField;
  lines: number;
}

export interface LimitedCheck {
  check: string;
  needs: readonly TurnField[];
  /** Lines that do not say what the check needs. */
  lines_lacking: number;
  /** Lines judged. */
  of: number;
  /** "not run": no line had it; "partly": run on the other lines. */
  run: "not run" | "partly";
}

export interface Coverage {
  /** TURN lines per schema_version (absent: 1), lowest first. */
  schema_versions: Array<{ version: number; lines: number }>;
  /** Fields the current core writes on every line, and how many lines lack each. */
  missing_fields: FieldCount[];
  /** Fields there but not as the current schema has them (left out), and on how many lines. */
  unreadable_fields: FieldCount[];
  checks_limited: LimitedCheck[];
}

export function coverage(samples: readonly TurnSample[]): Coverage {
  const versions = new Map<number, number>();
  for (const { schemaVersion } of samples) versions.set(schemaVersion, (versions.get(schemaVersion) ?? 0) + 1);
  return {
    schema_versions: [...versions].sort(([a], [b]) => a - b).map(([version, lines]) => ({ version, lines })),
    missing_fields: countFields(samples.flatMap((s) => s.missing)),
    unreadable_fields: countFields(samples.flatMap((s) => s.unreadable)),
    checks_limited: CHECKS.flatMap(({ check, needs }): LimitedCheck[] => {
      const lacking = samples.filter((s) => needs.some((field) => !knows(s, field))).length;
      if (lacking === 0) return [];
      return [{ check, needs, lines_lacking: lacking, of: samples.length, run: lacking === samples.length ? "not run" : "partly" }];
    }),
  };
}

/** Each field and how often it came, in the order first seen. */
function countFields(fields: readonly TurnField[]): FieldCount[] {
  const counts = new Map<TurnField, number>();
  for (const field of fields) counts.set(field, (counts.get(field) ?? 0) + 1);
  return [...counts].map(([field, lines]) => ({ field, lines }));
}
