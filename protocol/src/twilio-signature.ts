// X-Twilio-Signature: base64(HMAC-SHA1(auth token, full URL + each POST param name+value, names sorted)).
import { hmac, timingSafeEqual, toBase64 } from "./crypto.js";
import { twilioSignedUrlForms } from "./twilio-url-forms.js";

export async function twilioSignature(authToken: string, url: string, params: Record<string, string> = {}): Promise<string> {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, name) => acc + name + params[name], url);
  return toBase64(await hmac("SHA-1", authToken, data));
}

/** A signature over exactly `url` under one token (the simulator's stand-in edge); the edge uses verifyTwilioRequest. */
export async function verifyTwilioSignature(
  authToken: string,
  signature: string | null | undefined,
  url: string,
  params: Record<string, string> = {},
): Promise<boolean> {
  if (!signature) return false;
  return timingSafeEqual(await twilioSignature(authToken, url, params), signature);
}

/**
 * A request Twilio signed over the configured `url`: the signature matches under one of `authTokens`
 * (the primary, and the secondary while the token is rotated) and one of the forms of `url` Twilio's
 * own validator accepts (twilio-url-forms.ts). Every pair is computed, so the time taken does not
 * tell which one matched. No (non-empty) token, no pass.
 */
export async function verifyTwilioRequest(
  authTokens: readonly string[],
  signature: string | null | undefined,
  url: string,
  params: Record<string, string> = {},
): Promise<boolean> {
  if (!signature) return false;
  const forms = twilioSignedUrlForms(url);
  // An empty token is an unset secret, not a key anyone could sign with.
  const tokens = authTokens.filter((token) => token !== "");
  const expected = await Promise.all(tokens.flatMap((token) => forms.map((form) => twilioSignature(token, form, params))));
  return expected.map((candidate) => timingSafeEqual(candidate, signature)).includes(true);
}
