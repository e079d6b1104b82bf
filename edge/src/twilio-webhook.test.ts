import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { twilioSignature } from "@voice/protocol/twilio-signature";
import { anyText, wellFormedText } from "../testing/fuzz-inputs.js";
import { connectStreamTwiml, escapeXml } from "./twilio-webhook.js";

const CALL = { CallSid: "CA00000000000000000000000000000001", AccountSid: "AC0001", From: "+972501234567", To: "+97231234567" };

function postVoice(params: Record<string, string>, signature?: string): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (signature !== undefined) headers["x-twilio-signature"] = signature;
  return exports.default.fetch("http://edge.internal/twilio/voice", {
    method: "POST",
    headers,
    body: new URLSearchParams(params).toString(),
  });
}

describe("POST /twilio/voice", () => {
  const webhookUrl = `${env.PUBLIC_URL}/twilio/voice`;

  it("refuses an unsigned request with a bare 403", async () => {
    const response = await postVoice(CALL);
    expect(response.status).toBe(403);
    expect(await response.text()).toBe("");
  });

  it("refuses a signature made with another token, or over other params", async () => {
    expect((await postVoice(CALL, await twilioSignature("not-the-token", webhookUrl, CALL))).status).toBe(403);
    const signedForOtherCaller = await twilioSignature(env.TWILIO_AUTH_TOKEN, webhookUrl, { ...CALL, From: "+15550000000" });
    expect((await postVoice(CALL, signedForOtherCaller)).status).toBe(403);
  });

  it("answers a signed request with TwiML that streams the call to the media route", async () => {
    const response = await postVoice(CALL, await twilioSignature(env.TWILIO_AUTH_TOKEN, webhookUrl, CALL));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/xml/);
    expect(await response.text()).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>' +
        '<Stream url="wss://edge.example.test/twilio/media">' +
        `<Parameter name="callSid" value="${CALL.CallSid}"/>` +
        `<Parameter name="from" value="${CALL.From}"/>` +
        `<Parameter name="to" value="${CALL.To}"/>` +
        "</Stream></Connect></Response>",
    );
  });
});

describe("TwiML", () => {
  it("escapes every value it writes into XML", () => {
    expect(escapeXml(`a&b<c>"d"'e'`)).toBe("a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;");
    expect(connectStreamTwiml("ws://h/twilio/media", { from: 'client:"x"&<y>' })).toContain(
      '<Parameter name="from" value="client:&quot;x&quot;&amp;&lt;y&gt;"/>',
    );
  });
});

describe("POST /twilio/voice on any body (property-based)", () => {
  // Hundreds of requests: their log lines would bury the test report.
  beforeEach(() => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
  });
  afterEach(() => vi.restoreAllMocks());
  const webhookUrl = `${env.PUBLIC_URL}/twilio/voice`;
  const post = (body: BodyInit, headers: Record<string, string>) =>
    exports.default.fetch("http://edge.internal/twilio/voice", { method: "POST", headers, body });

  it("refuses every body that is not signed, form or not, with 400 or 403 and never an error", async () => {
    const contentType = fc.constantFrom(
      "application/x-www-form-urlencoded",
      "multipart/form-data",
      "multipart/form-data; boundary=x",
      "application/json",
      "text/plain",
      "",
    );
    const body = fc.oneof(anyText, fc.uint8Array({ maxLength: 300 }), fc.dictionary(wellFormedText, wellFormedText).map((p) => new URLSearchParams(p).toString()));
    const signature = fc.option(fc.oneof(fc.base64String({ maxLength: 40 }), fc.string({ unit: "grapheme-ascii", maxLength: 60 })), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(body, contentType, signature, async (payload, type, sig) => {
        const headers: Record<string, string> = {};
        if (type) headers["content-type"] = type;
        if (sig !== undefined) headers["x-twilio-signature"] = sig;
        const response = await post(payload, headers);
        expect([400, 403]).toContain(response.status);
        await response.body?.cancel();
      }),
      { seed: 8041, numRuns: 80 },
    );
  });

  it("answers any correctly signed form with TwiML that carries the call's fields, escaped", async () => {
    const fields = fc.record(
      { CallSid: wellFormedText, From: wellFormedText, To: wellFormedText, extra: fc.dictionary(wellFormedText, wellFormedText, { maxKeys: 4 }) },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fields, async ({ extra, ...call }) => {
        const params: Record<string, string> = Object.fromEntries([...Object.entries(extra ?? {}), ...Object.entries(call)]);
        const response = await postVoice(params, await twilioSignature(env.TWILIO_AUTH_TOKEN, webhookUrl, params));
        expect(response.status).toBe(200);
        const twiml = await response.text();
        for (const [name, field] of [["callSid", "CallSid"], ["from", "From"], ["to", "To"]] as const) {
          const value = params[field];
          if (value !== undefined) expect(twiml).toContain(`<Parameter name="${name}" value="${escapeXml(value)}"/>`);
          else expect(twiml).not.toContain(`name="${name}"`);
        }
      }),
      { seed: 8042, numRuns: 80 },
    );
  });

  it("keeps a field named __proto__ as a field, so the signature over it still holds", async () => {
    // A computed key is an own field, not the prototype: what a form parser must produce too.
    const params = { ...CALL, ["__proto__"]: "x" };
    const response = await postVoice(params, await twilioSignature(env.TWILIO_AUTH_TOKEN, webhookUrl, params));
    expect(response.status).toBe(200);
  });
});
