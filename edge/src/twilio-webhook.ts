// POST /twilio/voice: Twilio asks what to do with a new call; we connect it to our media stream.
import type { Context } from "hono";
import { SID_PATTERNS, STREAM_TOKEN_PARAMETER, signStreamToken } from "@voice/protocol/stream-token";
import type { AppEnv } from "./env.js";
import { logEvent } from "./log.js";
import { mediaStreamUrl, verifyVoiceWebhook } from "./signature.js";
import { MAX_WEBHOOK_BYTES, formFields, readCapped, refuseByHeaders } from "./webhook-body.js";

const XML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => XML_ESCAPES[char]!);
}

/** TwiML that streams the call to `streamUrl`; per-call values travel as <Parameter>s (Twilio drops query strings). */
export function connectStreamTwiml(streamUrl: string, parameters: Record<string, string>): string {
  const params = Object.entries(parameters)
    .map(([name, value]) => `<Parameter name="${escapeXml(name)}" value="${escapeXml(value)}"/>`)
    .join("");
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<Response><Connect><Stream url="${escapeXml(streamUrl)}">${params}</Stream></Connect></Response>`
  );
}

/** Twilio's webhook fields handed on to the stream, as <Parameter> name -> form field. */
const STREAM_PARAMETERS = { callSid: "CallSid", from: "From", to: "To" } as const;

/** A caller-chosen value as a log field: bounded, since nothing vouches for it before the signature does. */
function logged(value: string | undefined): string | undefined {
  return value?.slice(0, 64);
}

export async function handleVoiceWebhook(c: Context<AppEnv>): Promise<Response> {
  // Type and size first, from the headers and then a capped read: nothing is parsed or hashed before.
  const refused = refuseByHeaders(c.req.header("content-type"), c.req.header("content-length"));
  if (refused) {
    logEvent("WARNING", "voice webhook rejected", { reason: refused.reason });
    return c.body(null, refused.status);
  }
  const body = await readCapped(c.req.raw.body, MAX_WEBHOOK_BYTES);
  if (!body.ok) {
    logEvent("WARNING", "voice webhook rejected", { reason: body.refusal.reason });
    return c.body(null, body.refusal.status);
  }
  const params = formFields(body.bytes);
  if (!(await verifyVoiceWebhook(c.env, c.req.header("x-twilio-signature"), params))) {
    logEvent("WARNING", "voice webhook rejected", { reason: "bad signature", callSid: logged(params.CallSid) });
    return c.body(null, 403);
  }
  // Signed by Twilio, but a call of another account, or not a call at all, gets no stream.
  const { AccountSid: accountSid = "", CallSid: callSid = "" } = params;
  if (accountSid !== c.env.TWILIO_ACCOUNT_SID || !SID_PATTERNS.call.test(callSid)) {
    logEvent("WARNING", "voice webhook rejected", { reason: "not a call of this account", callSid: logged(callSid) });
    return c.body(null, 403);
  }
  const streamParameters: Record<string, string> = {};
  for (const [name, field] of Object.entries(STREAM_PARAMETERS)) {
    const value = params[field];
    if (value !== undefined) streamParameters[name] = value;
  }
  streamParameters[STREAM_TOKEN_PARAMETER] = await signStreamToken(c.env.STREAM_TOKEN_SECRET, { accountSid, callSid }, Date.now());
  logEvent("INFO", "voice webhook", { callSid });
  return c.body(connectStreamTwiml(mediaStreamUrl(c.env.PUBLIC_URL), streamParameters), 200, {
    "content-type": "text/xml; charset=utf-8",
  });
}
