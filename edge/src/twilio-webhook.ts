// POST /twilio/voice: Twilio asks what to do with a new call; we connect it to our media stream,
// and Twilio asks the stream's action URL what next once the stream ends (call-control-routes.ts).
import type { Context } from "hono";
import { STREAM_TOKEN_PARAMETER, signStreamToken } from "@voice/protocol/stream-token";
import type { AppEnv, Env } from "./env.js";
import { logEvent } from "./log.js";
import { STREAM_ENDED_PATH, controlUrl, mediaStreamUrl, voiceWebhookUrl } from "./signature.js";
import { readCallForm, twimlResponse } from "./twilio-form.js";
import { connectStreamTwiml } from "./twiml.js";

/** Twilio's webhook fields handed on to the stream, as <Parameter> name -> form field. */
const STREAM_PARAMETERS = { callSid: "CallSid", from: "From", to: "To" } as const;

/**
 * TwiML that streams the call described by Twilio's `params` (CallSid, AccountSid, From, To) to the
 * media route, with a fresh stream token: for a new call, and for a caller coming back to the agent.
 */
export async function streamTwiml(env: Env, params: Record<string, string>): Promise<string> {
  const streamParameters: Record<string, string> = {};
  for (const [name, field] of Object.entries(STREAM_PARAMETERS)) {
    const value = params[field];
    if (value !== undefined) streamParameters[name] = value;
  }
  const claims = { accountSid: params.AccountSid ?? "", callSid: params.CallSid ?? "" };
  streamParameters[STREAM_TOKEN_PARAMETER] = await signStreamToken(env.STREAM_TOKEN_SECRET, claims, Date.now());
  return connectStreamTwiml(mediaStreamUrl(env.PUBLIC_URL), streamParameters, controlUrl(env.PUBLIC_URL, STREAM_ENDED_PATH));
}

export async function handleVoiceWebhook(c: Context<AppEnv>): Promise<Response> {
  const check = await readCallForm(c, voiceWebhookUrl(c.env.PUBLIC_URL), "voice webhook");
  if (!check.ok) return check.response;
  const { params, callSid } = check.form;
  logEvent("INFO", "voice webhook", { callSid });
  return twimlResponse(c, await streamTwiml(c.env, params));
}
