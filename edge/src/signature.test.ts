import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { twilioSignature, verifyTwilioSignature } from "@voice/protocol/twilio-signature";
import { anyText, wellFormedText } from "../testing/fuzz-inputs.js";
import { mediaStreamUrl, verifyMediaUpgrade, verifyVoiceWebhook, voiceWebhookUrl } from "./signature.js";

// The worked example of Twilio's request-validation docs (used by its official helper libraries' tests).
const DOCUMENTED = {
  authToken: "12345",
  url: "https://mycompany.com/myapp.php?foo=1&bar=2",
  params: { CallSid: "CA1234567890ABCDE", Caller: "+14158675309", Digits: "1234", From: "+14158675309", To: "+18005551212" },
  signature: "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
};

describe("Twilio signature in workerd", () => {
  it("reproduces and accepts Twilio's documented example signature", async () => {
    const { authToken, url, params, signature } = DOCUMENTED;
    expect(await twilioSignature(authToken, url, params)).toBe(signature);
    expect(await verifyTwilioSignature(authToken, signature, url, params)).toBe(true);
  });

  it("refuses the example once any input changes", async () => {
    const { authToken, url, params, signature } = DOCUMENTED;
    expect(await verifyTwilioSignature("54321", signature, url, params)).toBe(false);
    expect(await verifyTwilioSignature(authToken, signature, `${url}&baz=3`, params)).toBe(false);
    expect(await verifyTwilioSignature(authToken, signature, url, { ...params, Digits: "9999" })).toBe(false);
    expect(await verifyTwilioSignature(authToken, undefined, url, params)).toBe(false);
  });
});

describe("signed URLs", () => {
  it("builds the webhook and stream URLs from PUBLIC_URL, wss for https and ws for http", () => {
    expect(voiceWebhookUrl("https://edge.example.com/")).toBe("https://edge.example.com/twilio/voice");
    expect(mediaStreamUrl("https://edge.example.com")).toBe("wss://edge.example.com/twilio/media");
    expect(mediaStreamUrl("http://127.0.0.1:8787")).toBe("ws://127.0.0.1:8787/twilio/media");
  });
});

describe("signature checks on any input (property-based)", () => {
  const params = fc.dictionary(wellFormedText, fc.string({ unit: "binary", maxLength: 30 }), { maxKeys: 5 });

  it("accept exactly the signature Twilio would send, and refuse any other text without throwing", async () => {
    await fc.assert(
      fc.asyncProperty(params, fc.option(anyText, { nil: undefined }), async (fields, offered) => {
        const valid = await twilioSignature(env.TWILIO_AUTH_TOKEN, voiceWebhookUrl(env.PUBLIC_URL), fields);
        expect(await verifyVoiceWebhook(env, valid, fields)).toBe(true);
        expect(await verifyVoiceWebhook(env, offered, fields)).toBe(offered === valid);
        // One character changed anywhere: refused.
        const at = valid.length - 2;
        const altered = valid.slice(0, at) + (valid[at] === "A" ? "B" : "A") + valid.slice(at + 1);
        expect(await verifyVoiceWebhook(env, altered, fields)).toBe(false);
        expect(await verifyMediaUpgrade(env, offered)).toBe(false);
      }),
      { seed: 8051, numRuns: 100 },
    );
  });
});
