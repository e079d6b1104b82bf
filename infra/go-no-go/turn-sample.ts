// A TURN line as the gate reads it, from any revision of the core. The gate needs a call id and the
// seed's five metrics (TURN_METRICS, each absent when its stage did not happen); every other field
// of the current schema is read when it is there and valid, and otherwise noted: "missing" (a
// field the current core writes on every line, which a leaner or older core did not) or
// "unreadable" (there, but not as the current schema has it; left out). A line is malformed only
// when it has no call id, a metric or its schema_version is not a valid number.
import { CALL_ID_LABEL, TURN_METRICS, turnLine } from "@voice/protocol";
import type { z } from "zod";
import { firstIssue } from "./zod-issue.js";

/** Read strictly (one not valid makes the line malformed); every other field is kept when valid, else named unreadable. */
const SEED = { message: true, call_id: true, schema_version: true, ...Object.fromEntries(TURN_METRICS.map((metric) => [metric, true])) } as const;

/** The gate's TURN line: every field optional but the message and the call id. */
export const gateTurnLine = turnLine.partial().required({ message: true, call_id: true });
export type GateTurnLine = z.infer<typeof gateTurnLine>;
export type TurnField = keyof GateTurnLine & string;

const FIELDS: readonly TurnField[] = turnLine.keyof().options;
const isField = (key: string): key is TurnField => Object.hasOwn(turnLine.shape, key);

/** Fields the current core writes on every TURN line (required by the shared schema), besides the message and the call id. */
export const ALWAYS_WRITTEN: readonly TurnField[] = FIELDS.filter((field) => !(field in SEED) && !turnLine.shape[field].safeParse(undefined).success);

/** Schema version of lines that do not say theirs (every core before `schema_version`). */
export const UNVERSIONED = 1;

/** One TURN line and where it came from ("logs.json entry 12", "core.log line 40"). */
export interface TurnSample {
  line: GateTurnLine;
  source: string;
  /** The line's schema_version (UNVERSIONED when absent). */
  schemaVersion: number;
  /** ALWAYS_WRITTEN fields the line lacks. */
  missing: readonly TurnField[];
  /** Fields that were there but not valid in the current schema, left out of `line`. */
  unreadable: readonly TurnField[];
}

export type TurnRead = { ok: true; sample: TurnSample } | { ok: false; reason: string };

/** A log line whose message is TURN, read leniently (see above). */
export function readTurnLine(raw: Readonly<Record<string, unknown>>, source: string): TurnRead {
  const label = raw[CALL_ID_LABEL];
  const labelled = typeof label === "object" && label !== null && "call_id" in label ? label.call_id : undefined;
  const callId = raw.call_id ?? labelled;
  if (callId === undefined || callId === "") return { ok: false, reason: `TURN line: no call id (call_id or ${CALL_ID_LABEL}.call_id)` };

  const kept: Record<string, unknown> = { call_id: callId };
  const unreadable: TurnField[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (key === "call_id" || !isField(key)) continue;
    if (key in SEED || turnLine.shape[key].safeParse(value).success) kept[key] = value;
    else unreadable.push(key);
  }
  const parsed = gateTurnLine.safeParse(kept);
  if (!parsed.success) return { ok: false, reason: `TURN line: ${firstIssue(parsed.error)}` };
  const line = parsed.data;
  return {
    ok: true,
    sample: {
      line,
      source,
      schemaVersion: line.schema_version ?? UNVERSIONED,
      missing: ALWAYS_WRITTEN.filter((field) => line[field] === undefined && !unreadable.includes(field)),
      unreadable,
    },
  };
}

/**
 * Whether `sample` says anything about `field`: it has it, or it is a whole line of the current
 * schema (nothing missing or unreadable), where an absent optional field means what the schema says
 * (no tools called, no hold, no audio sent). On a leaner line an absent field says nothing.
 */
export function knows(sample: TurnSample, field: TurnField): boolean {
  if (sample.line[field] !== undefined) return true;
  return sample.missing.length === 0 && sample.unreadable.length === 0 && !ALWAYS_WRITTEN.includes(field);
}
