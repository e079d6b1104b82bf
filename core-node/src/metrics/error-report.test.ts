import { describe, expect, it } from "vitest";
import { LogCapture } from "../../testing/log-capture.js";
import { REPORTED_ERROR_EVENT } from "./error-report.js";
import { createLogger } from "./log.js";
import type { LogTranscripts } from "./redact-words.js";

const SECRET = "core-shared-secret-never-logged";

function logger(transcripts?: LogTranscripts) {
  const capture = new LogCapture();
  const log = createLogger({ level: "info", debug: false, destination: capture, secrets: [SECRET], transcripts, service: { service: "voice-core", version: "voice-core-00042-xuv" } });
  return { capture, log };
}

/** An error thrown two calls deep, quoting a caller's phone number and a secret. */
function failingTurn(): Error {
  const parse = () => {
    throw new TypeError(`cannot book for 050-1234567 with ${SECRET}`);
  };
  try {
    parse();
  } catch (error) {
    return error as Error;
  }
  throw new Error("unreachable");
}

describe("an Error logged at ERROR", () => {
  it("carries its stack where Error Reporting reads it, as code locations after a redacted message", () => {
    const { capture, log } = logger();
    log.child({ call_id: "CA1" }).error({ turn: 2, error: failingTurn() }, "turn failed");
    const [line] = capture.lines;

    expect(line).toMatchObject({
      severity: "ERROR",
      message: "turn failed",
      call_id: "CA1",
      turn: 2,
      error: "cannot book for [phone] with [redacted]",
      "@type": REPORTED_ERROR_EVENT,
      serviceContext: { service: "voice-core", version: "voice-core-00042-xuv" },
    });
    const [header, ...frames] = String(line!.stack_trace).split("\n");
    expect(header).toBe("TypeError: cannot book for [phone] with [redacted]");
    expect(frames.length).toBeGreaterThan(1);
    for (const frame of frames) expect(frame).toMatch(/^ {4}at /);
    expect(frames[0]).toContain("error-report.test.ts");
    expect(JSON.stringify(capture.lines)).not.toMatch(/1234567|never-logged/);
  });

  it("takes an Error given as the call's first argument, and keeps the stack's message redacted with words off", () => {
    const { capture, log } = logger("off");
    log.fatal(failingTurn(), "frame handler failed");
    expect(capture.lines[0]).toMatchObject({ severity: "CRITICAL", error: "cannot book for [phone] with [redacted]", "@type": REPORTED_ERROR_EVENT });
    expect(String(capture.lines[0]!.stack_trace)).toMatch(/^TypeError: cannot book for \[phone\] with \[redacted\]\n {4}at /);
  });

  it("is its message alone below ERROR, and a thrown non-Error is its text", () => {
    const { capture, log } = logger();
    log.warn({ error: failingTurn() }, "LLM failed; retrying");
    log.error({ error: { code: 14, details: "socket hang up" } }, "call drain failed");
    log.error({ error: "timeout" }, "warmup step failed");
    expect(capture.lines[0]).toEqual({ severity: "WARNING", timestamp: expect.any(String), message: "LLM failed; retrying", error: "cannot book for [phone] with [redacted]" });
    expect(capture.lines.slice(1).map((line) => [line.error, line.stack_trace, line["@type"]])).toEqual([
      ["[object Object]", undefined, undefined],
      ["timeout", undefined, undefined],
    ]);
  });

  it("names the Cloud Run service when the core is not told its own", () => {
    const capture = new LogCapture();
    createLogger({ level: "info", debug: false, destination: capture }).error({ error: new Error("boom") }, "HTTP handler failed");
    expect(capture.lines[0]!.serviceContext).toEqual({ service: "voice-core" });
  });
});
