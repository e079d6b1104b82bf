// Twilio signs every request with the URL it was configured with, which is the edge's public URL,
// not the URL the worker sees (proxies and custom domains rewrite hosts), so both signed URLs are
// built from PUBLIC_URL. Which forms of that URL a signature may cover (the port question) is
// decided in protocol's twilio-signature.ts, the same for both routes.
import { verifyTwilioRequest } from "@voice/protocol/twilio-signature";
import type { Env } from "./env.js";

export const VOICE_PATH = "/twilio/voice";
export const MEDIA_PATH = "/twilio/media";
/** Call control (call-control-routes.ts): the <Connect action>, the <Dial action>, the <Number url> whisper. */
export const STREAM_ENDED_PATH = "/twilio/stream-ended";
export const DIAL_ENDED_PATH = "/twilio/dial-ended";
export const WHISPER_PATH = "/twilio/whisper";
/** The whisper URL's query names the transferred (parent) call: the signature covers it. */
export const WHISPER_CALL_QUERY = "call";

function base(publicUrl: string): string {
  return publicUrl.replace(/\/+$/, "");
}

/** The voice webhook's URL as configured at Twilio. */
export function voiceWebhookUrl(publicUrl: string): string {
  return base(publicUrl) + VOICE_PATH;
}

/** A call-control route's URL as Twilio is told it (and signs it): STREAM_ENDED_PATH or DIAL_ENDED_PATH. */
export function controlUrl(publicUrl: string, path: string): string {
  return base(publicUrl) + path;
}

/** The whisper's URL for the transfer of `callSid`. */
export function whisperUrl(publicUrl: string, callSid: string): string {
  return `${base(publicUrl) + WHISPER_PATH}?${WHISPER_CALL_QUERY}=${encodeURIComponent(callSid)}`;
}

/** The Media Streams URL: wss:// for an https:// edge, ws:// for a local http:// one. */
export function mediaStreamUrl(publicUrl: string): string {
  return base(publicUrl).replace(/^http(s?):\/\//i, "ws$1://") + MEDIA_PATH;
}

export type TwilioTokens = Pick<Env, "TWILIO_AUTH_TOKEN" | "TWILIO_AUTH_TOKEN_SECONDARY">;

/**
 * The auth tokens a Twilio signature may be made with: the primary and, while the token is rotated,
 * the secondary. An unset or empty one is left out: an empty HMAC key is one anyone can sign with.
 */
export function twilioAuthTokens(env: TwilioTokens): string[] {
  return [env.TWILIO_AUTH_TOKEN, env.TWILIO_AUTH_TOKEN_SECONDARY].filter((token): token is string => typeof token === "string" && token !== "");
}

type SignedRouteEnv = TwilioTokens & Pick<Env, "PUBLIC_URL">;

export function verifyVoiceWebhook(env: SignedRouteEnv, signature: string | undefined, params: Record<string, string>): Promise<boolean> {
  return verifyTwilioForm(env, signature, voiceWebhookUrl(env.PUBLIC_URL), params);
}

/** A form POST Twilio signed over `url` (one the edge gave it: the webhook, an action, the whisper). */
export function verifyTwilioForm(env: SignedRouteEnv, signature: string | undefined, url: string, params: Record<string, string>): Promise<boolean> {
  return verifyTwilioRequest(twilioAuthTokens(env), signature, url, params);
}

/** The stream's upgrade request is signed over the stream URL alone (no query, no params). */
export function verifyMediaUpgrade(env: SignedRouteEnv, signature: string | undefined): Promise<boolean> {
  return verifyTwilioRequest(twilioAuthTokens(env), signature, mediaStreamUrl(env.PUBLIC_URL));
}
