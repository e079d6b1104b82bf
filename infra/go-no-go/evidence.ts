// What a finding points at, so an engineer can find the turn in the logs: the call id, the turn
// (TURN line) or the script line (simulator), where it was read, and the values that matter.
import type { TurnField, TurnSample } from "./turn-sample.js";

export type Value = number | boolean | string;

export interface Evidence {
  call_id: string;
  /** The core's turn index (TURN lines). */
  turn?: number;
  /** The simulator script's line, from 1 (the simulator has no turn index of the core). */
  sim_line?: number;
  source: string;
  values: Record<string, Value>;
}

/** One reason for the verdict, or one warning: a line of text and the turns or lines behind it. */
export interface Finding {
  message: string;
  evidence: Evidence[];
}

/** Evidence from a TURN line, with the named fields it has. */
export function turnEvidence(sample: TurnSample, fields: readonly TurnField[], extra: Record<string, Value> = {}): Evidence {
  const values: Record<string, Value> = {};
  for (const field of fields) {
    const value = sample.line[field];
    if (typeof value === "number" || typeof value === "boolean" || typeof value === "string") values[field] = value;
  }
  return { call_id: sample.line.call_id, turn: sample.line.turn, source: sample.source, values: { ...values, ...extra } };
}
