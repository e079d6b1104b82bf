// The observability files as the tools that apply them read them: log-based metrics
// (`gcloud logging metrics create --config-from-file`, a LogMetric), the dashboard
// (`gcloud monitoring dashboards create --config-from-file`, a Dashboard) and the alert policies
// (`gcloud monitoring policies create --policy-from-file`, an AlertPolicy). The schemas cover the
// part of each API these files use, strictly, so a misspelt field fails here rather than at apply
// time; check.ts then checks what the files mean (fields of the core's lines, metric references).
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

export const OBSERVABILITY_DIR = fileURLToPath(new URL(".", import.meta.url));

/** Cloud Monitoring durations are seconds with an "s": "300s". */
const seconds = z.string().regex(/^\d+s$/, 'a duration is whole seconds, e.g. "300s"');

// ---- LogMetric ---------------------------------------------------------------------------------

const metricLabel = z.strictObject({
  key: z.string().regex(/^[a-z][a-z0-9_]*$/),
  valueType: z.enum(["STRING", "BOOL", "INT64"]),
  description: z.string().min(1),
});

const bucketOptions = z
  .strictObject({
    explicitBuckets: z.strictObject({ bounds: z.array(z.number()).min(1) }).optional(),
    exponentialBuckets: z.strictObject({ numFiniteBuckets: z.int().positive(), growthFactor: z.number().gt(1), scale: z.number().positive() }).optional(),
    linearBuckets: z.strictObject({ numFiniteBuckets: z.int().positive(), width: z.number().positive(), offset: z.number() }).optional(),
  })
  .refine((b) => [b.explicitBuckets, b.exponentialBuckets, b.linearBuckets].filter(Boolean).length === 1, {
    message: "bucketOptions takes exactly one of explicitBuckets, exponentialBuckets, linearBuckets",
  });

export const logMetric = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.\-/]{1,100}$/),
  description: z.string().min(1),
  filter: z.string().min(1),
  metricDescriptor: z.strictObject({
    // Logs-based metrics are always DELTA: each matching entry adds to the current interval.
    metricKind: z.literal("DELTA"),
    valueType: z.enum(["INT64", "DISTRIBUTION"]),
    unit: z.string().min(1),
    displayName: z.string().min(1),
    labels: z.array(metricLabel).optional(),
  }),
  valueExtractor: z.string().optional(),
  labelExtractors: z.record(z.string(), z.string()).optional(),
  bucketOptions: bucketOptions.optional(),
});
export type LogMetric = z.infer<typeof logMetric>;

// ---- Monitoring queries (dashboard and alerts) -------------------------------------------------

const ALIGNERS = ["ALIGN_DELTA", "ALIGN_RATE", "ALIGN_MEAN", "ALIGN_MAX", "ALIGN_MIN", "ALIGN_SUM", "ALIGN_PERCENTILE_50", "ALIGN_PERCENTILE_95", "ALIGN_PERCENTILE_99"] as const;
const REDUCERS = ["REDUCE_SUM", "REDUCE_MEAN", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PERCENTILE_50", "REDUCE_PERCENTILE_95", "REDUCE_PERCENTILE_99"] as const;

const aggregation = z.strictObject({
  alignmentPeriod: seconds,
  perSeriesAligner: z.enum(ALIGNERS),
  crossSeriesReducer: z.enum(REDUCERS).optional(),
  groupByFields: z.array(z.string()).optional(),
});
export type Aggregation = z.infer<typeof aggregation>;

const timeSeriesFilter = z.strictObject({ filter: z.string().min(1), aggregation });
export type TimeSeriesFilter = z.infer<typeof timeSeriesFilter>;

// ---- Dashboard ---------------------------------------------------------------------------------

const dataSet = z.strictObject({
  timeSeriesQuery: z
    .strictObject({
      timeSeriesFilter: timeSeriesFilter.optional(),
      timeSeriesFilterRatio: z.strictObject({ numerator: timeSeriesFilter, denominator: timeSeriesFilter }).optional(),
      unitOverride: z.string().optional(),
    })
    .refine((q) => (q.timeSeriesFilter === undefined) !== (q.timeSeriesFilterRatio === undefined), {
      message: "a query takes exactly one of timeSeriesFilter, timeSeriesFilterRatio",
    }),
  plotType: z.enum(["LINE", "STACKED_BAR", "STACKED_AREA"]),
  legendTemplate: z.string().optional(),
  targetAxis: z.enum(["Y1", "Y2"]).optional(),
});

const xyChart = z.strictObject({
  dataSets: z.array(dataSet).min(1),
  thresholds: z.array(z.strictObject({ value: z.number(), label: z.string().optional(), targetAxis: z.enum(["Y1", "Y2"]).optional() })).optional(),
  yAxis: z.strictObject({ label: z.string(), scale: z.enum(["LINEAR", "LOG10"]) }).optional(),
  chartOptions: z.strictObject({ mode: z.enum(["COLOR", "X_RAY", "STATS"]) }).optional(),
});

const widget = z
  .strictObject({
    title: z.string().min(1),
    xyChart: xyChart.optional(),
    text: z.strictObject({ content: z.string().min(1), format: z.enum(["MARKDOWN", "RAW"]) }).optional(),
  })
  .refine((w) => (w.xyChart === undefined) !== (w.text === undefined), { message: "a widget is exactly one of xyChart, text" });

const tile = z.strictObject({
  xPos: z.int().nonnegative(),
  yPos: z.int().nonnegative(),
  width: z.int().positive(),
  height: z.int().positive(),
  widget,
});

export const dashboard = z.strictObject({
  displayName: z.string().min(1),
  // A mosaic is at most 48 columns wide.
  mosaicLayout: z.strictObject({ columns: z.int().min(1).max(48), tiles: z.array(tile).min(1) }),
  dashboardFilters: z
    .array(
      z.strictObject({
        labelKey: z.string().min(1),
        filterType: z.enum(["RESOURCE_LABEL", "METRIC_LABEL"]),
        stringValue: z.string().optional(),
      }),
    )
    .optional(),
});
export type Dashboard = z.infer<typeof dashboard>;

// ---- AlertPolicy -------------------------------------------------------------------------------

/** The policy files name no channel: apply.ts puts the operator's channels in this entry's place. */
export const NOTIFICATION_CHANNELS_PLACEHOLDER = "${NOTIFICATION_CHANNELS}";

const conditionThreshold = z
  .strictObject({
    filter: z.string().min(1),
    aggregations: z.array(aggregation).length(1),
    denominatorFilter: z.string().min(1).optional(),
    denominatorAggregations: z.array(aggregation).length(1).optional(),
    comparison: z.enum(["COMPARISON_GT", "COMPARISON_GE", "COMPARISON_LT", "COMPARISON_LE"]),
    thresholdValue: z.number(),
    duration: seconds,
    trigger: z.strictObject({ count: z.int().positive() }),
    evaluationMissingData: z.enum(["EVALUATION_MISSING_DATA_INACTIVE", "EVALUATION_MISSING_DATA_ACTIVE", "EVALUATION_MISSING_DATA_NO_OP"]).optional(),
  })
  .refine((c) => (c.denominatorFilter === undefined) === (c.denominatorAggregations === undefined), {
    message: "denominatorFilter and denominatorAggregations go together",
  });

export const alertPolicy = z.strictObject({
  displayName: z.string().min(1),
  documentation: z.strictObject({ content: z.string().min(1), mimeType: z.literal("text/markdown") }),
  combiner: z.enum(["OR", "AND"]),
  conditions: z.array(z.strictObject({ displayName: z.string().min(1), conditionThreshold })).min(1),
  notificationChannels: z.array(z.string()),
  alertStrategy: z.strictObject({ autoClose: seconds }).optional(),
});
export type AlertPolicy = z.infer<typeof alertPolicy>;

// ---- the files ---------------------------------------------------------------------------------

export interface Loaded<T> {
  /** Absolute path. */
  path: string;
  value: T;
}

/** Parses a .json, .yaml or .yml file's text by its extension. */
function parseConfigText(file: string, text: string): unknown {
  return file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
}

function load<T>(file: string, schema: z.ZodType<T>): Loaded<T> {
  let raw: unknown;
  try {
    raw = parseConfigText(file, readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`${file}: does not parse: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${file}: ${issue?.path.join(".") || "(top)"}: ${issue?.message}`);
  }
  return { path: file, value: parsed.data };
}

function filesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => /\.(ya?ml|json)$/.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

export interface ObservabilityFiles {
  metrics: Loaded<LogMetric>[];
  dashboard: Loaded<Dashboard>;
  policies: Loaded<AlertPolicy>[];
}

/** Every file under `dir` (metrics/*, dashboard.json, policies/*), parsed and schema-checked. */
export function loadObservability(dir = OBSERVABILITY_DIR): ObservabilityFiles {
  return {
    metrics: filesIn(path.join(dir, "metrics")).map((file) => load(file, logMetric)),
    dashboard: load(path.join(dir, "dashboard.json"), dashboard),
    policies: filesIn(path.join(dir, "policies")).map((file) => load(file, alertPolicy)),
  };
}
