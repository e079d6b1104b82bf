// Twilio signs every request with the URL it was configured with, which is the edge's public URL,
// not the URL the worker sees (proxies and custom domains rewrite hosts), so both signed URLs are
// built from PUBLIC_URL.
import { verifyTwilioSignature } from "@voice/protocol/twilio-signature";
import type { Env } from "./env.js";

export const VOICE_PATH = "/twilio/voice";
export const MEDIA_PATH = "/twilio/media";

function base(publicUrl: string): string {
  return publicUrl.replace(/\/+$/, "");
}

/** The voice webhook's URL as configured at Twilio. */
export function voiceWebhookUrl(publicUrl: string): string {
  return base(publicUrl) + VOICE_PATH;
}

/** The Media Streams URL: wss:// for an https:// edge, ws:// for a local http:// one. */
export function mediaStreamUrl(publicUrl: string): string {
  return base(publicUrl).replace(/^http(s?):\/\//i, "ws$1://") + MEDIA_PATH;
}

export function verifyVoiceWebhook(env: Env, signature: string | undefined, params: Record<string, string>): Promise<boolean> {
  return verifyTwilioSignature(env.TWILIO_AUTH_TOKEN, signature, voiceWebhookUrl(env.PUBLIC_URL), params);
}

/** The stream's upgrade request is signed over the stream URL alone (no query, no params). */
export function verifyMediaUpgrade(env: Env, signature: string | undefined): Promise<boolean> {
  return verifyTwilioSignature(env.TWILIO_AUTH_TOKEN, signature, mediaStreamUrl(env.PUBLIC_URL));
}
