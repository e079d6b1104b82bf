// The tool request signature: what passes, what is refused, and that the core's signer makes the
// very same request as this one (so a service checked with sign.ts accepts what the core sends).
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { toolRequest } from "../../core-node/src/tools/sign.js";
import { REPLAY_WINDOW_MS, signToolRequest, toolSignature, verifyToolSignature } from "./sign.js";

const SECRET = "a-tool-signing-secret-for-tests";
const NOW = 1_796_000_000_000;
const input = { tool: "find_slots", arguments: { date: "2026-12-13" }, call: { callSid: "CAabc", from: "+972501234567", to: "+97231234567" }, toolCallId: "call_1" };

const check = (headers: Record<string, string | undefined>, body: string, nowMs = NOW, secret = SECRET) =>
  verifyToolSignature(secret, { timestamp: headers["x-voice-timestamp"], signature: headers["x-voice-signature"] }, body, nowMs);

describe("the tool request signature", () => {
  it("is v1= and the lowercase hex HMAC-SHA256 of '<timestamp>.<raw body>'", () => {
    const expected = createHmac("sha256", SECRET).update(`${NOW}.{"a":1}`).digest("hex");
    expect(toolSignature(SECRET, NOW, '{"a":1}')).toBe(`v1=${expected}`);
    expect(toolSignature(SECRET, NOW, Buffer.from('{"a":1}'))).toBe(`v1=${expected}`);
  });

  it("a signed request carries the contract's body and headers, and passes", () => {
    const { headers, body } = signToolRequest(SECRET, input, NOW);
    expect(JSON.parse(body)).toEqual({ tool: "find_slots", arguments: { date: "2026-12-13" }, call: input.call, idempotencyKey: "CAabc:call_1" });
    expect(headers).toMatchObject({ "content-type": "application/json", "x-voice-timestamp": String(NOW), "idempotency-key": "CAabc:call_1" });
    expect(check(headers, body)).toEqual({ ok: true });
  });

  it("is refused for another body, another secret, or another timestamp", () => {
    const { headers, body } = signToolRequest(SECRET, input, NOW);
    expect(check(headers, body.replace("2026-12-13", "2026-12-14"))).toEqual({ ok: false, error: "signature does not match" });
    expect(check(headers, body, NOW, "another-secret-of-16-chars")).toEqual({ ok: false, error: "signature does not match" });
    expect(check({ ...headers, "x-voice-timestamp": String(NOW + 1) }, body)).toEqual({ ok: false, error: "signature does not match" });
    expect(check({ ...headers, "x-voice-signature": headers["x-voice-signature"]!.toUpperCase() }, body).ok).toBe(false);
    expect(check({ ...headers, "x-voice-signature": "v1=00" }, body).ok).toBe(false);
  });

  it("is refused when a header is missing or the timestamp is not milliseconds", () => {
    const { headers, body } = signToolRequest(SECRET, input, NOW);
    expect(check({ ...headers, "x-voice-signature": undefined }, body)).toEqual({ ok: false, error: "missing x-voice-signature" });
    expect(check({ ...headers, "x-voice-timestamp": undefined }, body)).toEqual({ ok: false, error: "missing x-voice-timestamp" });
    expect(check({ ...headers, "x-voice-timestamp": "1.5e12" }, body).ok).toBe(false);
  });

  it("passes up to 300 s either side of the service's clock, and not a millisecond more", () => {
    const { headers, body } = signToolRequest(SECRET, input, NOW);
    expect(check(headers, body, NOW + REPLAY_WINDOW_MS)).toEqual({ ok: true });
    expect(check(headers, body, NOW - REPLAY_WINDOW_MS)).toEqual({ ok: true });
    expect(check(headers, body, NOW + REPLAY_WINDOW_MS + 1)).toEqual({ ok: false, error: "x-voice-timestamp is more than 300 s from the service's clock" });
    expect(check(headers, body, NOW - REPLAY_WINDOW_MS - 1).ok).toBe(false);
  });

  it("the core's signer makes the same request, byte for byte", () => {
    const tool = { name: input.tool, description: "d", parameters: { type: "object" }, endpoint: "http://127.0.0.1:8091/tools/find_slots", sideEffects: false, timeoutMs: 3000 };
    const context = { callSid: "CAabc", from: "+972501234567", to: "+97231234567", toolCallId: "call_1", signal: new AbortController().signal };
    const core = toolRequest(tool, input.arguments, context, SECRET, NOW);
    const ours = signToolRequest(SECRET, input, NOW);
    expect(core.body).toBe(ours.body);
    expect(core.headers).toEqual(ours.headers);
    expect(check(core.headers, core.body)).toEqual({ ok: true });
  });
});
