// What the observability files mean, checked against what exists: every field a log metric's filter
// or extractor names is a field of the core's TURN or CALL line (protocol/src/turn-line.ts, so a
// renamed field fails here), every metric a chart or an alert reads is defined, and every
// aggregation is one Cloud Monitoring accepts for that kind of metric. Each check returns its
// problems as one line each; none means the files are consistent.
import { basename } from "node:path";
import { callLine, turnLine } from "@voice/protocol";
import type { z } from "zod";
import { extractedPath, parseFilter } from "./log-filter.js";
import { NOTIFICATION_CHANNELS_PLACEHOLDER, type Aggregation, type AlertPolicy, type Dashboard, type LogMetric, type ObservabilityFiles, type TimeSeriesFilter } from "./config.js";

/** The lines a log metric may count, by their `message`. */
const LINE_SCHEMAS: Record<string, z.ZodObject> = { TURN: turnLine, CALL: callLine };

/**
 * String fields that are fine as a metric label although the schema allows any string: the core
 * writes them from a handful of constants (end_reason: "stop", "moved", "socket closed", ...).
 * Anything else per call (call_id, transcript) would make one time series per call.
 */
const CLOSED_STRING_FIELDS = new Set(["end_reason"]);

export const USER_METRIC_PREFIX = "logging.googleapis.com/user/";
const RESOURCE_TYPE = "cloud_run_revision";
/** The monitored resource's labels (Cloud Run revision), which log metrics and Cloud Run metrics share. */
const RESOURCE_LABELS = new Set(["project_id", "service_name", "revision_name", "location", "configuration_name"]);

export interface MetricInfo {
  kind: "DELTA" | "GAUGE";
  valueType: "INT64" | "DISTRIBUTION";
  labels: string[];
}

/** Built-in Cloud Run metrics the dashboard reads. */
const CLOUD_RUN_METRICS: Record<string, MetricInfo> = {
  "run.googleapis.com/container/instance_count": { kind: "GAUGE", valueType: "INT64", labels: ["state"] },
  "run.googleapis.com/container/max_request_concurrencies": { kind: "DELTA", valueType: "DISTRIBUTION", labels: ["state"] },
  "run.googleapis.com/container/cpu/utilizations": { kind: "DELTA", valueType: "DISTRIBUTION", labels: [] },
  "run.googleapis.com/container/memory/utilizations": { kind: "DELTA", valueType: "DISTRIBUTION", labels: [] },
};

/** Every metric a chart or alert may read: the log metrics defined here plus Cloud Run's. */
export function metricCatalog(metrics: LogMetric[]): Map<string, MetricInfo> {
  const catalog = new Map(Object.entries(CLOUD_RUN_METRICS));
  for (const m of metrics) {
    catalog.set(USER_METRIC_PREFIX + m.name, {
      kind: "DELTA",
      valueType: m.metricDescriptor.valueType,
      labels: (m.metricDescriptor.labels ?? []).map((l) => l.key),
    });
  }
  return catalog;
}

// ---- log metrics -------------------------------------------------------------------------------

type FieldKind = { type: "number" } | { type: "boolean" } | { type: "string" } | { type: "enum"; values: string[] } | { type: "other" };

/** What kind of value a line field holds, from its zod schema (optional unwrapped). */
function fieldKind(schema: z.ZodObject, field: string): FieldKind | undefined {
  let type = schema.shape[field] as z.ZodType | undefined;
  if (!type) return undefined;
  while (type.def.type === "optional") type = (type as z.ZodOptional).unwrap() as z.ZodType;
  switch (type.def.type) {
    case "number":
    case "boolean":
    case "string":
      return { type: type.def.type };
    case "enum":
      return { type: "enum", values: (type as z.ZodEnum).options.map(String) };
    case "literal":
      return { type: "enum", values: [...(type as z.ZodLiteral).values].map(String) };
    default:
      return { type: "other" };
  }
}

/** The line a metric counts, from its filter's `jsonPayload.message="..."` term. */
function countedLine(metric: LogMetric): string | undefined {
  const parsed = parseFilter(metric.filter);
  const term = parsed.ok ? parsed.terms.find((t) => t.path.join(".") === "jsonPayload.message" && t.op === "=") : undefined;
  return typeof term?.value === "string" ? term.value : undefined;
}

/** The jsonPayload field a path names (one level deep, as the core's lines are), or undefined. */
function payloadField(path: string[]): string | undefined {
  return path.length === 2 && path[0] === "jsonPayload" ? path[1] : undefined;
}

export function checkLogMetric(metric: LogMetric): string[] {
  const problems: string[] = [];
  const { filter, metricDescriptor: descriptor } = metric;
  const parsed = parseFilter(filter);
  if (!parsed.ok) return [`filter: ${parsed.reason}`];
  const line = countedLine(metric);
  const schema = line === undefined ? undefined : LINE_SCHEMAS[line];
  if (!schema) return [`filter must select the core's TURN or CALL lines (jsonPayload.message="TURN" or "CALL"), got: ${filter}`];
  if (!parsed.terms.some((t) => t.path.join(".") === "resource.type" && t.op === "=" && t.value === RESOURCE_TYPE)) {
    problems.push(`filter must select resource.type="${RESOURCE_TYPE}" (the core on Cloud Run)`);
  }

  for (const { path, op, value } of parsed.terms) {
    if (path[0] !== "jsonPayload") continue;
    const field = payloadField(path);
    const kind = field === undefined ? undefined : fieldKind(schema, field);
    if (field === undefined || !kind) {
      problems.push(`filter names ${path.join(".")}, which the ${line} line does not have`);
      continue;
    }
    if (op === ":*") continue;
    if (["<", "<=", ">", ">="].includes(op)) {
      if (kind.type !== "number" || typeof value !== "number") problems.push(`filter compares jsonPayload.${field} as a number, but it is ${kind.type}`);
    } else if (kind.type === "enum" && !kind.values.includes(String(value))) {
      problems.push(`filter compares jsonPayload.${field} with ${JSON.stringify(value)}, not one of ${kind.values.join(", ")}`);
    }
  }

  const extracted = (expression: string, what: string): { field: string; kind: FieldKind } | undefined => {
    const path = extractedPath(expression);
    const field = path && payloadField(path);
    if (field === undefined) {
      problems.push(`${what} must be EXTRACT(jsonPayload.FIELD), got ${expression}`);
      return undefined;
    }
    const kind = fieldKind(schema, field);
    if (!kind) {
      problems.push(`${what} extracts jsonPayload.${field}, which the ${line} line does not have`);
      return undefined;
    }
    return { field, kind };
  };

  if (descriptor.valueType === "DISTRIBUTION") {
    if (metric.valueExtractor === undefined) problems.push("a DISTRIBUTION metric needs a valueExtractor");
    else {
      const value = extracted(metric.valueExtractor, "valueExtractor");
      if (value && value.kind.type !== "number") problems.push(`valueExtractor extracts jsonPayload.${value.field}, which is not a number`);
      // Lines without the field (a stage that did not happen) are left out on purpose, not by accident.
      const required = parsed.terms.some((t) => t.op === ":*" && payloadField(t.path) === value?.field);
      if (value && !required) problems.push(`filter must require jsonPayload.${value.field}:* (the field is optional)`);
    }
    if (metric.bucketOptions === undefined) problems.push("a DISTRIBUTION metric needs bucketOptions");
    const bounds = metric.bucketOptions?.explicitBuckets?.bounds;
    if (bounds && bounds.some((b, i) => b <= 0 || (i > 0 && b <= bounds[i - 1]!))) problems.push("explicit bucket bounds must be positive and strictly increasing");
  } else {
    if (metric.valueExtractor !== undefined) problems.push("a counter (INT64) counts entries: it takes no valueExtractor");
    if (metric.bucketOptions !== undefined) problems.push("a counter (INT64) takes no bucketOptions");
  }

  const labelKeys = (descriptor.labels ?? []).map((l) => l.key).sort();
  const extractorKeys = Object.keys(metric.labelExtractors ?? {}).sort();
  if (labelKeys.join() !== extractorKeys.join()) problems.push(`metricDescriptor.labels (${labelKeys.join(", ")}) and labelExtractors (${extractorKeys.join(", ")}) must name the same labels`);
  for (const [key, expression] of Object.entries(metric.labelExtractors ?? {})) {
    const label = extracted(expression, `label ${key}`);
    if (!label) continue;
    const closed = label.kind.type === "enum" || label.kind.type === "boolean" || (label.kind.type === "string" && CLOSED_STRING_FIELDS.has(label.field));
    if (!closed) problems.push(`label ${key} extracts jsonPayload.${label.field}, which is not a small closed set (one time series per value)`);
  }
  return problems;
}

// ---- queries -----------------------------------------------------------------------------------

const PERCENTILE_REDUCER = /^REDUCE_PERCENTILE_\d+$/;
const PERCENTILE_ALIGNER = /^ALIGN_PERCENTILE_\d+$/;

/** Which aligner/reducer pairs Cloud Monitoring takes for each kind of metric (the ones these files need). */
function aggregationProblem(a: Aggregation, metric: MetricInfo): string | undefined {
  const aligner = a.perSeriesAligner;
  const reducer = a.crossSeriesReducer;
  if (metric.valueType === "DISTRIBUTION") {
    if (aligner === "ALIGN_DELTA" && reducer !== undefined && PERCENTILE_REDUCER.test(reducer)) return undefined;
    if (PERCENTILE_ALIGNER.test(aligner) && (reducer === undefined || reducer === "REDUCE_MEAN" || reducer === "REDUCE_MAX")) return undefined;
    return `a distribution takes ALIGN_DELTA + REDUCE_PERCENTILE_nn, or ALIGN_PERCENTILE_nn (got ${aligner} + ${reducer ?? "none"})`;
  }
  if (metric.kind === "DELTA") {
    if ((aligner === "ALIGN_DELTA" || aligner === "ALIGN_RATE") && (reducer === undefined || reducer === "REDUCE_SUM")) return undefined;
    return `a counter takes ALIGN_DELTA or ALIGN_RATE, then REDUCE_SUM (got ${aligner} + ${reducer ?? "none"})`;
  }
  if (["ALIGN_MEAN", "ALIGN_MAX", "ALIGN_MIN"].includes(aligner) && (reducer === undefined || ["REDUCE_SUM", "REDUCE_MEAN", "REDUCE_MAX", "REDUCE_MIN"].includes(reducer))) return undefined;
  return `a gauge takes ALIGN_MEAN/MAX/MIN, then REDUCE_SUM/MEAN/MAX/MIN (got ${aligner} + ${reducer ?? "none"})`;
}

/** The metric a Monitoring filter reads (`metric.type="..."`), if it names exactly one. */
export function filterMetricType(filter: string): string | undefined {
  const types = [...filter.matchAll(/metric\.type\s*=\s*"([^"]+)"/g)].map((m) => m[1]!);
  return types.length === 1 ? types[0] : undefined;
}

/** Problems of one Monitoring filter + aggregation, against the metrics that exist. */
export function checkQuery(query: TimeSeriesFilter, catalog: Map<string, MetricInfo>): string[] {
  const type = filterMetricType(query.filter);
  if (type === undefined) return [`filter must name exactly one metric.type: ${query.filter}`];
  const metric = catalog.get(type);
  if (!metric) return [`${type} is not a metric in infra/observability/metrics nor a known Cloud Run metric`];
  const problems: string[] = [];
  if (!query.filter.includes(`resource.type="${RESOURCE_TYPE}"`)) problems.push(`${type}: filter must select resource.type="${RESOURCE_TYPE}"`);
  const named = [...query.filter.matchAll(/(metric|resource)\.labels?\.([a-z_]+)/g)].map((m) => `${m[1]}.label.${m[2]}`);
  for (const field of [...named, ...(query.aggregation.groupByFields ?? [])]) {
    const [scope, , label] = field.split(".");
    const known = scope === "metric" ? metric.labels.includes(label!) : scope === "resource" && RESOURCE_LABELS.has(label!);
    if (!known) problems.push(`${type}: ${field} is not a label of the metric or of its resource`);
  }
  if (query.aggregation.groupByFields?.length && !query.aggregation.crossSeriesReducer) problems.push(`${type}: groupByFields need a crossSeriesReducer`);
  const aggregation = aggregationProblem(query.aggregation, metric);
  if (aggregation) problems.push(`${type}: ${aggregation}`);
  return problems;
}

// ---- dashboard ---------------------------------------------------------------------------------

export interface ChartQuery {
  /** The chart's title. */
  title: string;
  legend: string | undefined;
  query: TimeSeriesFilter;
  /** A query of its own, or one side of a ratio. */
  part: "single" | "numerator" | "denominator";
}

/** Every query of the dashboard, with the chart it is in. */
export function dashboardQueries(d: Dashboard): ChartQuery[] {
  const queries: ChartQuery[] = [];
  for (const { widget } of d.mosaicLayout.tiles) {
    for (const set of widget.xyChart?.dataSets ?? []) {
      const { timeSeriesFilter: single, timeSeriesFilterRatio: ratio } = set.timeSeriesQuery;
      const base = { title: widget.title, legend: set.legendTemplate };
      if (single) queries.push({ ...base, query: single, part: "single" });
      if (ratio) queries.push({ ...base, query: ratio.numerator, part: "numerator" }, { ...base, query: ratio.denominator, part: "denominator" });
    }
  }
  return queries;
}

export function checkDashboard(d: Dashboard, catalog: Map<string, MetricInfo>): string[] {
  const problems: string[] = [];
  const { columns, tiles } = d.mosaicLayout;
  tiles.forEach((t, i) => {
    if (t.xPos + t.width > columns) problems.push(`tile "${t.widget.title}" runs past column ${columns}`);
    for (const other of tiles.slice(i + 1)) {
      const overlaps = t.xPos < other.xPos + other.width && other.xPos < t.xPos + t.width && t.yPos < other.yPos + other.height && other.yPos < t.yPos + t.height;
      if (overlaps) problems.push(`tiles "${t.widget.title}" and "${other.widget.title}" overlap`);
    }
  });
  for (const { title, query } of dashboardQueries(d)) {
    problems.push(...checkQuery(query, catalog).map((p) => `chart "${title}": ${p}`));
  }
  return problems;
}

// ---- alert policies ----------------------------------------------------------------------------

export function checkPolicy(p: AlertPolicy, catalog: Map<string, MetricInfo>): string[] {
  const problems: string[] = [];
  if (p.notificationChannels.length !== 1 || p.notificationChannels[0] !== NOTIFICATION_CHANNELS_PLACEHOLDER) {
    problems.push(`notificationChannels must be [${JSON.stringify(NOTIFICATION_CHANNELS_PLACEHOLDER)}]: apply.ts fills in the project's channels`);
  }
  for (const { displayName, conditionThreshold: c } of p.conditions) {
    const where = `condition "${displayName}"`;
    problems.push(...checkQuery({ filter: c.filter, aggregation: c.aggregations[0]! }, catalog).map((q) => `${where}: ${q}`));
    if (c.denominatorFilter !== undefined && c.denominatorAggregations !== undefined) {
      problems.push(...checkQuery({ filter: c.denominatorFilter, aggregation: c.denominatorAggregations[0]! }, catalog).map((q) => `${where} (denominator): ${q}`));
    }
  }
  return problems;
}

/** Every problem of every file, each prefixed with its file's path. */
export function checkAll(files: ObservabilityFiles): string[] {
  const catalog = metricCatalog(files.metrics.map((m) => m.value));
  const named = (path: string, problems: string[]) => problems.map((p) => `${path}: ${p}`);
  return [
    ...files.metrics.flatMap(({ path, value }) => {
      const base = basename(path).replace(/\.(ya?ml|json)$/, "");
      const nameProblem = base === value.name ? [] : [`the file is named ${base} but the metric ${value.name}`];
      return named(path, [...nameProblem, ...checkLogMetric(value)]);
    }),
    ...named(files.dashboard.path, checkDashboard(files.dashboard.value, catalog)),
    ...files.policies.flatMap(({ path, value }) => named(path, checkPolicy(value, catalog))),
  ];
}
