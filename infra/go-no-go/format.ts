// The verdict as a deploy engineer reads it: the verdict first, then the numbers, then why, each
// reason with the turns behind it. Also the one line the CLI writes to stderr.
import type { Coverage, FieldCount } from "./coverage.js";
import type { DiagnosisKind } from "./diagnoses.js";
import type { Evidence, Finding, Value } from "./evidence.js";
import type { MetricSummary } from "./stats.js";
import { toolTurnsLine, type ToolTurns } from "./tool-turns.js";
import type { GoNoGo } from "./verdict.js";
import { plural } from "./words.js";

/** Evidence rows shown per finding; --json has them all. */
const SHOWN_EVIDENCE = 5;

const DIAGNOSIS_TITLE: Record<DiagnosisKind, string> = {
  warmup_or_cache_mismatch: "warmup or cache mismatch",
  eou_too_loose: "EOU too loose",
  io_or_network: "I/O, logging or network",
};

export function formatResult(r: GoNoGo): string {
  const out = [`${r.verdict}: ${evidenceLine(r)}`, "inputs:"];
  for (const input of r.inputs) {
    const kind = input.kinds.length ? input.kinds.join(" + ") : "nothing recognised";
    const parts = [plural(input.records, "record"), plural(input.turn_lines, "TURN line")];
    if (input.simulated_calls) parts.push(plural(input.simulated_calls, "simulated call"));
    if (input.malformed) parts.push(`${input.malformed} malformed`);
    out.push(`  ${input.name}: ${kind}, ${parts.join(", ")}`);
  }
  out.push(...metricTable(r.metrics, r.tool_turns));
  const tools = toolTurnsLine(r.tool_turns);
  if (tools) out.push(tools);
  const c = r.counts;
  const n = (count: number | null) => (count === null ? "n/a" : String(count));
  const over = r.coverage.missing_fields.length || r.coverage.unreadable_fields.length ? " (over the lines that carry each)" : "";
  out.push(
    `counts${over}: retries ${n(c.retries)}, fallbacks ${n(c.fallbacks)}, fallback transcriptions ${n(c.stt_fallback_turns)}, tts failures ${n(c.tts_failures)}, ` +
      `partial used at timeout ${n(c.stt_used_partial_turns)}, interrupted ${n(c.interrupted_turns)}, keypad turns ${n(c.dtmf_turns)}`,
  );
  out.push(...coverageLines(r.coverage, r.turns));
  if (r.failures.length) out.push("NO-GO because:", ...r.failures.flatMap(finding));
  if (r.diagnoses.length) {
    out.push("diagnoses:");
    for (const d of r.diagnoses) out.push(`  - ${DIAGNOSIS_TITLE[d.kind]}: ${d.message}`, `      -> ${d.hint}`, ...evidenceRows(d.evidence));
  }
  if (r.warnings.length) out.push("warnings:", ...r.warnings.flatMap(finding));
  return out.join("\n");
}

/**
 * The TURN lines' schema versions; then, for lines of a leaner or older core, the fields they lacked
 * and the checks that could not run (or ran on part of the lines) for it.
 */
function coverageLines(c: Coverage, turns: number): string[] {
  if (turns === 0) return [];
  const out = [`TURN lines by schema version: ${c.schema_versions.map((v) => `${v.version}: ${plural(v.lines, "line")}`).join(", ")}`];
  if (c.missing_fields.length) out.push(`missing fields (a leaner or older core did not write them): ${fieldsByCount(c.missing_fields, turns, "lack")}`);
  if (c.unreadable_fields.length) out.push(`unreadable fields (not as the current schema has them; left out): ${fieldsByCount(c.unreadable_fields, turns, "have a bad")}`);
  const notRun = c.checks_limited.filter((l) => l.run === "not run");
  const partly = c.checks_limited.filter((l) => l.run === "partly");
  if (notRun.length) out.push("not run, no line carries what they read:", ...notRun.map((l) => `  - ${l.check}: needs ${l.needs.join(", ")}`));
  if (partly.length) {
    out.push("run on part of the lines:", ...partly.map((l) => `  - ${l.check}: ${l.lines_lacking} of ${l.of} lines lack ${l.needs.join(" or ")}`));
  }
  return out;
}

/** "6 of 12 lines lack input, EOU_MS; 2 of 12 lines lack tools": fields grouped by how many lines, most first. */
function fieldsByCount(fields: FieldCount[], turns: number, verb: string): string {
  const groups = new Map<number, string[]>();
  for (const { field, lines } of fields) groups.set(lines, [...(groups.get(lines) ?? []), field]);
  return [...groups]
    .sort(([a], [b]) => b - a)
    .map(([lines, names]) => `${lines} of ${turns} lines ${verb} ${names.join(", ")}`)
    .join("; ");
}

/** What the CLI says on stderr in one line, for a log that keeps only that. */
export function oneLine(r: GoNoGo): string {
  if (r.verdict === "GO") {
    const warnings = r.warnings.length ? `; ${plural(r.warnings.length, "warning")}: ${r.warnings[0]!.message}` : "";
    const notRun = r.coverage.checks_limited.filter((l) => l.run === "not run").length;
    const lean = notRun ? `; ${plural(notRun, "check")} not run for fields the TURN lines lack` : "";
    return `GO: ${evidenceLine(r)}, every p95 within its bound${lean}${warnings}`;
  }
  const reasons = [...r.failures.map((f) => f.message), ...r.diagnoses.map((d) => `diagnosis: ${DIAGNOSIS_TITLE[d.kind]}`)];
  return `NO-GO: ${reasons.join("; ")}`;
}

function evidenceLine(r: GoNoGo): string {
  const simulated = r.simulated_calls.length ? `; ${plural(r.simulated_calls.length, "simulated call")}` : "";
  return `${plural(r.calls.length, "call")}, ${plural(r.turns, "turn")} with TURN lines${simulated}`;
}

/** The plain turns' metrics, then (with tool turns) the tool turns' TOTAL − TOOL_MS in the same columns. */
function metricTable(metrics: MetricSummary[], tools: ToolTurns): string[] {
  const cell = (v: number | null | undefined) => (v === null || v === undefined ? "-" : String(v));
  const row = (cells: string[]) => `  ${cells[0]!.padEnd(20)} ${cells.slice(1, 6).map((c) => c.padStart(7)).join(" ")}  ${cells[6]}`;
  const summaryRow = (name: string, m: Omit<MetricSummary, "metric">) => row([name, String(m.n), cell(m.p50), cell(m.p95), cell(m.target), cell(m.bound), m.status]);
  return [
    row(["metric (ms)", "n", "p50", "p95", "target", "bound", "status"]),
    ...metrics.map((m) => summaryRow(m.metric, m)),
    ...(tools.n ? [summaryRow("TOTAL − TOOL_MS", tools.latency)] : []),
  ];
}

function finding(f: Finding): string[] {
  return [`  - ${f.message}`, ...evidenceRows(f.evidence)];
}

function evidenceRows(evidence: Evidence[]): string[] {
  const rows = evidence.slice(0, SHOWN_EVIDENCE).map((e) => `      ${where(e)}${values(e.values)} (${e.source})`);
  if (evidence.length > SHOWN_EVIDENCE) rows.push(`      ... and ${evidence.length - SHOWN_EVIDENCE} more (--json lists all)`);
  return rows;
}

function where(e: Evidence): string {
  if (e.turn !== undefined) return `${e.call_id} turn ${e.turn}`;
  if (e.sim_line !== undefined) return `${e.call_id} script line ${e.sim_line}`;
  return e.call_id;
}

function values(v: Record<string, Value>): string {
  const parts = Object.entries(v).map(([key, value]) =>
    typeof value === "number" && /_ms$/i.test(key) ? `${key} ${value} ms` : `${key} ${typeof value === "string" ? JSON.stringify(value) : value}`,
  );
  return parts.length ? `: ${parts.join(", ")}` : "";
}
