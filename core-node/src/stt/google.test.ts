// The StreamingRecognize response -> result mapping, on whatever the service might send: it never
// throws, and gives a result the session can use, an error, nothing, or a one-line reason to drop it.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_TRANSCRIPT_CHARS, readStreamingResponse } from "./google.js";

const LINE = "שלום, מה שעות הפתיחה שלכם?";

/** A final as gax hands it over (int64 as decimal strings). */
const final = (overrides: Record<string, unknown> = {}) => ({
  results: [{ alternatives: [{ transcript: LINE, confidence: 0.9 }], isFinal: true, resultEndTime: { seconds: "2", nanos: 340_000_000 }, ...overrides }],
});

/** Responses shaped like the service's, with every field free to be wrong. */
const duration = fc.oneof(
  fc.record({ seconds: fc.oneof(fc.integer(), fc.bigInt().map(String), fc.string(), fc.constant(null)), nanos: fc.oneof(fc.integer(), fc.double(), fc.constant(null)) }, { requiredKeys: [] }),
  fc.anything(),
);
const alternative = fc.oneof(fc.record({ transcript: fc.oneof(fc.string(), fc.anything()), confidence: fc.double() }, { requiredKeys: [] }), fc.anything());
const result = fc.oneof(
  fc.record(
    { alternatives: fc.oneof(fc.array(alternative, { maxLength: 3 }), fc.anything()), isFinal: fc.oneof(fc.boolean(), fc.anything()), resultEndTime: duration, stability: fc.double() },
    { requiredKeys: [] },
  ),
  fc.anything(),
);
const response = fc.oneof(
  fc.record(
    {
      results: fc.oneof(fc.array(result, { maxLength: 4 }), fc.anything()),
      error: fc.oneof(fc.record({ code: fc.oneof(fc.integer(), fc.anything()), message: fc.anything() }, { requiredKeys: [] }), fc.constant(null)),
      speechEventType: fc.string(),
    },
    { requiredKeys: [] },
  ),
  fc.anything(),
);

describe("readStreamingResponse", () => {
  it("maps any response to a usable result, an error, nothing, or a one-line reason; never throws", () => {
    fc.assert(
      fc.property(response, (given) => {
        const reading = readStreamingResponse(given);
        switch (reading.kind) {
          case "result":
            expect(typeof reading.result.transcript).toBe("string");
            expect(reading.result.transcript.length).toBeLessThanOrEqual(MAX_TRANSCRIPT_CHARS);
            expect(typeof reading.result.isFinal).toBe("boolean");
            if (reading.result.endOffsetMs !== undefined) {
              expect(Number.isFinite(reading.result.endOffsetMs)).toBe(true);
              expect(reading.result.endOffsetMs).toBeGreaterThanOrEqual(0);
            }
            break;
          case "error":
            expect(Number.isInteger(reading.code) && reading.code !== 0).toBe(true);
            expect(typeof reading.message).toBe("string");
            break;
          case "ignored":
            expect(reading.reason).toMatch(/^[^\n]{1,120}$/);
            break;
          case "nothing":
            break;
        }
      }),
      { seed: 8008, numRuns: 500 },
    );
  });

  it("reads a well-formed final and an interim response split into a stable head and an unstable tail", () => {
    expect(readStreamingResponse(final())).toEqual({ kind: "result", result: { transcript: LINE, isFinal: true, endOffsetMs: 2340 } });
    const interim = {
      results: [
        { alternatives: [{ transcript: "שלום, מה" }], isFinal: false, resultEndTime: { seconds: "1", nanos: 0 } },
        { alternatives: [{ transcript: " שעות" }], isFinal: false, resultEndTime: { seconds: "1", nanos: 200_000_000 } },
      ],
    };
    expect(readStreamingResponse(interim)).toEqual({ kind: "result", result: { transcript: "שלום, מה שעות", isFinal: false, endOffsetMs: 1200 } });
    expect(readStreamingResponse({ results: [], speechEventType: "END_OF_SINGLE_UTTERANCE" })).toEqual({ kind: "nothing" });
    expect(readStreamingResponse({ error: { code: 11, message: "Audio Timeout Error" }, results: [] })).toEqual({ kind: "error", code: 11, message: "Audio Timeout Error" });
  });

  it("drops each malformed result with its reason, quoting none of the transcript", () => {
    const reasons = [
      final({ alternatives: [] }),
      final({ alternatives: undefined }),
      final({ alternatives: [{ transcript: 42 }] }),
      final({ resultEndTime: { seconds: "-3", nanos: 0 } }),
      final({ resultEndTime: { seconds: "a lot", nanos: 0 } }),
      final({ alternatives: [{ transcript: `${LINE} `.repeat(4000) }] }),
      { results: "none" },
      "not a response",
    ].map((given) => {
      const reading = readStreamingResponse(given);
      return reading.kind === "ignored" ? reading.reason : reading.kind;
    });
    expect(reasons).toEqual([
      "a result has no alternatives",
      "a result has no alternatives",
      "a result's transcript is not text",
      "a result ends at a negative time (-3000 ms)",
      "a result's resultEndTime is not a duration",
      `a transcript of over ${MAX_TRANSCRIPT_CHARS} characters`,
      "the response's results are not a list",
      "the response is not an object",
    ]);
  });

  it("passes an empty final on (the turn machine ignores empty text) and an end past 32 bits (the stream judges it)", () => {
    expect(readStreamingResponse(final({ alternatives: [{ transcript: "" }] }))).toMatchObject({ kind: "result", result: { transcript: "", isFinal: true } });
    expect(readStreamingResponse(final({ resultEndTime: { seconds: "3000000000", nanos: 0 } }))).toMatchObject({ kind: "result", result: { endOffsetMs: 3e12 } });
  });
});
