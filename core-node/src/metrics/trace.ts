// Which trace a call's log lines belong to. Cloud Run puts a W3C `traceparent` header (and its own
// X-Cloud-Trace-Context) on the request that opens the call's socket; every line of the call names
// that trace and span, so Logs Explorer shows them under the request and Cloud Trace beside it.
// Pure: header values in, log fields out. A header that does not parse gives no trace, never an error.

/** The trace and span of a request, and whether the trace was sampled. */
export interface TraceContext {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
  sampled: boolean;
}

const HEX_TRACE_ID = /^[0-9a-f]{32}$/;
const HEX_SPAN_ID = /^[0-9a-f]{16}$/;
const ALL_ZEROS = /^0+$/;

/**
 * A W3C Trace Context `traceparent`: "version-traceid-parentid-flags" in lowercase hex. Version ff is
 * invalid; version 00 has exactly these four parts, a later version may append more after a dash.
 * An all-zero trace or span id is invalid. Bit 0 of the flags: sampled.
 */
export function parseTraceparent(header: string): TraceContext | undefined {
  const value = header.trim();
  const [version, traceId, spanId, flags] = value.split("-");
  if (version === undefined || traceId === undefined || spanId === undefined || flags === undefined) return undefined;
  if (!/^[0-9a-f]{2}$/.test(version) || version === "ff") return undefined;
  if (version === "00" && value.length !== 55) return undefined;
  if (value.length > 55 && value[55] !== "-") return undefined;
  if (!HEX_TRACE_ID.test(traceId) || !HEX_SPAN_ID.test(spanId) || !/^[0-9a-f]{2}$/.test(flags)) return undefined;
  if (ALL_ZEROS.test(traceId) || ALL_ZEROS.test(spanId)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

const MAX_SPAN_ID = 2n ** 64n - 1n;

/** Google's "TRACE_ID/SPAN_ID;o=OPTIONS": a hex trace id, a decimal span id, o=1 when sampled. */
export function parseCloudTraceContext(header: string): TraceContext | undefined {
  const match = /^([0-9a-fA-F]{32})\/(\d{1,20})(?:;o=(\d+))?$/.exec(header.trim());
  if (!match) return undefined;
  const traceId = match[1]!.toLowerCase();
  const span = BigInt(match[2]!);
  if (ALL_ZEROS.test(traceId) || span === 0n || span > MAX_SPAN_ID) return undefined;
  return { traceId, spanId: span.toString(16).padStart(16, "0"), sampled: match[3] === "1" };
}

/** The request's trace: `traceparent` when it parses, else X-Cloud-Trace-Context. A repeated header is not trusted. */
export function requestTrace(headers: Readonly<Record<string, string | string[] | undefined>>): TraceContext | undefined {
  const single = (name: string) => {
    const value = headers[name];
    return typeof value === "string" && !value.includes(",") ? value : undefined;
  };
  const traceparent = single("traceparent");
  const cloud = single("x-cloud-trace-context");
  return (traceparent === undefined ? undefined : parseTraceparent(traceparent)) ?? (cloud === undefined ? undefined : parseCloudTraceContext(cloud));
}

export const TRACE_FIELD = "logging.googleapis.com/trace";
export const SPAN_ID_FIELD = "logging.googleapis.com/spanId";
export const TRACE_SAMPLED_FIELD = "logging.googleapis.com/trace_sampled";

/** What a call's child loggers add to each of its lines (empty: no trace). */
export type TraceLogFields = Readonly<Record<string, string | boolean>>;

/**
 * The special fields Cloud Logging lifts into the LogEntry's trace, spanId and traceSampled. None
 * without a project: Cloud Run's own request log names the trace as
 * "projects/<project>/traces/<id>", and a line groups under that request only with the same name.
 */
export function traceLogFields(trace: TraceContext | undefined, projectId: string | undefined): TraceLogFields {
  if (!trace || !projectId) return {};
  return {
    [TRACE_FIELD]: `projects/${projectId}/traces/${trace.traceId}`,
    [SPAN_ID_FIELD]: trace.spanId,
    [TRACE_SAMPLED_FIELD]: trace.sampled,
  };
}
