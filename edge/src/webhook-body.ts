// The voice webhook's body is a stranger's until the signature vouches for it, and the signature can
// only be checked after the body is read. So what we are willing to read is decided first: the type
// and the declared size from the headers alone, then the body itself through a byte cap, because a
// chunked body declares no size and a declared one proves nothing about the bytes that follow.

/** Twilio's voice webhook is a few KB of form fields; 64 KB is ample and bounds what anyone can make us read. */
export const MAX_WEBHOOK_BYTES = 64 * 1024;

/** The only body Twilio sends to a voice webhook. */
export const FORM_MEDIA_TYPE = "application/x-www-form-urlencoded";

/** Why a body is refused, and the status that says so. */
export interface BodyRefusal {
  status: 400 | 413 | 415;
  reason: string;
}

export type CappedBody = { ok: true; bytes: Uint8Array } | { ok: false; refusal: BodyRefusal };

/** The media type of a Content-Type value, lower-cased, its parameters (such as charset) left aside. */
export function mediaType(contentType: string | null | undefined): string | undefined {
  const type = contentType?.split(";", 1)[0]?.trim().toLowerCase();
  return type || undefined;
}

/**
 * What the headers alone settle, before a byte of the body is read: a body that is not a form (415),
 * a declared length over the cap (413), a length that is not a number (400). Undefined: read it.
 */
export function refuseByHeaders(
  contentType: string | null | undefined,
  contentLength: string | null | undefined,
  maxBytes: number = MAX_WEBHOOK_BYTES,
): BodyRefusal | undefined {
  if (mediaType(contentType) !== FORM_MEDIA_TYPE) return { status: 415, reason: "not a form" };
  if (contentLength === null || contentLength === undefined) return undefined;
  const declared = contentLength.trim();
  if (!/^\d+$/.test(declared)) return { status: 400, reason: "bad content-length" };
  // Past 15 digits a Number is no longer exact, but it is past any cap all the same.
  if (declared.length > 15 || Number(declared) > maxBytes) return { status: 413, reason: "body too large (declared)" };
  return undefined;
}

/** Reads a body of at most `maxBytes`; at the first byte past the cap it stops and cancels the rest unread. */
export async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number = MAX_WEBHOOK_BYTES): Promise<CappedBody> {
  if (body === null) return { ok: true, bytes: new Uint8Array(0) };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        // Not awaited: a sender that stalls must not hold the answer.
        reader.cancel().catch(() => {});
        return { ok: false, refusal: { status: 413, reason: "body too large" } };
      }
      chunks.push(value);
    }
  } catch {
    return { ok: false, refusal: { status: 400, reason: "body unreadable" } };
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { ok: true, bytes };
}

// A leading byte-order mark is dropped, as workerd's own formData() drops it.
const utf8 = new TextDecoder("utf-8");

/**
 * The form's fields as own properties (fromEntries: a field named "__proto__" stays a field); a
 * repeated name keeps its last value. On any properly escaped body (all Twilio sends) this reads what
 * workerd's `formData()` would, without the runtime's form machinery (webhook-body.test.ts).
 */
export function formFields(bytes: Uint8Array): Record<string, string> {
  // The leading "&" (an empty pair, skipped) keeps URLSearchParams from dropping a leading "?", which a form keeps.
  return Object.fromEntries(new URLSearchParams(`&${utf8.decode(bytes)}`));
}
