// Numeric vars arrive as strings (wrangler.toml, the dashboard). An unusable value keeps the default
// and says why, so a typo in a deploy costs one log line, never a broken edge.

export interface VarValue {
  value: number;
  /** Set when the var was given but unusable: what was wrong, for one log line. */
  problem?: string;
}

/** A positive whole number written in decimal digits; unset or empty means the default. */
export function positiveIntegerVar(name: string, raw: string | undefined, fallback: number): VarValue {
  if (raw === undefined || raw === "") return { value: fallback };
  // Digits only: Number() alone would also take "1e3", "0x10" and " 5 ".
  const value = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!(value > 0)) return { value: fallback, problem: `${name}=${JSON.stringify(raw.slice(0, 40))} is not a positive integer` };
  return { value };
}
