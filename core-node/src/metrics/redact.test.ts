import { describe, expect, it } from "vitest";
import { createLogger } from "./log.js";
import { LogCapture } from "../../testing/log-capture.js";
import { secretRedactor } from "./redact.js";

const SHARED_SECRET = 'core-secret-"quoted"-0123456789';
const OPENAI_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz012345";

describe("secretRedactor", () => {
  const redact = secretRedactor([SHARED_SECRET, OPENAI_KEY, undefined, "short"]);

  it("removes the process's secrets, raw or JSON-escaped, and leaves a clean line as it was", () => {
    const line = JSON.stringify({ message: `failed with ${SHARED_SECRET}`, error: `key ${OPENAI_KEY} refused` });
    const out = redact(line);
    expect(out).not.toContain("core-secret");
    expect(out).not.toContain("abcdefghijklmnop");
    expect(JSON.parse(out)).toEqual({ message: "failed with [redacted]", error: "key [redacted] refused" });
    const clean = JSON.stringify({ message: "TURN", transcript: "short words, a short-lived task-key" });
    expect(redact(clean)).toBe(clean);
  });

  it("removes bearer tokens, OpenAI-shaped keys and Google key file secrets a library quotes", () => {
    const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nabc\n-----END PRIVATE KEY-----\n";
    const keyFile = JSON.stringify({ type: "service_account", private_key: pem, client_email: "x@p.iam.gserviceaccount.com" });
    const cases = [
      { error: "request with Authorization: Bearer CA1.1700000000000.deadbeef failed", gone: "deadbeef" },
      { error: "401 Incorrect API key provided: sk-live-0123456789abcdefXYZ", gone: "0123456789abcdef" },
      { error: `cannot parse ${keyFile}`, gone: "MIIEvQ" },
      { error: `truncated ${pem.slice(0, 50)}`, gone: "MIIEvQ" },
      { error: JSON.stringify({ client_secret: "s3cr3t-value", refresh_token: "1//tok" }), gone: "s3cr3t" },
    ];
    for (const { error, gone } of cases) {
      const out = redact(JSON.stringify({ message: "warmup step failed", error }));
      expect(out, error).not.toContain(gone);
      expect(out).toContain("[redacted]");
      expect(() => JSON.parse(out)).not.toThrow();
    }
    expect(redact(JSON.stringify({ error: "see client_email" }))).toContain("client_email");
  });

  it("runs on every line the core's logger writes, children included", () => {
    const capture = new LogCapture();
    const log = createLogger({ level: "info", debug: false, destination: capture, secrets: [SHARED_SECRET] });
    log.child({ call_id: "CA1" }).warn({ error: `bad ${SHARED_SECRET}` }, "call socket error");
    expect(capture.lines[0]).toMatchObject({ call_id: "CA1", error: "bad [redacted]", message: "call socket error" });
  });

  it("costs microseconds per clean line", () => {
    const line = JSON.stringify({ severity: "INFO", message: "TURN", call_id: "CA0123456789", transcript: "שלום, מתי אתם פתוחים?", TOTAL_LATENCY_MS: 812, retries: 0 });
    const runs = 20_000;
    const started = performance.now();
    for (let i = 0; i < runs; i++) redact(line);
    const perLineUs = ((performance.now() - started) * 1000) / runs;
    expect(perLineUs).toBeLessThan(50); // generous for a loaded machine; ~1 µs measured
  });
});
