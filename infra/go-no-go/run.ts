// The GO/NO-GO tool's shell: arguments and files in, report and exit code out. The I/O it needs is
// passed in, so tests run it in-process; cli.ts binds it to the process.
import { parseArgs } from "node:util";
import { formatResult, oneLine } from "./format.js";
import { parseInput, type ParsedInput } from "./input.js";
import { DEFAULT_THRESHOLDS, METRICS, parseThresholds, type Thresholds } from "./thresholds.js";
import { evaluate } from "./verdict.js";

export const EXIT = { GO: 0, NO_GO: 1, UNUSABLE: 2 } as const;

export interface Io {
  readFile(path: string): Promise<string>;
  readStdin(): Promise<string>;
  /** The report (stdout). */
  out(text: string): void;
  /** The one-line verdict or reason (stderr). */
  err(line: string): void;
}

const judged = METRICS.filter((m) => DEFAULT_THRESHOLDS.metrics[m].bound !== undefined);
const defaults = judged.map((m) => `${m} ${DEFAULT_THRESHOLDS.metrics[m].target}/${DEFAULT_THRESHOLDS.metrics[m].bound}`).join(", ");
const reportedOnly = METRICS.filter((m) => !judged.includes(m)).join(" and ");

export const USAGE = `usage: npm run go-no-go -- FILE|- [FILE|- ...] [--thresholds FILE.json] [--json]
  FILE                a Cloud Logging export (gcloud logging read --format=json), the core's raw stdout,
                      or the simulator's output (npm run call -- --json); "-" reads stdin. The kind is
                      detected per input; several inputs are judged together. TURN lines of any core
                      revision count: a call id and the five metrics are enough; the report groups
                      them by schema_version and names the fields they lack and the checks not run.
  --thresholds FILE   JSON over the defaults; keys: min_calls, metrics.<METRIC>.{target,bound} (a metric
                      given replaces its default; {} reports it only), tts_cold_ms, unaccounted_ms, max_fallbacks
  --json              print the whole result as one JSON object
defaults (p95 target/bound, ms): ${defaults};
  ${reportedOnly} reported only;
  a turn whose answer called tools is judged apart, on TOTAL_LATENCY_MS − TOOL_MS against TOTAL_LATENCY_MS's limits;
  min_calls ${DEFAULT_THRESHOLDS.min_calls}, tts_cold_ms ${DEFAULT_THRESHOLDS.tts_cold_ms}, unaccounted_ms ${DEFAULT_THRESHOLDS.unaccounted_ms}, max_fallbacks ${DEFAULT_THRESHOLDS.max_fallbacks}
exit: 0 GO, 1 NO-GO, 2 unusable input (no TURN lines, too few calls, empty export, unreadable file, bad thresholds)`;

export async function run(args: string[], io: Io): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { thresholds: { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", default: false } },
    }));
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`);
    return EXIT.UNUSABLE;
  }
  if (values.help) {
    io.out(USAGE);
    return EXIT.GO;
  }
  if (positionals.length === 0) {
    io.err(`no input given\n${USAGE}`);
    return EXIT.UNUSABLE;
  }

  const unusable = (reason: string) => {
    if (values.json) io.out(JSON.stringify({ verdict: "UNUSABLE", reason }));
    io.err(`go-no-go: unusable input: ${reason}`);
    return EXIT.UNUSABLE;
  };

  let thresholds: Thresholds = DEFAULT_THRESHOLDS;
  if (values.thresholds !== undefined) {
    const text = await read(io, values.thresholds);
    if (!text.ok) return unusable(`cannot read thresholds ${values.thresholds}: ${text.reason}`);
    const parsed = parseThresholds(text.value);
    if (!parsed.ok) return unusable(`thresholds ${values.thresholds}: ${parsed.reason}`);
    thresholds = parsed.thresholds;
  }

  const inputs: ParsedInput[] = [];
  for (const path of positionals) {
    const text = await read(io, path);
    if (!text.ok) return unusable(`cannot read ${path}: ${text.reason}`);
    const parsed = parseInput(path === "-" ? "stdin" : path, text.value);
    if (!parsed.ok) return unusable(parsed.reason);
    inputs.push(parsed.input);
  }

  const evaluation = evaluate(inputs, thresholds);
  if (!evaluation.ok) return unusable(evaluation.reason);
  const result = evaluation.result;
  io.out(values.json ? JSON.stringify(result) : formatResult(result));
  io.err(oneLine(result));
  return result.verdict === "GO" ? EXIT.GO : EXIT.NO_GO;
}

async function read(io: Io, path: string): Promise<{ ok: true; value: string } | { ok: false; reason: string }> {
  try {
    return { ok: true, value: await (path === "-" ? io.readStdin() : io.readFile(path)) };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}
