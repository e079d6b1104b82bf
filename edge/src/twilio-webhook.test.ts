import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import { twilioSignature } from "@voice/protocol/twilio-signature";
import { verifyStreamToken } from "@voice/protocol/stream-token";
import { LOCAL_ACCOUNT_SID } from "../../infra/twilio/stream-start.js";
import { anyText, wellFormedText } from "../testing/fuzz-inputs.js";
import type { Env } from "./env.js";
import app from "./index.js";
import { connectStreamTwiml, escapeXml } from "./twiml.js";
import { MAX_WEBHOOK_BYTES } from "./webhook-body.js";

const CALL = { CallSid: "CA00000000000000000000000000000001", AccountSid: LOCAL_ACCOUNT_SID, From: "+972501234567", To: "+97231234567" };

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

  it("answers a signed request with TwiML that streams the call to the media route, with a stream token for this call, and asks what next when the stream ends", async () => {
    const response = await postVoice(CALL, await twilioSignature(env.TWILIO_AUTH_TOKEN, webhookUrl, CALL));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/xml/);
    const twiml = await response.text();
    const token = /<Parameter name="streamToken" value="([^"]+)"\/>/.exec(twiml)?.[1];
    expect(twiml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Connect action="https://edge.example.test/twilio/stream-ended">' +
        '<Stream url="wss://edge.example.test/twilio/media">' +
        `<Parameter name="callSid" value="${CALL.CallSid}"/>` +
        `<Parameter name="from" value="${CALL.From}"/>` +
        `<Parameter name="to" value="${CALL.To}"/>` +
        `<Parameter name="streamToken" value="${token}"/>` +
        "</Stream></Connect></Response>",
    );
    const claims = { accountSid: CALL.AccountSid, callSid: CALL.CallSid };
    expect(await verifyStreamToken([env.STREAM_TOKEN_SECRET], token, claims, Date.now())).toEqual({ ok: true });
    expect(await verifyStreamToken([env.STREAM_TOKEN_SECRET], token, { ...claims, callSid: "CA" + "9".repeat(32) }, Date.now())).toMatchObject({ ok: false });
  });

  it("refuses a signed webhook of another Twilio account, or without a real CallSid", async () => {
    for (const call of [{ ...CALL, AccountSid: "AC" + "e".repeat(32) }, { ...CALL, CallSid: "CA-not-a-sid" }]) {
      expect((await postVoice(call, await twilioSignature(env.TWILIO_AUTH_TOKEN, webhookUrl, call))).status).toBe(403);
    }
  });
});

describe("TwiML", () => {
  it("escapes every value it writes into XML", () => {
    expect(escapeXml(`a&b<c>"d"'e'`)).toBe("a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;");
    const twiml = connectStreamTwiml("ws://h/twilio/media", { from: 'client:"x"&<y>' }, "http://h/twilio/stream-ended?a=1&b=2");
    expect(twiml).toContain('<Parameter name="from" value="client:&quot;x&quot;&amp;&lt;y&gt;"/>');
    expect(twiml).toContain('<Connect action="http://h/twilio/stream-ended?a=1&amp;b=2">');
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

  it("refuses every body that is not signed: 415 when it is not a form, else 403, and never an error", async () => {
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
        expect(response.status).toBe(type === "application/x-www-form-urlencoded" ? 403 : 415);
        await response.body?.cancel();
      }),
      { seed: 8041, numRuns: 80 },
    );
  });

  it("answers any correctly signed form of a call of ours with TwiML that carries the call's fields, escaped", async () => {
    const callSid = fc.stringMatching(/^CA[0-9a-f]{32}$/);
    const fields = fc.record(
      { From: wellFormedText, To: wellFormedText, extra: fc.dictionary(wellFormedText, wellFormedText, { maxKeys: 4 }) },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(callSid, fields, async (sid, { extra, ...call }) => {
        // The call's own fields win over look-alike extras, as the account check reads them.
        const params: Record<string, string> = Object.fromEntries([...Object.entries(extra ?? {}), ...Object.entries(call), ["CallSid", sid], ["AccountSid", LOCAL_ACCOUNT_SID]]);
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

describe("POST /twilio/voice: type and size settled before the body is parsed", () => {
  const FORM = "application/x-www-form-urlencoded";
  const webhookUrl = `${env.PUBLIC_URL}/twilio/voice`;
  let errors: MockInstance<typeof console.error>;
  beforeEach(() => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    errors = vi.spyOn(console, "error").mockImplementation(() => {});
  });
  afterEach(() => vi.restoreAllMocks());

  /** The reasons of this test's "voice webhook rejected" lines, in order. */
  const refusals = () =>
    errors.mock.calls
      .map(([line]) => JSON.parse(String(line)) as { message: string; reason?: string })
      .filter((line) => line.message === "voice webhook rejected")
      .map((line) => line.reason);

  /**
   * `totalBytes` of "a" in `chunkBytes` pieces, pulled one at a time; past `failAfterBytes` a pull
   * errors instead, so a reader that goes on that far fails visibly (and a parser never gets a body).
   */
  function pulledBody(totalBytes: number, chunkBytes: number, failAfterBytes = Infinity) {
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulled >= failAfterBytes) return controller.error(new Error("read past the point a capped reader stops"));
          if (pulled >= totalBytes) return controller.close();
          const size = Math.min(chunkBytes, totalBytes - pulled);
          pulled += size;
          controller.enqueue(new Uint8Array(size).fill(0x61));
        },
      },
      { highWaterMark: 0 },
    );
    return { stream, pulled: () => pulled };
  }

  const postRaw = (body: BodyInit, headers: Record<string, string>, bindings: Env = env) =>
    app.request("http://edge.internal/twilio/voice", { method: "POST", headers, body }, bindings);

  it("answers 413 to a 1 MB body that declares its length, before reading or parsing any of it", async () => {
    const response = await postVoice({ ...CALL, Big: "b".repeat(1024 * 1024) }, "c2lnbmVk");
    expect(response.status).toBe(413);
    expect(await response.text()).toBe("");
    // The same length over a body that errors on the first read: had it been read, this would not be 413.
    const { stream, pulled } = pulledBody(1024 * 1024, 4096, 0);
    expect((await postRaw(stream, { "content-type": FORM, "content-length": String(1024 * 1024) })).status).toBe(413);
    expect(pulled()).toBe(0);
    expect(refusals()).toEqual(["body too large (declared)", "body too large (declared)"]);
  });

  it("answers 413 to a 1 MB streamed body (no length given) once it passes 64 KB, the rest unread and nothing parsed", async () => {
    const { stream, pulled } = pulledBody(1024 * 1024, 4096, 256 * 1024);
    const response = await postRaw(stream, { "content-type": FORM, "x-twilio-signature": "c2lnbmVk" });
    expect(response.status).toBe(413);
    expect(pulled()).toBeGreaterThan(MAX_WEBHOOK_BYTES);
    expect(pulled()).toBeLessThan(256 * 1024);
    // Refused for its size alone: no signature line, which would follow the parse.
    expect(refusals()).toEqual(["body too large"]);
  });

  it("answers 415 to any body that is not a form, without reading it", async () => {
    for (const type of ["application/json", "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencodedx", ""]) {
      const { stream, pulled } = pulledBody(1024, 1024, 0);
      const headers: Record<string, string> = type ? { "content-type": type } : {};
      expect((await postRaw(stream, headers)).status).toBe(415);
      expect(pulled()).toBe(0);
    }
    expect(refusals()).toEqual(Array(5).fill("not a form"));
  });

  it("still answers a signed webhook: with a charset, in capitals, and at exactly 64 KB; one byte more is 413", async () => {
    const signed = async (params: Record<string, string>) => twilioSignature(env.TWILIO_AUTH_TOKEN, webhookUrl, params);
    const body = new URLSearchParams(CALL).toString();
    for (const type of [`${FORM}; charset=UTF-8`, "Application/X-WWW-Form-URLEncoded"]) {
      expect((await postRaw(body, { "content-type": type, "x-twilio-signature": await signed(CALL) })).status).toBe(200);
    }
    const padding = MAX_WEBHOOK_BYTES - new URLSearchParams({ ...CALL, Pad: "" }).toString().length;
    const atCap = { ...CALL, Pad: "x".repeat(padding) };
    expect(new URLSearchParams(atCap).toString().length).toBe(MAX_WEBHOOK_BYTES);
    expect((await postVoice(atCap, await signed(atCap))).status).toBe(200);
    const overCap = { ...CALL, Pad: "x".repeat(padding + 1) };
    expect((await postVoice(overCap, await signed(overCap))).status).toBe(413);
    // The same two, streamed without a length: the capped read decides alone.
    expect((await postRaw(streamOf(new URLSearchParams(atCap).toString()), { "content-type": FORM, "x-twilio-signature": await signed(atCap) })).status).toBe(200);
    expect((await postRaw(streamOf(new URLSearchParams(overCap).toString()), { "content-type": FORM, "x-twilio-signature": await signed(overCap) })).status).toBe(413);
  });
});

/** A body as a stream in 1000-byte chunks, so no Content-Length goes with it. */
function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + 1000));
      at += 1000;
    },
  });
}

describe("POST /twilio/voice: the URL forms Twilio signs and a rotated auth token", () => {
  const webhookUrl = `${env.PUBLIC_URL}/twilio/voice`;
  const body = new URLSearchParams(CALL).toString();
  const post = (signature: string, bindings: Env) =>
    app.request(
      "http://edge.internal/twilio/voice",
      { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature }, body },
      bindings,
    );
  beforeEach(() => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
  });
  afterEach(() => vi.restoreAllMocks());

  it("takes a signature over the URL with :443 as over the URL without, and nothing else", async () => {
    const over = async (url: string) => (await post(await twilioSignature(env.TWILIO_AUTH_TOKEN, url, CALL), env)).status;
    expect(await over("https://edge.example.test/twilio/voice")).toBe(200);
    expect(await over("https://edge.example.test:443/twilio/voice")).toBe(200);
    expect(await over("https://edge.example.test/twilio/voice/")).toBe(403);
    expect(await over("http://edge.example.test/twilio/voice")).toBe(403);
    expect(await over("https://edge.example.test:8443/twilio/voice")).toBe(403);
  });

  it("takes a signature under the secondary token while one is set, and under the primary throughout", async () => {
    const secondary = "rotated-twilio-auth-token";
    const rotating: Env = { ...env, TWILIO_AUTH_TOKEN_SECONDARY: secondary };
    const signedWith = (token: string) => twilioSignature(token, webhookUrl, CALL);
    expect((await post(await signedWith(env.TWILIO_AUTH_TOKEN), rotating)).status).toBe(200);
    expect((await post(await signedWith(secondary), rotating)).status).toBe(200);
    expect((await post(await twilioSignature(secondary, "https://edge.example.test:443/twilio/voice", CALL), rotating)).status).toBe(200);
    expect((await post(await signedWith("a-third-token"), rotating)).status).toBe(403);
    // No rotation under way (unset or empty): only the primary.
    for (const bindings of [env, { ...env, TWILIO_AUTH_TOKEN_SECONDARY: "" }]) {
      expect((await post(await signedWith(secondary), bindings)).status).toBe(403);
      expect((await post(await signedWith(env.TWILIO_AUTH_TOKEN), bindings)).status).toBe(200);
    }
  });
});
