import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { TURN_METRICS } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { CALL_END_REASONS } from "../../core-node/src/call/call-stats.js";
import { createLogger } from "../../core-node/src/metrics/log.js";
import { buildCallLine, buildTurnLine, type CallSummary, type TurnFacts, type TurnTimeline } from "../../core-node/src/metrics/turn.js";
import { DEFAULT_THRESHOLDS } from "../go-no-go/thresholds.js";
import { checkAll, checkDashboard, checkLogMetric, checkPolicy, dashboardQueries, filterMetricType, metricCatalog, USER_METRIC_PREFIX } from "./check.js";
import { alertPolicy, dashboard, loadObservability, logMetric, type AlertPolicy, type LogMetric } from "./config.js";
import { extractValue, matchesFilter, parseFilter } from "./log-filter.js";

const files = loadObservability();
const metrics = files.metrics.map((m) => m.value);
const catalog = metricCatalog(metrics);
const metric = (name: string): LogMetric => metrics.find((m) => m.name === name)!;
const chartsOf = (name: string) => dashboardQueries(files.dashboard.value).filter((q) => filterMetricType(q.query.filter) === USER_METRIC_PREFIX + name);
const policyReading = (name: string): AlertPolicy =>
  files.policies.map((p) => p.value).find((p) => p.conditions.some((c) => filterMetricType(c.conditionThreshold.filter) === USER_METRIC_PREFIX + name))!;
const turnMetricName = (field: string) => `voice_turn_${field.toLowerCase()}`;

// ---- the core's lines as Cloud Logging stores them ---------------------------------------------

/** What the core's own logger writes for `log`, each line turned into the LogEntry Cloud Run makes of it. */
function logEntries(log: (logger: ReturnType<typeof createLogger>) => void): unknown[] {
  const written: string[] = [];
  log(createLogger({ level: "info", debug: false, destination: { write: (line: string) => void written.push(line) } }));
  return written.map((text) => {
    const { severity, timestamp, "logging.googleapis.com/labels": labels, ...jsonPayload } = JSON.parse(text) as Record<string, unknown>;
    return {
      resource: { type: "cloud_run_revision", labels: { service_name: "voice-core", revision_name: "voice-core-00042-xuv", location: "us-east4" } },
      severity,
      timestamp,
      labels,
      jsonPayload,
    };
  });
}

const spokenTimeline: TurnTimeline = {
  speechStartAt: 1000,
  firstResultAt: 1300,
  speechEndAt: 2600,
  eouAt: 2760,
  transcriptAt: 3050,
  llmRequestAt: 3060,
  llmFirstTokenAt: 3450,
  ttsRequestAt: 3600,
  ttsReadyAt: 3760,
  firstFrameAt: 3790,
};

const spokenFacts: TurnFacts = {
  callId: "CA0001",
  turn: 1,
  input: "speech",
  transcript: "מה שעות הפתיחה?",
  usedPartial: false,
  sttFallback: false,
  speechStartAudioMs: 4000,
  speechEndAudioMs: 5600,
  retries: 0,
  fallbacks: 0,
  cacheHit: false,
  interrupted: false,
  sentences: 2,
  ttsFailures: 0,
  agentSentences: ["פתוח מ-8 עד 18.", "בשישי עד 13."],
};

function turnEntry(timeline: TurnTimeline, facts: Partial<TurnFacts> = {}): unknown {
  return logEntries((log) => log.info(buildTurnLine(timeline, { ...spokenFacts, ...facts }), "TURN"))[0];
}

const callSummary: CallSummary = {
  callId: "CA0001",
  durationMs: 61_000,
  turns: 3,
  dtmfTurns: 0,
  bargeIns: 1,
  recoveredCutoffs: 0,
  backchannels: 0,
  retries: 0,
  fallbacks: 0,
  cacheHits: 2,
  ttsSyntheses: 4,
  framesIn: 3050,
  framesOut: 1200,
  droppedFrames: 0,
  sttErrors: 0,
  sttReopens: 0,
  sttRotations: 0,
  endReason: "stop",
  totalLatenciesMs: [1190, 1240, 1310],
};

function callEntry(summary: Partial<CallSummary>): unknown {
  return logEntries((log) => log.info(buildCallLine({ ...callSummary, ...summary }), "CALL"))[0];
}

/** What each log metric records for one entry: its value (distributions) and labels, for the metrics whose filter it matches. */
function recorded(entry: unknown): Record<string, { value?: number; labels: Record<string, string | undefined> }> {
  const result: Record<string, { value?: number; labels: Record<string, string | undefined> }> = {};
  for (const m of metrics) {
    const parsed = parseFilter(m.filter);
    if (!parsed.ok) throw new Error(`${m.name}: ${parsed.reason}`);
    if (!matchesFilter(parsed.terms, entry)) continue;
    const labels = Object.fromEntries(Object.entries(m.labelExtractors ?? {}).map(([key, expression]) => [key, extractValue(expression, entry)]));
    result[m.name] = m.valueExtractor ? { value: Number(extractValue(m.valueExtractor, entry)), labels } : { labels };
  }
  return result;
}

/** The reasons the core ends a call with (`this.end("...")` in the call session). */
/** Every end_reason a CALL line can carry, as the core declares them (the session's end() takes only these). */
function coreEndReasons(): string[] {
  return [...CALL_END_REASONS].sort();
}

// ---- the tests ---------------------------------------------------------------------------------

describe("observability files", () => {
  it("parse, fit the fields gcloud expects, and agree with each other and with the core's lines", () => {
    expect(metrics.map((m) => m.name)).toEqual([
      "voice_call_stt_retries",
      "voice_calls",
      "voice_dropped_calls",
      "voice_turn_fallbacks",
      "voice_turn_llm_first_token_ms",
      "voice_turn_retries",
      "voice_turn_stt_final_ms",
      "voice_turn_stt_first_partial_ms",
      "voice_turn_total_latency_ms",
      "voice_turn_tts_ready_ms",
      "voice_turns",
    ]);
    expect(files.policies).toHaveLength(3);
    expect(checkAll(files)).toEqual([]);
  });

  it("reject a misspelt or malformed field, as the API would", () => {
    const issue = (result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) => {
      const first = result.error?.issues[0];
      return first && `${first.path.join(".")}: ${first.message}`;
    };
    expect(issue(logMetric.safeParse({ ...metric("voice_turns"), valueExtracter: "EXTRACT(jsonPayload.turn)" }))).toBe(': Unrecognized key: "valueExtracter"');
    const policy = structuredClone(files.policies[0]!.value);
    policy.conditions[0]!.conditionThreshold.duration = "10m";
    expect(issue(alertPolicy.safeParse(policy))).toBe('conditions.0.conditionThreshold.duration: a duration is whole seconds, e.g. "300s"');
    const { mosaicLayout, ...noLayout } = files.dashboard.value;
    expect(issue(dashboard.safeParse({ ...noLayout, gridLayout: mosaicLayout }))).toMatch(/^(mosaicLayout|): /);
  });
});

describe("log metrics", () => {
  it("one latency distribution per TURN metric, labelled by input, never by call", () => {
    for (const field of TURN_METRICS) {
      const extracting = metrics.filter((m) => m.valueExtractor === `EXTRACT(jsonPayload.${field})`);
      expect(extracting.map((m) => m.name)).toEqual([turnMetricName(field)]);
      const [m] = extracting;
      expect(m!.metricDescriptor).toMatchObject({ metricKind: "DELTA", valueType: "DISTRIBUTION", unit: "ms" });
      expect(m!.labelExtractors?.input).toBe("EXTRACT(jsonPayload.input)");
    }
    const labelled = metrics.flatMap((m) => Object.values(m.labelExtractors ?? {}));
    expect(labelled.filter((e) => /call_id|transcript/.test(e))).toEqual([]);
  });

  it("have a bucket edge at every bound the GO/NO-GO gate judges, so percentiles are exact there", () => {
    const limits = Object.values(DEFAULT_THRESHOLDS.metrics).flatMap((l) => [l.target, l.bound]);
    const edges = [...limits, DEFAULT_THRESHOLDS.tts_cold_ms].filter((v): v is number => v !== undefined);
    for (const field of TURN_METRICS) {
      expect(metric(turnMetricName(field)).bucketOptions?.explicitBuckets?.bounds).toEqual(expect.arrayContaining(edges));
    }
  });

  it("record a spoken turn the core writes in all five latency distributions, and count it once as a turn", () => {
    expect(recorded(turnEntry(spokenTimeline))).toEqual({
      voice_turns: { labels: { input: "speech" } },
      voice_turn_stt_first_partial_ms: { value: 300, labels: { input: "speech" } },
      voice_turn_stt_final_ms: { value: 450, labels: { input: "speech" } },
      voice_turn_llm_first_token_ms: { value: 390, labels: { input: "speech" } },
      voice_turn_tts_ready_ms: { value: 160, labels: { input: "speech", tts_cache_hit: "false" } },
      voice_turn_total_latency_ms: { value: 1190, labels: { input: "speech" } },
    });
  });

  it("leave a keypad turn out of the STT distributions instead of recording a zero", () => {
    const keypad = { ...spokenTimeline, firstResultAt: undefined, transcriptAt: undefined };
    const counted = recorded(turnEntry(keypad, { input: "dtmf", transcript: "1234", cacheHit: true }));
    expect(Object.keys(counted).sort()).toEqual(["voice_turn_llm_first_token_ms", "voice_turn_total_latency_ms", "voice_turn_tts_ready_ms", "voice_turns"]);
    expect(counted.voice_turn_tts_ready_ms!.labels).toEqual({ input: "dtmf", tts_cache_hit: "true" });
  });

  it("count a turn answered with a fixed phrase during a recognition outage as a fallback (stt_fallback) and a retry", () => {
    const outage = { ...spokenTimeline, firstResultAt: undefined };
    const counted = recorded(turnEntry(outage, { sttFallback: true, fallbacks: 1, retries: 2 }));
    expect(counted.voice_turn_fallbacks).toEqual({ labels: { input: "speech", stt_fallback: "true" } });
    expect(counted.voice_turn_retries).toEqual({ labels: { input: "speech" } });
    expect(counted.voice_turn_stt_first_partial_ms).toBeUndefined();
    expect(recorded(turnEntry(spokenTimeline, { fallbacks: 1 })).voice_turn_fallbacks).toEqual({ labels: { input: "speech", stt_fallback: "false" } });
  });

  it("count a call with recognition reopens as a call with STT retries, whatever LLM or TTS retries it had", () => {
    expect(recorded(callEntry({ sttErrors: 2, sttReopens: 2, retries: 3 })).voice_call_stt_retries).toEqual({ labels: {} });
    expect(recorded(callEntry({ sttErrors: 0, sttReopens: 0, retries: 1 })).voice_call_stt_retries).toBeUndefined();
  });

  it("count as dropped every way the core ends a call except the caller's hang-up and a planned move", () => {
    const reasons = coreEndReasons();
    expect(reasons).toEqual(["agent", "budget", "call mismatch", "flood", "frame too big", "idle", "moved", "socket closed", "socket error", "stop", "time limit", "transfer"]);
    const dropped = reasons.filter((endReason) => recorded(callEntry({ endReason })).voice_dropped_calls !== undefined);
    expect(dropped).toEqual(["budget", "call mismatch", "flood", "frame too big", "socket closed", "socket error", "time limit"]);
    expect(recorded(callEntry({ endReason: "socket closed" })).voice_dropped_calls).toEqual({ labels: { end_reason: "socket closed" } });
    for (const endReason of reasons) expect(recorded(callEntry({ endReason })).voice_calls).toEqual({ labels: { end_reason: endReason } });
  });

  it("fail the check when a field is renamed, is not a number, or would label by call", () => {
    const total = metric("voice_turn_total_latency_ms");
    const renamed = { ...total, filter: total.filter.replace("TOTAL_LATENCY_MS:*", "TOTAL_LATENCY:*") };
    expect(checkLogMetric(renamed)).toContain("filter names jsonPayload.TOTAL_LATENCY, which the TURN line does not have");
    expect(checkLogMetric({ ...total, valueExtractor: "EXTRACT(jsonPayload.transcript)" })).toContain("valueExtractor extracts jsonPayload.transcript, which is not a number");
    expect(checkLogMetric({ ...total, valueExtractor: "EXTRACT(jsonPayload.TOTAL_LATENCY_MS)", filter: total.filter.replace(" AND jsonPayload.TOTAL_LATENCY_MS:*", "") })).toContain(
      "filter must require jsonPayload.TOTAL_LATENCY_MS:* (the field is optional)",
    );
    const byCall = { ...total, labelExtractors: { ...total.labelExtractors, call: "EXTRACT(jsonPayload.call_id)" } };
    byCall.metricDescriptor = { ...total.metricDescriptor, labels: [...(total.metricDescriptor.labels ?? []), { key: "call", valueType: "STRING", description: "x" }] };
    expect(checkLogMetric(byCall)).toContain("label call extracts jsonPayload.call_id, which is not a small closed set (one time series per value)");

    const dropped = metric("voice_dropped_calls");
    expect(checkLogMetric({ ...dropped, filter: dropped.filter.replace("end_reason", "reason") })).toContain("filter names jsonPayload.reason, which the CALL line does not have");
    const turns = metric("voice_turns");
    expect(checkLogMetric({ ...turns, filter: `${turns.filter} AND jsonPayload.input="voice"` })).toContain('filter compares jsonPayload.input with "voice", not one of speech, dtmf');
    expect(checkLogMetric({ ...turns, filter: `${turns.filter} AND (jsonPayload.turn>1 OR jsonPayload.retries>0)` })[0]).toMatch(/^filter: cannot read the term/);
    expect(checkLogMetric({ ...turns, valueExtractor: "EXTRACT(jsonPayload.turn)" })).toContain("a counter (INT64) counts entries: it takes no valueExtractor");
  });
});

describe("dashboard", () => {
  it("charts p50 and p95 of each TURN metric, with the gate's bound drawn where it has one", () => {
    for (const field of TURN_METRICS) {
      const queries = chartsOf(turnMetricName(field));
      expect(queries.map((q) => q.query.aggregation.crossSeriesReducer).sort()).toEqual(["REDUCE_PERCENTILE_50", "REDUCE_PERCENTILE_95"]);
      expect(new Set(queries.map((q) => q.title)).size).toBe(1);
      const tile = files.dashboard.value.mosaicLayout.tiles.find((t) => t.widget.title === queries[0]!.title)!;
      const bound = DEFAULT_THRESHOLDS.metrics[field].bound;
      expect(tile.widget.xyChart!.thresholds?.map((t) => t.value)).toEqual(bound === undefined ? undefined : [bound]);
    }
  });

  it("charts fallback and retry rates over turns, dropped calls by reason, and Cloud Run instances and concurrency", () => {
    const ratioOver = (numerator: string) => chartsOf(numerator).find((q) => q.part === "numerator");
    expect(ratioOver("voice_turn_fallbacks")).toBeDefined();
    expect(ratioOver("voice_turn_retries")).toBeDefined();
    expect(ratioOver("voice_call_stt_retries")).toBeDefined();
    expect(chartsOf("voice_dropped_calls").map((q) => q.query.aggregation.groupByFields)).toEqual([["metric.label.end_reason"]]);
    const types = dashboardQueries(files.dashboard.value).map((q) => filterMetricType(q.query.filter));
    expect(types).toEqual(expect.arrayContaining(["run.googleapis.com/container/instance_count", "run.googleapis.com/container/max_request_concurrencies"]));
  });

  it("shows the Cloud Run service infra/cloudrun deploys by default", () => {
    const service = parseYaml(readFileSync(fileURLToPath(new URL("../cloudrun/service.yaml", import.meta.url)), "utf8")) as { metadata: { name: string } };
    expect(files.dashboard.value.dashboardFilters).toEqual([{ labelKey: "service_name", filterType: "RESOURCE_LABEL", stringValue: service.metadata.name }]);
  });

  it("fails the check for a chart of a metric that does not exist, a wrong aligner, or overlapping tiles", () => {
    const d = structuredClone(files.dashboard.value);
    const first = d.mosaicLayout.tiles.find((t) => t.widget.xyChart)!;
    const query = first.widget.xyChart!.dataSets[0]!.timeSeriesQuery.timeSeriesFilter!;
    query.filter = query.filter.replace("voice_turn_stt_first_partial_ms", "voice_turn_stt_partial_ms");
    expect(checkDashboard(d, catalog)).toEqual([
      `chart "${first.widget.title}": logging.googleapis.com/user/voice_turn_stt_partial_ms is not a metric in infra/observability/metrics nor a known Cloud Run metric`,
    ]);
    const d2 = structuredClone(files.dashboard.value);
    d2.mosaicLayout.tiles.find((t) => t.widget.xyChart)!.widget.xyChart!.dataSets[0]!.timeSeriesQuery.timeSeriesFilter!.aggregation.perSeriesAligner = "ALIGN_MEAN";
    expect(checkDashboard(d2, catalog)[0]).toMatch(/a distribution takes ALIGN_DELTA \+ REDUCE_PERCENTILE_nn/);
    const d3 = structuredClone(files.dashboard.value);
    d3.mosaicLayout.tiles[1]!.yPos = 0;
    expect(checkDashboard(d3, catalog)[0]).toMatch(/^tiles "About" and ".*" overlap$/);
  });
});

describe("alert policies", () => {
  it("alert on p95 total turn latency above the GO bound, within the 2.2-2.8 s seed range, for minutes", () => {
    const { conditionThreshold: c } = policyReading("voice_turn_total_latency_ms").conditions[0]!;
    expect(c.aggregations[0]).toMatchObject({ perSeriesAligner: "ALIGN_DELTA", crossSeriesReducer: "REDUCE_PERCENTILE_95" });
    expect(c).toMatchObject({ comparison: "COMPARISON_GT", thresholdValue: DEFAULT_THRESHOLDS.metrics.TOTAL_LATENCY_MS.bound });
    expect(c.thresholdValue).toBeGreaterThanOrEqual(2200);
    expect(c.thresholdValue).toBeLessThanOrEqual(2800);
    expect(Number.parseInt(c.duration)).toBeGreaterThanOrEqual(300);
  });

  it("alert on the share of turns answered with a fallback phrase, at the rate the dashboard draws", () => {
    const { conditionThreshold: c } = policyReading("voice_turn_fallbacks").conditions[0]!;
    expect(filterMetricType(c.denominatorFilter!)).toBe(`${USER_METRIC_PREFIX}voice_turns`);
    expect(c.thresholdValue).toBeGreaterThan(0);
    expect(c.thresholdValue).toBeLessThan(1);
    const chart = chartsOf("voice_turn_fallbacks")[0]!;
    const tile = files.dashboard.value.mosaicLayout.tiles.find((t) => t.widget.title === chart.title)!;
    expect(tile.widget.xyChart!.thresholds?.map((t) => t.value)).toEqual([c.thresholdValue]);
  });

  it("alert on dropped calls", () => {
    const { conditionThreshold: c } = policyReading("voice_dropped_calls").conditions[0]!;
    expect(c).toMatchObject({ comparison: "COMPARISON_GT", aggregations: [{ perSeriesAligner: "ALIGN_DELTA", crossSeriesReducer: "REDUCE_SUM" }] });
  });

  it("fail the check for a condition on a missing metric, a wrong reducer, or channels written into the file", () => {
    const policy = structuredClone(policyReading("voice_turn_fallbacks"));
    const c = policy.conditions[0]!.conditionThreshold;
    c.denominatorFilter = c.denominatorFilter!.replace("voice_turns", "voice_turn_count");
    c.aggregations[0]!.crossSeriesReducer = "REDUCE_PERCENTILE_95";
    policy.notificationChannels = ["projects/p/notificationChannels/1"];
    expect(checkPolicy(policy, catalog)).toEqual([
      'notificationChannels must be ["${NOTIFICATION_CHANNELS}"]: apply.ts fills in the project\'s channels',
      `condition "${policy.conditions[0]!.displayName}": ${USER_METRIC_PREFIX}voice_turn_fallbacks: a counter takes ALIGN_DELTA or ALIGN_RATE, then REDUCE_SUM (got ALIGN_DELTA + REDUCE_PERCENTILE_95)`,
      `condition "${policy.conditions[0]!.displayName}" (denominator): ${USER_METRIC_PREFIX}voice_turn_count is not a metric in infra/observability/metrics nor a known Cloud Run metric`,
    ]);
  });
});
