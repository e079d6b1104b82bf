// The part of the Logging query language the log metrics use: terms joined by AND, each a field
// compared with a value (=, !=, <, <=, >, >=) or tested for presence (FIELD:*). Parsing it lets
// the checks see every field a filter names, and evaluating it lets the tests run real core lines
// through the real filters. A filter outside this subset (OR, NOT, parentheses, regular
// expressions) does not parse, so nothing is checked by guesswork.

export type Operator = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":*";

export interface Term {
  /** Dotted path from the LogEntry's root, e.g. ["jsonPayload", "TOTAL_LATENCY_MS"]. */
  path: string[];
  op: Operator;
  /** Absent for ":*". */
  value?: string | number | boolean;
}

const TERM = /^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(:\*|!=|<=|>=|=|<|>)\s*(.*)$/;

function parseValue(text: string): string | number | boolean | undefined {
  if (/^"(?:[^"\\]|\\.)*"$/.test(text)) return JSON.parse(text) as string;
  if (/^-?\d+(?:\.\d+)?$/.test(text)) return Number(text);
  if (text === "true" || text === "false") return text === "true";
  return undefined;
}

/** The terms of a filter, or the reason it is outside the subset. */
export function parseFilter(filter: string): { ok: true; terms: Term[] } | { ok: false; reason: string } {
  const terms: Term[] = [];
  for (const part of filter.trim().split(/\s+AND\s+/)) {
    const match = TERM.exec(part.trim());
    if (!match) return { ok: false, reason: `cannot read the term ${JSON.stringify(part)} (the checks read FIELD OP VALUE terms joined by AND)` };
    const [, field, op, rest] = match as unknown as [string, string, Operator, string];
    if (op === ":*") {
      if (rest.trim() !== "") return { ok: false, reason: `unexpected text after ${field}:*` };
      terms.push({ path: field.split("."), op });
      continue;
    }
    const value = parseValue(rest.trim());
    if (value === undefined) return { ok: false, reason: `cannot read the value in ${JSON.stringify(part)}` };
    terms.push({ path: field.split("."), op, value });
  }
  return { ok: true, terms };
}

function lookUp(entry: unknown, path: string[]): unknown {
  let value = entry;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Whether a LogEntry matches every term. A term on an absent field does not match, whatever its operator. */
export function matchesFilter(terms: Term[], entry: unknown): boolean {
  return terms.every(({ path, op, value }) => {
    const actual = lookUp(entry, path);
    if (actual === undefined || actual === null) return false;
    if (op === ":*") return true;
    switch (op) {
      case "=":
        return String(actual) === String(value);
      case "!=":
        return String(actual) !== String(value);
      default: {
        const [a, b] = [Number(actual), Number(value)];
        return op === "<" ? a < b : op === "<=" ? a <= b : op === ">" ? a > b : a >= b;
      }
    }
  });
}

const EXTRACT = /^EXTRACT\(([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\)$/;

/** The path an EXTRACT(FIELD) expression reads, or undefined for another expression. */
export function extractedPath(expression: string): string[] | undefined {
  return EXTRACT.exec(expression.trim())?.[1]?.split(".");
}

/** What EXTRACT(FIELD) gives for an entry: the field's value as text, as label values are. */
export function extractValue(expression: string, entry: unknown): string | undefined {
  const path = extractedPath(expression);
  const value = path && lookUp(entry, path);
  return value === undefined || value === null ? undefined : String(value);
}
