// POST /twilio/voice: Twilio asks what to do with a new call; we connect it to our media stream.
import type { Context } from "hono";
import type { AppEnv } from "./env.js";
import { errorText, logEvent } from "./log.js";
import { mediaStreamUrl, verifyVoiceWebhook } from "./signature.js";

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

/** The body's text fields as own properties (fromEntries: a field named "__proto__" stays a field). */
async function formParams(request: Request): Promise<Record<string, string>> {
  const fields = [...(await request.formData())].filter((entry): entry is [string, string] => typeof entry[1] === "string");
  return Object.fromEntries(fields);
}

/** A caller-chosen value as a log field: bounded, since nothing vouches for it before the signature does. */
function logged(value: string | undefined): string | undefined {
  return value?.slice(0, 64);
}

export async function handleVoiceWebhook(c: Context<AppEnv>): Promise<Response> {
  let params: Record<string, string>;
  try {
    params = await formParams(c.req.raw);
  } catch (error) {
    logEvent("WARNING", "voice webhook rejected", { reason: "body is not a form", error: errorText(error) });
    return c.body(null, 403);
  }
  if (!(await verifyVoiceWebhook(c.env, c.req.header("x-twilio-signature"), params))) {
    logEvent("WARNING", "voice webhook rejected", { reason: "bad signature", callSid: logged(params.CallSid) });
    return c.body(null, 403);
  }
  const streamParameters: Record<string, string> = {};
  for (const [name, field] of Object.entries(STREAM_PARAMETERS)) {
    const value = params[field];
    if (value !== undefined) streamParameters[name] = value;
  }
  logEvent("INFO", "voice webhook", { callSid: params.CallSid });
  return c.body(connectStreamTwiml(mediaStreamUrl(c.env.PUBLIC_URL), streamParameters), 200, {
    "content-type": "text/xml; charset=utf-8",
  });
}
