// X-Twilio-Signature: base64(HMAC-SHA1(auth token, full URL + each POST param name+value, names sorted)).
import { hmac, timingSafeEqual, toBase64 } from "./crypto.js";

export async function twilioSignature(authToken: string, url: string, params: Record<string, string> = {}): Promise<string> {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, name) => acc + name + params[name], url);
  return toBase64(await hmac("SHA-1", authToken, data));
}

export async function verifyTwilioSignature(
  authToken: string,
  signature: string | null | undefined,
  url: string,
  params: Record<string, string> = {},
): Promise<boolean> {
  if (!signature) return false;
  return timingSafeEqual(await twilioSignature(authToken, url, params), signature);
}
