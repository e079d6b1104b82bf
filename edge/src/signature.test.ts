import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { twilioSignature, verifyTwilioSignature } from "@voice/protocol/twilio-signature";
import { twilioSignedUrlForms } from "@voice/protocol/twilio-url-forms";
import { anyText, wellFormedText } from "../testing/fuzz-inputs.js";
import { mediaStreamUrl, twilioAuthTokens, verifyMediaUpgrade, verifyVoiceWebhook, voiceWebhookUrl } from "./signature.js";

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

describe("the forms of the signed URLs (as twilio 6.3.1's validateRequest accepts them)", () => {
  it("are the same in workerd as in Node, where infra/twilio/signature-oracle.test.ts holds them to the library", () => {
    // The WHATWG URL parser is workerd's here: the forms must come out as they do in Node.
    expect(twilioSignedUrlForms("https://voice.example.com/twilio/voice").sort()).toEqual([
      "https://voice.example.com/twilio/voice",
      "https://voice.example.com:443/twilio/voice",
    ]);
    expect(twilioSignedUrlForms("wss://voice.example.com/twilio/media").sort()).toEqual([
      "wss://voice.example.com/twilio/media",
      "wss://voice.example.com:80/twilio/media",
    ]);
    expect(twilioSignedUrlForms("HTTPS://Voice.Example.com/a b?q=it's#f").sort()).toEqual([
      "HTTPS://Voice.Example.com/a b?q=it's#f",
      "HTTPS://Voice.Example.com:443/a b?q=it's#f",
      "https://voice.example.com/a%20b?q=it%27s#f",
      "https://voice.example.com/a%20b?q=it's%23f",
      "https://voice.example.com:443/a%20b?q=it%27s#f",
      "https://voice.example.com:443/a%20b?q=it's%23f",
    ]);
  });

  it("let the webhook and the media upgrade pass signed with or without the port, and nothing near it", async () => {
    const voice = async (url: string) => verifyVoiceWebhook(env, await twilioSignature(env.TWILIO_AUTH_TOKEN, url, { CallSid: "CA1" }), { CallSid: "CA1" });
    expect(await voice("https://edge.example.test/twilio/voice")).toBe(true);
    expect(await voice("https://edge.example.test:443/twilio/voice")).toBe(true);
    expect(await voice("https://edge.example.test/twilio/voice/")).toBe(false);
    expect(await voice("https://edge.example.test:80/twilio/voice")).toBe(false);
    expect(await voice("http://edge.example.test/twilio/voice")).toBe(false);
    const media = async (url: string) => verifyMediaUpgrade(env, await twilioSignature(env.TWILIO_AUTH_TOKEN, url));
    expect(await media("wss://edge.example.test/twilio/media")).toBe(true);
    // The library's own rule: only https:// gets :443; any other scheme, wss:// included, gets :80.
    expect(await media("wss://edge.example.test:80/twilio/media")).toBe(true);
    expect(await media("wss://edge.example.test:443/twilio/media")).toBe(false);
    expect(await media("wss://edge.example.test/twilio/media/")).toBe(false);
    expect(await media("https://edge.example.test/twilio/media")).toBe(false);
  });
});

describe("auth token rotation", () => {
  it("uses the primary, and the secondary only while it is set and not empty", () => {
    expect(twilioAuthTokens({ TWILIO_AUTH_TOKEN: "p" })).toEqual(["p"]);
    expect(twilioAuthTokens({ TWILIO_AUTH_TOKEN: "p", TWILIO_AUTH_TOKEN_SECONDARY: "s" })).toEqual(["p", "s"]);
    expect(twilioAuthTokens({ TWILIO_AUTH_TOKEN: "p", TWILIO_AUTH_TOKEN_SECONDARY: "" })).toEqual(["p"]);
    expect(twilioAuthTokens({ TWILIO_AUTH_TOKEN: "" })).toEqual([]);
  });

  it("passes a webhook or an upgrade signed with either token, and neither with a third or no token", async () => {
    const rotating = { ...env, TWILIO_AUTH_TOKEN_SECONDARY: "secondary-token" };
    const fields = { CallSid: "CA1", From: "+1" };
    for (const token of [env.TWILIO_AUTH_TOKEN, "secondary-token"]) {
      expect(await verifyVoiceWebhook(rotating, await twilioSignature(token, voiceWebhookUrl(env.PUBLIC_URL), fields), fields)).toBe(true);
      expect(await verifyMediaUpgrade(rotating, await twilioSignature(token, mediaStreamUrl(env.PUBLIC_URL)))).toBe(true);
    }
    expect(await verifyVoiceWebhook(rotating, await twilioSignature("third", voiceWebhookUrl(env.PUBLIC_URL), fields), fields)).toBe(false);
    expect(await verifyMediaUpgrade(env, await twilioSignature("secondary-token", mediaStreamUrl(env.PUBLIC_URL)))).toBe(false);
    // A primary left unset is no key: nothing passes, whatever was signed with an empty one.
    const unset = { ...env, TWILIO_AUTH_TOKEN: "" };
    expect(await verifyVoiceWebhook(unset, "anything", fields)).toBe(false);
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
