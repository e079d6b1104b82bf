// Which strings a Twilio signature over a configured URL may have been computed on. Twilio's back end
// is not consistent about the port (some requests are signed with `:443`/`:80`, some without), so its
// official Node validator (npm `twilio` 6.3.1, `validateRequest`) accepts a few forms of the URL, and
// so do we: exactly those, no more. Its behaviour, in our words:
//
//   1. the URL as given, without its port, and with the scheme's port added when it has none
//      (`:443` for `https://`, `:80` for every other scheme, `wss://` included);
//   2. the URL as `new URL()` serialises it (host lower-cased, characters percent-encoded, a default
//      port dropped), the same two port forms of that, and both of those with the query re-encoded
//      as Node's legacy `querystring` would (legacy-query.ts).
//
// A URL that does not parse has only the forms of step 1. infra/twilio/signature-oracle.test.ts holds
// this to the library itself.
import { legacyQueryRoundTrip } from "./legacy-query.js";

interface Authority {
  /** `scheme://` as written. */
  scheme: string;
  /** `user:pass@`, or empty. */
  userInfo: string;
  host: string;
  /** `:port` as written (possibly just `:`), or empty. */
  port: string;
  /** Everything after the authority: path, query, fragment. */
  rest: string;
}

/** The authority of `scheme://authority...` split by text alone, so every other character stays as given. */
function splitAuthority(url: string): Authority | undefined {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i.exec(url);
  if (!match) return undefined;
  const [whole, scheme = "", authority = ""] = match;
  const at = authority.lastIndexOf("@");
  const hostPort = authority.slice(at + 1);
  // The port's colon is the first one after an IPv6 literal's closing bracket, if there is one.
  const colon = hostPort.indexOf(":", hostPort.lastIndexOf("]") + 1);
  return {
    scheme,
    userInfo: authority.slice(0, at + 1),
    host: colon === -1 ? hostPort : hostPort.slice(0, colon),
    port: colon === -1 ? "" : hostPort.slice(colon),
    rest: url.slice(whole.length),
  };
}

/** The URL with its port (if any) taken out. */
export function withoutPort(url: string): string {
  const parts = splitAuthority(url);
  return parts ? parts.scheme + parts.userInfo + parts.host + parts.rest : url;
}

/** The URL with `:443` (https) or `:80` (any other scheme) after the host, when it names no port. */
export function withStandardPort(url: string): string {
  const parts = splitAuthority(url);
  if (!parts || parts.port) return url;
  const port = parts.scheme.toLowerCase() === "https://" ? ":443" : ":80";
  return parts.scheme + parts.userInfo + parts.host + port + parts.rest;
}

/** The URL with everything after its first `?` put through the legacy querystring round trip. */
export function withLegacyQuery(url: string): string {
  const mark = url.indexOf("?");
  if (mark === -1 || mark === url.length - 1) return url;
  return url.slice(0, mark + 1) + legacyQueryRoundTrip(url.slice(mark + 1));
}

function serialised(url: string): string | undefined {
  try {
    return new URL(url).href;
  } catch {
    return undefined;
  }
}

/** Every distinct string a valid signature over `url` may have been computed on (see the top of this file). */
export function twilioSignedUrlForms(url: string): string[] {
  const forms = [withoutPort(url), withStandardPort(url)];
  const normalised = serialised(url);
  if (normalised !== undefined) {
    const portForms = [withoutPort(normalised), withStandardPort(normalised)];
    forms.push(...portForms, ...portForms.map(withLegacyQuery));
  }
  return [...new Set(forms)];
}
