// Pure readers of what the deploy's commands print: each takes a command's output and says whether
// the deploy may go on (and what to remember). Never throws: bad output is a reason, not a crash.
/** Secrets of the edge the pipeline checks are set before it publishes the edge. */
export const EDGE_SECRETS = ["TWILIO_AUTH_TOKEN", "CORE_SHARED_SECRET", "DEPLOY_TOKEN", "STREAM_TOKEN_SECRET"] as const;

export type StepResult = { ok: true; value?: string } | { ok: false; reason: string };

export interface WarmupBounds {
  /** The core's TTS warmup on /health/warmup; after a deploy its phrases are cached, so this is small. */
  maxTtsWarmupMs: number;
  /** The edge's whole call to the core's warmup, network included. */
  maxCoreWarmupMs: number;
}

function parseJson(output: string, what: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(output) as unknown };
  } catch {
    const start = output.trim().slice(0, 120);
    return { ok: false, reason: `${what} is not JSON: ${start === "" ? "(empty)" : JSON.stringify(start)}` };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

interface TrafficTarget {
  revisionName?: unknown;
  percent?: unknown;
  latestRevision?: unknown;
}

function trafficOf(service: Record<string, unknown>): TrafficTarget[] {
  const status = service.status;
  const traffic = isRecord(status) ? status.traffic : undefined;
  return Array.isArray(traffic) ? traffic.filter(isRecord) : [];
}

/**
 * `gcloud run services list --filter=metadata.name=S --format=json`: the revision with the largest
 * share of traffic. An empty list is a first deploy: nothing to roll back to (value "").
 */
export function servingRevision(output: string): StepResult {
  const parsed = parseJson(output, "the service list");
  if (!parsed.ok) return parsed;
  if (!Array.isArray(parsed.value)) return { ok: false, reason: "the service list is not a JSON array" };
  const service = parsed.value.find(isRecord);
  if (!service) return { ok: true, value: "" };
  const targets = trafficOf(service).filter((t) => typeof t.revisionName === "string" && typeof t.percent === "number");
  const top = targets.sort((a, b) => (b.percent as number) - (a.percent as number))[0];
  if (!top) return { ok: false, reason: "the service exists but no revision serves traffic" };
  return { ok: true, value: top.revisionName as string };
}

/**
 * `gcloud run services describe S --format=json` after `services replace`: the service is Ready,
 * the revision just created is the latest ready one, and it has all the traffic. Value: its name.
 */
export function readyRevision(output: string): StepResult {
  const parsed = parseJson(output, "the service description");
  if (!parsed.ok) return parsed;
  if (!isRecord(parsed.value) || !isRecord(parsed.value.status)) return { ok: false, reason: "the service description has no status" };
  const status = parsed.value.status;
  const conditions = Array.isArray(status.conditions) ? status.conditions.filter(isRecord) : [];
  const ready = conditions.find((c) => c.type === "Ready");
  if (ready?.status !== "True") {
    const why = typeof ready?.message === "string" ? `: ${ready.message}` : "";
    return { ok: false, reason: `the service is not Ready (${String(ready?.status ?? "no Ready condition")})${why}` };
  }
  const created = status.latestCreatedRevisionName;
  const latest = status.latestReadyRevisionName;
  if (typeof latest !== "string" || latest !== created) {
    return { ok: false, reason: `the newest revision ${String(created)} is not ready (latest ready: ${String(latest)})` };
  }
  const share = trafficOf(parsed.value).find((t) => t.revisionName === latest)?.percent;
  if (share !== 100) return { ok: false, reason: `revision ${latest} has ${String(share ?? 0)}% of the traffic, not 100%` };
  return { ok: true, value: latest };
}

/** `wrangler secret list --format json`: every secret the edge needs is set. */
export function missingEdgeSecrets(output: string): StepResult {
  const parsed = parseJson(output, "the edge's secret list");
  if (!parsed.ok) return parsed;
  if (!Array.isArray(parsed.value)) return { ok: false, reason: "the edge's secret list is not a JSON array" };
  const names = new Set(parsed.value.filter(isRecord).map((s) => s.name));
  const missing = EDGE_SECRETS.filter((name) => !names.has(name));
  if (missing.length === 0) return { ok: true };
  return { ok: false, reason: `edge secrets not set: ${missing.join(", ")} (npx wrangler secret put NAME --env ENV)` };
}

/**
 * The edge's GET /health/warmup: ok, both phrases checked (in KV now: `*_cached` says whether they
 * were already), and the warmup times within bounds. A slow TTS warmup right after a deploy means
 * the core's phrase cache missed: the same symptom the GO/NO-GO tool calls "warmup did not run".
 */
export function checkWarmup(body: string, bounds: WarmupBounds): StepResult {
  const parsed = parseJson(body, "the warmup answer");
  if (!parsed.ok) return parsed;
  if (!isRecord(parsed.value)) return { ok: false, reason: "the warmup answer is not a JSON object" };
  const report = parsed.value;
  const problems: string[] = [];
  if (report.ok !== true) {
    const errors = Object.entries(report)
      .filter(([key, value]) => key.endsWith("_error") && typeof value === "string")
      .map(([key, value]) => `${key}: ${value as string}`);
    problems.push(`ok is ${JSON.stringify(report.ok)}${errors.length ? ` (${errors.join("; ")})` : ""}`);
  }
  for (const phrase of ["greeting", "hold"]) {
    if (typeof report[`${phrase}_key`] !== "string" || typeof report[`${phrase}_cached`] !== "boolean") {
      problems.push(`${phrase}_key/${phrase}_cached missing`);
    }
  }
  const timings = [
    ["tts_warmup_ms", bounds.maxTtsWarmupMs],
    ["core_warmup_ms", bounds.maxCoreWarmupMs],
  ] as const;
  for (const [field, max] of timings) {
    const value = report[field];
    if (typeof value !== "number") problems.push(`${field} missing (${JSON.stringify(value ?? null)})`);
    else if (value > max) problems.push(`${field} ${value} > ${max}`);
  }
  return problems.length ? { ok: false, reason: `warmup: ${problems.join("; ")}` } : { ok: true };
}

/** The simulator's `--json` output: its last line is the call summary; a call with errors fails the deploy. */
export function smokeCallProblems(output: string): StepResult {
  const last = output.trim().split("\n").at(-1) ?? "";
  const parsed = parseJson(last, "the smoke call's report");
  if (!parsed.ok) return parsed;
  if (!isRecord(parsed.value) || !Array.isArray(parsed.value.errors)) return { ok: false, reason: "the smoke call's report has no errors list" };
  const errors = parsed.value.errors.map(String);
  const call = typeof parsed.value.call_sid === "string" ? `call ${parsed.value.call_sid}` : "the smoke call";
  return errors.length ? { ok: false, reason: `${call} failed: ${errors.join("; ")}` } : { ok: true };
}

/** `gcloud logging read --format=json` (a JSON array of LogEntry): at least `expected` entries. */
export function countLogEntries(output: string, expected: number): StepResult {
  // gcloud prints nothing at all when no entry matches.
  const parsed = parseJson(output.trim() === "" ? "[]" : output, "the log export");
  if (!parsed.ok) return parsed;
  if (!Array.isArray(parsed.value)) return { ok: false, reason: "the log export is not a JSON array" };
  const count = parsed.value.length;
  return count >= expected ? { ok: true, value: String(count) } : { ok: false, reason: `${count} of ${expected} TURN lines exported so far` };
}
