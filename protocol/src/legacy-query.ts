// A query string as Node's legacy `querystring` module hands it back after a parse and a stringify.
// Twilio's official Node validator tries that form of the URL too (for back ends that signed an
// escaped query), so we must produce the very same string, in plain code that also runs in workerd
// (no node:querystring there). Its escaping is encodeURIComponent's: the same set of characters
// left as they are (A-Z a-z 0-9 - _ . ! ~ * ' ( )), upper-case hex, UTF-8.
// infra/twilio/signature-oracle.test.ts compares this with node:querystring itself.

/** The legacy parser reads at most this many `&`-separated segments (empty ones count), then stops. */
const MAX_SEGMENTS = 1000;

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * `+` is a space; then, if there is a valid `%XX` at all, the text is percent-decoded, strictly when
 * that gives valid UTF-8, else byte by byte (a char keeps its low byte) with U+FFFD for bad UTF-8.
 */
function decodeComponent(text: string): string {
  const spaced = text.replace(/\+/g, " ");
  if (!/%[0-9a-fA-F]{2}/.test(spaced)) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Not valid UTF-8 once decoded: the lenient path below.
  }
  const bytes: number[] = [];
  for (let i = 0; i < spaced.length; i++) {
    const pair = spaced.slice(i + 1, i + 3);
    if (spaced[i] === "%" && /^[0-9a-fA-F]{2}$/.test(pair)) {
      bytes.push(parseInt(pair, 16));
      i += 2;
    } else {
      bytes.push(spaced.charCodeAt(i) & 0xff);
    }
  }
  return utf8.decode(new Uint8Array(bytes));
}

/** Keys an object enumerates first, ascending: canonical array indices (0 .. 2^32 - 2). */
function arrayIndex(key: string): number | undefined {
  if (!/^(0|[1-9]\d{0,9})$/.test(key)) return undefined;
  const index = Number(key);
  return index <= 0xfffffffe ? index : undefined;
}

/** The query (the text after `?`) once parsed into an object and stringified again by the legacy module. */
export function legacyQueryRoundTrip(query: string): string {
  const values = new Map<string, string[]>();
  for (const segment of query.split("&").slice(0, MAX_SEGMENTS)) {
    if (segment === "") continue;
    const eq = segment.indexOf("=");
    const key = decodeComponent(eq === -1 ? segment : segment.slice(0, eq));
    const value = eq === -1 ? "" : decodeComponent(segment.slice(eq + 1));
    const seen = values.get(key);
    if (seen) seen.push(value);
    else values.set(key, [value]);
  }
  // The parse result is a plain object: its integer-like keys come out first, in numeric order.
  const keys = [...values.keys()];
  const indexed = keys.filter((key) => arrayIndex(key) !== undefined).sort((a, b) => arrayIndex(a)! - arrayIndex(b)!);
  const named = keys.filter((key) => arrayIndex(key) === undefined);
  return [...indexed, ...named]
    .flatMap((key) => values.get(key)!.map((value) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`))
    .join("&");
}
