import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCloudTraceContext, parseTraceparent, requestTrace, traceLogFields } from "./trace.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

describe("traceparent", () => {
  it("reads the trace, the span and the sampled flag", () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: false });
    // A later version may append fields; its first four are read the same.
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-03-what-comes-next`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
  });

  it("gives no trace for a header that breaks the format", () => {
    for (const header of [
      "",
      "garbage",
      `ff-${TRACE}-${SPAN}-01`, // version ff is invalid
      `00-${TRACE}-${SPAN}-01-extra`, // version 00 has exactly four fields
      `00-${"0".repeat(32)}-${SPAN}-01`, // all-zero trace id
      `00-${TRACE}-${"0".repeat(16)}-01`, // all-zero span id
      `00-${TRACE.toUpperCase()}-${SPAN}-01`, // uppercase hex
      `00-${TRACE.slice(1)}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-1`,
      `01-${TRACE}-${SPAN}-01x`,
    ]) {
      expect(parseTraceparent(header), header).toBeUndefined();
    }
  });

  it("never throws, whatever the header holds", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (header) => {
        const trace = parseTraceparent(header);
        if (trace) expect(trace.traceId).toMatch(/^[0-9a-f]{32}$/);
      }),
      { seed: 1818, numRuns: 500 },
    );
  });
});

describe("X-Cloud-Trace-Context", () => {
  it("reads the hex trace id and the decimal span id, sampled when o=1", () => {
    expect(parseCloudTraceContext(`${TRACE.toUpperCase()}/74;o=1`)).toEqual({ traceId: TRACE, spanId: "000000000000004a", sampled: true });
    expect(parseCloudTraceContext(`${TRACE}/18446744073709551615`)).toEqual({ traceId: TRACE, spanId: "ffffffffffffffff", sampled: false });
    expect(parseCloudTraceContext(`${TRACE}/18446744073709551616;o=1`)).toBeUndefined(); // past 64 bits
    expect(parseCloudTraceContext(`${TRACE}/0;o=1`)).toBeUndefined();
    expect(parseCloudTraceContext(`${TRACE};o=1`)).toBeUndefined();
  });
});

describe("a request's trace on the call's lines", () => {
  it("prefers traceparent, falls back to X-Cloud-Trace-Context, and trusts no repeated header", () => {
    const cloud = `${"a".repeat(32)}/1;o=0`;
    expect(requestTrace({ traceparent: `00-${TRACE}-${SPAN}-01`, "x-cloud-trace-context": cloud })?.traceId).toBe(TRACE);
    expect(requestTrace({ traceparent: "broken", "x-cloud-trace-context": cloud })).toEqual({ traceId: "a".repeat(32), spanId: "0000000000000001", sampled: false });
    expect(requestTrace({ traceparent: `00-${TRACE}-${SPAN}-01, 00-${TRACE}-${SPAN}-00` })).toBeUndefined();
    expect(requestTrace({})).toBeUndefined();
  });

  it("names the trace in the project as Cloud Logging's special fields; nothing without a project or a trace", () => {
    const trace = parseTraceparent(`00-${TRACE}-${SPAN}-01`);
    expect(traceLogFields(trace, "voice-prod")).toEqual({
      "logging.googleapis.com/trace": `projects/voice-prod/traces/${TRACE}`,
      "logging.googleapis.com/spanId": SPAN,
      "logging.googleapis.com/trace_sampled": true,
    });
    expect(traceLogFields(trace, undefined)).toEqual({});
    expect(traceLogFields(undefined, "voice-prod")).toEqual({});
  });
});
