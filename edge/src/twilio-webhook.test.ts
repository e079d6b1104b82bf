import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { twilioSignature } from "@voice/protocol/twilio-signature";
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
