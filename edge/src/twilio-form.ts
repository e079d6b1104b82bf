// Every request Twilio makes to the edge's TwiML routes (the voice webhook, the call-control
// actions, the whisper) is a signed form about one call of our account. Checked here the same way
// for each: the type and size before a byte is parsed, then the signature over the URL the edge gave
// Twilio, then the account and the call. Each refusal is one log line.
import type { Context } from "hono";
import { SID_PATTERNS } from "@voice/protocol/stream-token";
import type { AppEnv } from "./env.js";
import { logEvent } from "./log.js";
import { verifyTwilioForm } from "./signature.js";
import { MAX_WEBHOOK_BYTES, formFields, readCapped, refuseByHeaders } from "./webhook-body.js";

export interface CallForm {
  /** The form's fields as Twilio sent them. */
  params: Record<string, string>;
  callSid: string;
}

export type CallFormCheck = { ok: true; form: CallForm } | { ok: false; response: Response };

/** A caller-chosen value as a log field: bounded, since nothing vouches for it before the signature does. */
export function logged(value: string | undefined): string | undefined {
  return value?.slice(0, 64);
}

/**
 * The form of a signed Twilio request to `url` (as Twilio was given it) about a call of this account,
 * or the response refusing it; `route` names the route in the log line ("voice webhook rejected").
 */
export async function readCallForm(c: Context<AppEnv>, url: string, route: string): Promise<CallFormCheck> {
  const refuse = (status: 400 | 403 | 413 | 415, reason: string, callSid?: string): CallFormCheck => {
    logEvent("WARNING", `${route} rejected`, { reason, callSid: logged(callSid) });
    return { ok: false, response: c.body(null, status) };
  };
  const refused = refuseByHeaders(c.req.header("content-type"), c.req.header("content-length"));
  if (refused) return refuse(refused.status, refused.reason);
  const body = await readCapped(c.req.raw.body, MAX_WEBHOOK_BYTES);
  if (!body.ok) return refuse(body.refusal.status, body.refusal.reason);
  const params = formFields(body.bytes);
  if (!(await verifyTwilioForm(c.env, c.req.header("x-twilio-signature"), url, params))) return refuse(403, "bad signature", params.CallSid);
  // Signed by Twilio, but a call of another account, or not a call at all, is not ours to direct.
  const { AccountSid: accountSid = "", CallSid: callSid = "" } = params;
  if (accountSid !== c.env.TWILIO_ACCOUNT_SID || !SID_PATTERNS.call.test(callSid)) return refuse(403, "not a call of this account", callSid);
  return { ok: true, form: { params, callSid } };
}

/** A TwiML answer. */
export function twimlResponse(c: Context<AppEnv>, twiml: string): Response {
  return c.body(twiml, 200, { "content-type": "text/xml; charset=utf-8" });
}
