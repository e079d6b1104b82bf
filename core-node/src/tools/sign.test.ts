import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { toolRequest, toolRequestSignature } from "./sign.js";
import type { ToolSpec } from "./types.js";

const SECRET = "tool-signing-secret-0123";
const TOOL: ToolSpec = {
  name: "find_slots",
  description: "Free appointment slots on a day",
  parameters: { type: "object", properties: { date: { type: "string" } }, required: [] },
  endpoint: "http://127.0.0.1:8091/tools/find_slots",
  sideEffects: false,
  timeoutMs: 3000,
};
const signal = new AbortController().signal;

describe("toolRequestSignature", () => {
  it("is v1= and the lowercase hex HMAC-SHA256 of `<timestamp>.<raw body>` (a vector computed with openssl)", () => {
    const body = '{"tool":"find_slots","arguments":{},"call":{"callSid":"CA123"},"idempotencyKey":"CA123:call_1"}';
    // printf '%s' '1767225600000.<body>' | openssl dgst -sha256 -hmac 'tool-signing-secret-0123' -hex
    expect(toolRequestSignature(SECRET, 1_767_225_600_000, body)).toBe("v1=275286e4bfac4d0ab4ba2e338aad0772fb89c0f4105e7778ebef115502afc5ad");
  });

  it("agrees with node:crypto computed here, over non-ASCII bodies too (UTF-8)", () => {
    const body = JSON.stringify({ tool: "book", arguments: { name: "דנה כהן" } });
    const expected = createHmac("sha256", SECRET).update(Buffer.from(`1700000000123.${body}`, "utf8")).digest("hex");
    expect(toolRequestSignature(SECRET, 1_700_000_000_123, body)).toBe(`v1=${expected}`);
    expect(toolRequestSignature(`${SECRET}x`, 1_700_000_000_123, body)).not.toBe(`v1=${expected}`);
    expect(toolRequestSignature(SECRET, 1_700_000_000_124, body)).not.toBe(`v1=${expected}`);
  });
});

describe("toolRequest", () => {
  it("builds the contract's POST: headers, body, the idempotency key from CallSid and the tool call id", () => {
    const request = toolRequest(TOOL, { date: "2026-12-07" }, { callSid: "CA42", from: "+972501234567", to: "+97231234567", toolCallId: "call_7", signal }, SECRET, 1_767_225_600_000);
    expect(request.url).toBe(TOOL.endpoint);
    expect(JSON.parse(request.body)).toEqual({
      tool: "find_slots",
      arguments: { date: "2026-12-07" },
      call: { callSid: "CA42", from: "+972501234567", to: "+97231234567" },
      idempotencyKey: "CA42:call_7",
    });
    expect(request.headers).toEqual({
      "content-type": "application/json",
      "x-voice-timestamp": "1767225600000",
      "x-voice-signature": `v1=${createHmac("sha256", SECRET).update(`1767225600000.${request.body}`).digest("hex")}`,
      "idempotency-key": "CA42:call_7",
    });
  });

  it("leaves out from/to when unknown, sends {} for absent arguments, and signs each timestamp afresh under the same key", () => {
    const context = { callSid: "CA1", toolCallId: "call_1", signal };
    const first = toolRequest(TOOL, undefined, context, SECRET, 1000.7);
    expect(JSON.parse(first.body)).toEqual({ tool: "find_slots", arguments: {}, call: { callSid: "CA1" }, idempotencyKey: "CA1:call_1" });
    expect(first.headers["x-voice-timestamp"]).toBe("1000");
    expect(first.headers["x-voice-signature"]).toBe(toolRequestSignature(SECRET, 1000, first.body));
    const second = toolRequest(TOOL, undefined, context, SECRET, 2000);
    expect(second.body).toBe(first.body);
    expect(second.headers["idempotency-key"]).toBe(first.headers["idempotency-key"]);
    expect(second.headers["x-voice-signature"]).not.toBe(first.headers["x-voice-signature"]);
  });
});
