// Points a Twilio number's voice webhook at the edge, through Twilio's REST API (2010-04-01,
// IncomingPhoneNumbers): find the number's SID by its E.164 form, then set VoiceUrl and VoiceMethod.
// Plain fetch with Basic auth (the account SID and auth token, or an API key and its secret).
// Problems are one line; no credential ever appears in one.
import { z } from "zod";
import { publicUrlProblem, voiceWebhookUrl } from "../local/services.js";

export const TWILIO_API_BASE = "https://api.twilio.com";

export interface WebhookSettings {
  /** Twilio's API, or (tests only) a loopback stand-in of it. */
  apiBase: string;
  accountSid: string;
  phoneNumber: string;
  /** PUBLIC_URL + /twilio/voice: what the edge checks Twilio's signature over. */
  voiceUrl: string;
  /** Basic auth: the account SID and auth token, or an API key SID and its secret. */
  user: string;
  secret: string;
  /** The keys the credentials came from, for a refusal's message. */
  credentialKeys: string;
}

export type WebhookSettingsResult = { ok: true; settings: WebhookSettings } | { ok: false; error: string };

const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const API_KEY_SID = /^SK[0-9a-fA-F]{32}$/;
const E164 = /^\+[1-9]\d{6,14}$/;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** The command's settings from a .env's keys; `apiBase` is TWILIO_API_BASE from the shell (tests only). */
export function webhookSettings(env: Record<string, string>, apiBase?: string): WebhookSettingsResult {
  const fail = (key: string, problem: string): WebhookSettingsResult => ({ ok: false, error: `${key}: ${problem}` });
  const value = (key: string) => (env[key]?.trim() ? env[key]!.trim() : undefined);
  const publicUrl = value("PUBLIC_URL");
  if (publicUrl === undefined) return fail("PUBLIC_URL", "not set: the tunnel's https:// address, which Twilio is to call");
  const problem = publicUrlProblem(publicUrl);
  if (problem) return fail("PUBLIC_URL", problem);
  const accountSid = value("TWILIO_ACCOUNT_SID");
  if (accountSid === undefined || !ACCOUNT_SID.test(accountSid)) return fail("TWILIO_ACCOUNT_SID", "expected AC followed by 32 hex digits (the Twilio console's Account Info)");
  const phoneNumber = value("TWILIO_PHONE_NUMBER");
  if (phoneNumber === undefined || !E164.test(phoneNumber)) return fail("TWILIO_PHONE_NUMBER", "expected the number in E.164 form, e.g. +15551234567");
  let credentials: Pick<WebhookSettings, "user" | "secret" | "credentialKeys">;
  const [apiKey, apiSecret, authToken] = [value("TWILIO_API_KEY"), value("TWILIO_API_SECRET"), value("TWILIO_AUTH_TOKEN")];
  if (apiKey !== undefined || apiSecret !== undefined) {
    if (apiKey === undefined) return fail("TWILIO_API_KEY", "needed with TWILIO_API_SECRET");
    if (apiSecret === undefined) return fail("TWILIO_API_SECRET", "needed with TWILIO_API_KEY");
    if (!API_KEY_SID.test(apiKey)) return fail("TWILIO_API_KEY", "expected SK followed by 32 hex digits");
    credentials = { user: apiKey, secret: apiSecret, credentialKeys: "TWILIO_API_KEY and TWILIO_API_SECRET" };
  } else {
    if (authToken === undefined) return fail("TWILIO_AUTH_TOKEN", "not set (or set TWILIO_API_KEY and TWILIO_API_SECRET)");
    credentials = { user: accountSid, secret: authToken, credentialKeys: "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" };
  }
  const base = apiBase?.trim() || TWILIO_API_BASE;
  // The override exists for tests: the credentials go nowhere but Twilio and this machine.
  if (base !== TWILIO_API_BASE && !(URL.canParse(base) && LOOPBACK_HOSTS.has(new URL(base).hostname)))
    return fail("TWILIO_API_BASE", "only a loopback address may replace Twilio's API (it is there for tests)");
  return { ok: true, settings: { apiBase: base.replace(/\/+$/, ""), accountSid, phoneNumber, voiceUrl: voiceWebhookUrl(publicUrl), ...credentials } };
}

const IncomingNumber = z.object({ sid: z.string(), phone_number: z.string(), voice_url: z.string().nullable(), voice_method: z.string().nullable().optional() });
const NumberPage = z.object({ incoming_phone_numbers: z.array(IncomingNumber) });
const TwilioError = z.object({ message: z.string(), code: z.number().nullable().optional() });

export interface WebhookChange {
  phoneNumber: string;
  /** The number's SID (PN...). */
  sid: string;
  /** The voice webhook before (null: none). */
  previous: string | null;
  voiceUrl: string;
}

const REQUEST_TIMEOUT_MS = 15_000;

/** Sets the number's voice webhook to POST settings.voiceUrl; throws one line on any failure. */
export async function pointVoiceWebhook(settings: WebhookSettings): Promise<WebhookChange> {
  const numbers = `${settings.apiBase}/2010-04-01/Accounts/${settings.accountSid}/IncomingPhoneNumbers`;
  const listed = NumberPage.safeParse(await call(settings, "the number lookup", `${numbers}.json?${new URLSearchParams({ PhoneNumber: settings.phoneNumber })}`));
  if (!listed.success) throw new Error("Twilio's answer to the number lookup is not a list of incoming phone numbers");
  const number = listed.data.incoming_phone_numbers.find((candidate) => candidate.phone_number === settings.phoneNumber);
  if (!number) throw new Error(`TWILIO_PHONE_NUMBER: ${settings.phoneNumber} is not a number of the Twilio account TWILIO_ACCOUNT_SID names`);
  const form = new URLSearchParams({ VoiceUrl: settings.voiceUrl, VoiceMethod: "POST" });
  const updated = IncomingNumber.safeParse(await call(settings, "the webhook update", `${numbers}/${number.sid}.json`, form));
  if (!updated.success || updated.data.voice_url !== settings.voiceUrl)
    throw new Error(`Twilio did not confirm the new voice webhook of ${settings.phoneNumber}: check it in the console`);
  return { phoneNumber: settings.phoneNumber, sid: number.sid, previous: number.voice_url || null, voiceUrl: settings.voiceUrl };
}

/** One request to Twilio's API: its JSON answer, or one line on why there is none. */
async function call(settings: WebhookSettings, what: string, url: string, form?: URLSearchParams): Promise<unknown> {
  const headers: Record<string, string> = {
    Authorization: `Basic ${Buffer.from(`${settings.user}:${settings.secret}`).toString("base64")}`,
    Accept: "application/json",
  };
  let response: Response;
  try {
    response = await fetch(url, {
      method: form ? "POST" : "GET",
      headers: form ? { ...headers, "Content-Type": "application/x-www-form-urlencoded" } : headers,
      ...(form && { body: form.toString() }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    throw new Error(`cannot reach Twilio's API at ${settings.apiBase} for ${what}: ${cause}`);
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (response.status === 401 || response.status === 403)
    throw new Error(`Twilio refused the credentials (HTTP ${response.status}) for ${what}: check ${settings.credentialKeys}`);
  if (!response.ok) {
    const reason = TwilioError.safeParse(body);
    const detail = reason.success ? `: ${reason.data.message.slice(0, 200)}${reason.data.code ? ` (code ${reason.data.code})` : ""}` : "";
    throw new Error(`Twilio answered HTTP ${response.status} to ${what}${detail}`);
  }
  return body;
}
