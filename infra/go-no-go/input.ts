// One input of the GO/NO-GO tool, whatever its kind, read into TURN samples and simulated calls.
// The kind is recognised from the text itself:
// - a JSON array: a Cloud Logging export (`gcloud logging read --format=json`), whose LogEntry
//   objects carry the core's line in `jsonPayload` with severity, timestamp and labels lifted out;
// - otherwise one JSON value per line (other lines ignored), each either a LogEntry (an export
//   flattened with `jq -c '.[]'`), a core stdout line (`message` at the top), or the simulator's
//   `--json` CallSummary (`call_sid` and `turns`); a whole pretty-printed object counts as one line.
// TURN lines are read as any revision of the core writes them (turn-sample.ts). A record that claims
// to be a TURN line or a CallSummary but does not parse is counted as malformed with its reason and
// skipped.
import { z } from "zod";
import { readTurnLine, type TurnSample } from "./turn-sample.js";
import { firstIssue } from "./zod-issue.js";

export type InputKind = "Cloud Logging export" | "core stdout" | "simulator --json output";

/** The part of the simulator's CallSummary (infra/sim/report.ts) the verdict reads. */
const simulatorSummary = z.object({
  call_sid: z.string().min(1),
  turns: z.array(
    z.object({
      caller_text: z.string(),
      expect_answer: z.boolean(),
      caller_latency_ms: z.number().nonnegative().nullable(),
    }),
  ),
  errors: z.array(z.string()),
});
export type SimulatorSummary = z.infer<typeof simulatorSummary>;

export interface SimulatedCall {
  summary: SimulatorSummary;
  source: string;
}

export interface Malformed {
  source: string;
  reason: string;
}

export interface ParsedInput {
  name: string;
  kinds: InputKind[];
  /** JSON records read: export entries, or JSON lines. */
  records: number;
  turns: TurnSample[];
  calls: SimulatedCall[];
  malformed: Malformed[];
}

export type InputResult = { ok: true; input: ParsedInput } | { ok: false; reason: string };

export function parseInput(name: string, text: string): InputResult {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: false, reason: `${name}: empty input` };
  const input: ParsedInput = { name, kinds: [], records: 0, turns: [], calls: [], malformed: [] };

  if (trimmed.startsWith("[")) {
    let entries: unknown;
    try {
      entries = JSON.parse(trimmed);
    } catch (error) {
      return { ok: false, reason: `${name}: not valid JSON (a Cloud Logging export is one JSON array): ${(error as Error).message}` };
    }
    if (!Array.isArray(entries) || entries.length === 0) {
      return { ok: false, reason: `${name}: empty Cloud Logging export (no log entries): check the filter and time window given to gcloud logging read` };
    }
    addKind(input, "Cloud Logging export");
    entries.forEach((entry, i) => readRecord(input, entry, `${name} entry ${i + 1}`));
    return { ok: true, input };
  }

  const whole = tryJson(trimmed);
  if (whole.ok) {
    readRecord(input, whole.value, name);
    return { ok: true, input };
  }
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line.startsWith("{")) return;
    const source = `${name} line ${i + 1}`;
    const json = tryJson(line);
    if (json.ok) readRecord(input, json.value, source);
    else input.malformed.push({ source, reason: `not valid JSON: ${json.reason}` });
  });
  return { ok: true, input };
}

function readRecord(input: ParsedInput, record: unknown, source: string): void {
  input.records++;
  if (!isObject(record)) {
    input.malformed.push({ source, reason: "not a JSON object" });
    return;
  }
  if ("jsonPayload" in record || "textPayload" in record || "protoPayload" in record) {
    addKind(input, "Cloud Logging export");
    // A line that was not JSON arrives as textPayload: noise, like in raw stdout. The line's call id,
    // severity and timestamp were lifted out of jsonPayload into the entry: put them back.
    if (isObject(record.jsonPayload)) {
      const lifted = { call_id: callIdLabel(record.labels), severity: record.severity, timestamp: record.timestamp };
      readLogLine(input, { ...lifted, ...record.jsonPayload }, source);
    }
  } else if ("call_sid" in record && "turns" in record) {
    addKind(input, "simulator --json output");
    const parsed = simulatorSummary.safeParse(record);
    if (parsed.success) input.calls.push({ summary: parsed.data, source });
    else input.malformed.push({ source, reason: `simulator summary: ${firstIssue(parsed.error)}` });
  } else if (typeof record.message === "string") {
    addKind(input, "core stdout");
    readLogLine(input, record, source);
  }
}

/** TURN lines are kept; every other line the core writes (APP_START, CALL, BARGE_IN, ...) is not evidence here. */
function readLogLine(input: ParsedInput, line: Record<string, unknown>, source: string): void {
  if (line.message !== "TURN") return;
  const read = readTurnLine(line, source);
  if (read.ok) input.turns.push(read.sample);
  else input.malformed.push({ source, reason: read.reason });
}

/** Cloud Logging lifts the line's `logging.googleapis.com/labels` into the entry's `labels`. */
function callIdLabel(labels: unknown): string | undefined {
  return isObject(labels) && typeof labels.call_id === "string" ? labels.call_id : undefined;
}

function addKind(input: ParsedInput, kind: InputKind): void {
  if (!input.kinds.includes(kind)) input.kinds.push(kind);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}
