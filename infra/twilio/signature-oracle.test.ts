// Our Twilio signature check held to Twilio's official Node library (npm `twilio`, a dev dependency
// only: the Worker never bundles it). For many URLs, params and tokens, each form of the URL a
// signer might have used is signed with the library's own signer, and our verifier must accept
// exactly when the library's validateRequest does. Two deliberately wrong verifiers (one form too
// few, one too many) must be caught by the same property, so a drift in either direction fails here.
import { createHmac } from "node:crypto";
import { parse as parseQuery, stringify as stringifyQuery } from "node:querystring";
import fc from "fast-check";
import { getExpectedTwilioSignature, validateRequest } from "twilio/lib/webhooks/webhooks.js";
import { describe, expect, it } from "vitest";
import { legacyQueryRoundTrip } from "@voice/protocol/legacy-query";
import { twilioSignature, verifyTwilioRequest, verifyTwilioSignature } from "@voice/protocol/twilio-signature";
import { twilioSignedUrlForms } from "@voice/protocol/twilio-url-forms";

type Params = Record<string, string>;
type Verifier = (tokens: readonly string[], signature: string, url: string, params: Params) => Promise<boolean>;

/** The library's verdict; a URL it cannot parse makes it throw, which is a refusal too. */
function libraryAccepts(token: string, signature: string, url: string, params: Params): boolean {
  try {
    return validateRequest(token, signature, url, params);
  } catch {
    return false;
  }
}

// --- URLs as Twilio may be configured with them, built from parts so each part can be varied ---------

interface UrlParts {
  scheme: string;
  userInfo: string;
  host: string;
  port: string;
  path: string;
  query: string;
  fragment: string;
}

const build = (p: UrlParts) => `${p.scheme}://${p.userInfo}${p.host}${p.port}${p.path}${p.query}${p.fragment}`;

/** Query text Twilio or a console user might put in a webhook URL, and the odd bytes around it. */
const queryText = fc.oneof(
  fc.constantFrom("", "foo=1&bar=2", "name=William+O'hara", "a=%27", "x=1&x=2", "2=b&1=a&b=c", "a=%zz&b=%41", "t=%E2%82", "tenant=ü", "a=b=c&&d", "=x&y"),
  fc.string({ unit: fc.constantFrom("a", "B", "1", "%", "2", "7", "e", "=", "&", "+", "'", " ", "ü", "~", "*", "#"), maxLength: 24 }),
);

const urlParts: fc.Arbitrary<UrlParts> = fc.record({
  scheme: fc.constantFrom("https", "http", "wss", "ws", "HTTPS"),
  userInfo: fc.constantFrom("", "", "", "user@", "user:pa%20ss@"),
  host: fc.constantFrom("edge.example.test", "voice-staging.example.com", "Voice.Example.COM", "127.0.0.1", "[::1]", "bücher.example"),
  port: fc.constantFrom("", "", ":443", ":80", ":8443", ":8787", ":"),
  path: fc.constantFrom("/twilio/voice", "/twilio/media", "/", "", "/twilio/voice/", "/a b/ü", "/it's", "/%7Euser/./x/../y"),
  query: fc.option(queryText, { nil: "" }).map((q) => (q === "" ? "" : `?${q}`)),
  fragment: fc.constantFrom("", "", "", "#frag", "#a?b=1"),
});

/** The URL with `?` and what follows through node:querystring, as the library's legacy form does. */
function nodeLegacyQuery(url: string): string {
  const mark = url.indexOf("?");
  return mark === -1 || mark === url.length - 1 ? url : url.slice(0, mark + 1) + stringifyQuery(parseQuery(url.slice(mark + 1)));
}

/** Forms a signer could have used for the URL of `parts`: the right ones and near misses. */
function signingCandidates(parts: UrlParts): string[] {
  const other = { https: "http", http: "https", wss: "ws", ws: "wss" }[parts.scheme.toLowerCase()] ?? "https";
  const variants = [
    ...["", ":443", ":80", ":8443", ":8787", ":"].map((port) => build({ ...parts, port })),
    build({ ...parts, scheme: other }),
    build({ ...parts, path: `${parts.path}/` }),
    build({ ...parts, host: parts.host.toUpperCase() }),
    build({ ...parts, userInfo: "" }),
    build({ ...parts, fragment: "" }),
  ];
  const normalised: string[] = [];
  for (const variant of variants) {
    try {
      const url = new URL(variant);
      normalised.push(url.href);
      url.port = "";
      normalised.push(url.href);
    } catch {
      // Unparseable: its text forms above are enough.
    }
  }
  return [...new Set([...variants, ...normalised, ...normalised.map(nodeLegacyQuery)])];
}

// --- params and tokens ------------------------------------------------------------------------

/** Names Twilio sends, their look-alikes, names an object treats specially, and any text. */
const paramName = fc.oneof(
  fc.constantFrom("CallSid", "From", "To", "AccountSid", "from", "FROM", "From ", " From", "__proto__", "constructor", "toString", "", "a[]", "ü", "0", "10"),
  fc.string({ unit: "grapheme", maxLength: 12 }),
);
const paramValue = fc.oneof(fc.constantFrom("", "+14158675309", "client:alice", "שלום"), fc.string({ unit: "grapheme", maxLength: 20 }), fc.string({ unit: "binary", maxLength: 12 }));

/** Built with fromEntries, so "__proto__" is an own field as a form parser makes it. */
const params: fc.Arbitrary<Params> = fc
  .uniqueArray(fc.tuple(paramName, paramValue), { selector: ([name]) => name, maxLength: 6 })
  .map((entries) => Object.fromEntries(entries));

const authToken = fc.oneof(fc.constantFrom("12345", "test-twilio-auth-token"), fc.stringMatching(/^[0-9a-f]{32}$/), fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }));

// --- the property -----------------------------------------------------------------------------

const ours: Verifier = (tokens, signature, url, fields) => verifyTwilioRequest(tokens, signature, url, fields);

/** Accepts a signature over exactly the configured URL and nothing else: one form too few. */
const exactOnly: Verifier = async (tokens, signature, url, fields) =>
  (await Promise.all(tokens.map((token) => verifyTwilioSignature(token, signature, url, fields)))).includes(true);

/** Also accepts the configured URL with a trailing slash, which the library refuses: one form too many. */
const withTrailingSlash: Verifier = async (tokens, signature, url, fields) =>
  (await ours(tokens, signature, url, fields)) || (await ours(tokens, signature, `${url}/`, fields));

interface Tally {
  compared: number;
  accepted: number;
}

/** For each candidate form, a signature by the library's signer, ours, and a forged one: same verdict as the library. */
function agreesWithLibrary(verify: Verifier, tally: Tally) {
  return fc.asyncProperty(urlParts, params, authToken, authToken, async (parts, fields, token, otherToken) => {
    const url = build(parts);
    for (const candidate of signingCandidates(parts)) {
      const signatures = [
        getExpectedTwilioSignature(token, candidate, fields),
        getExpectedTwilioSignature(otherToken, candidate, fields),
      ];
      for (const signature of signatures) {
        const expected = libraryAccepts(token, signature, url, fields);
        const actual = await verify([token], signature, url, fields);
        if (actual !== expected) {
          throw new Error(`verdict ${actual}, library ${expected}: configured ${JSON.stringify(url)}, signed over ${JSON.stringify(candidate)}`);
        }
        tally.compared += 1;
        if (expected) tally.accepted += 1;
      }
    }
  });
}

describe("our Twilio signature check against twilio's validateRequest", () => {
  it("accepts exactly when the library does, for every form of every URL signed by the library's signer", async () => {
    const tally: Tally = { compared: 0, accepted: 0 };
    await fc.assert(agreesWithLibrary(ours, tally), { seed: 9131, numRuns: 300 });
    // Not vacuous: many signatures passed, and many more were refused.
    expect(tally.accepted).toBeGreaterThan(500);
    expect(tally.compared - tally.accepted).toBeGreaterThan(5 * tally.accepted);
  });

  it("catches a verifier with one form too few, and one with one form too many", async () => {
    for (const wrong of [exactOnly, withTrailingSlash]) {
      const outcome = await fc.check(agreesWithLibrary(wrong, { compared: 0, accepted: 0 }), { seed: 9131, numRuns: 300 });
      expect(outcome.failed).toBe(true);
    }
  });

  it("takes a signature under either token exactly when the library takes it under one of them", async () => {
    await fc.assert(
      fc.asyncProperty(urlParts, params, authToken, authToken, fc.boolean(), async (parts, fields, primary, secondary, signWithSecondary) => {
        const url = build(parts);
        for (const candidate of signingCandidates(parts).slice(0, 6)) {
          const signature = getExpectedTwilioSignature(signWithSecondary ? secondary : primary, candidate, fields);
          const expected = libraryAccepts(primary, signature, url, fields) || libraryAccepts(secondary, signature, url, fields);
          expect(await verifyTwilioRequest([primary, secondary], signature, url, fields)).toBe(expected);
        }
      }),
      { seed: 9132, numRuns: 100 },
    );
  });

  it("refuses what no token signed: no signature, a forged one, no token, an empty token", async () => {
    const url = "https://edge.example.test/twilio/voice";
    const fields = { CallSid: "CA1", From: "+1" };
    const signature = getExpectedTwilioSignature("12345", url, fields);
    expect(await verifyTwilioRequest(["12345"], signature, url, fields)).toBe(true);
    expect(await verifyTwilioRequest(["12345"], undefined, url, fields)).toBe(false);
    expect(await verifyTwilioRequest(["12345"], "", url, fields)).toBe(false);
    expect(await verifyTwilioRequest(["12345"], signature.replace(/.$/, (c) => (c === "A" ? "B" : "A")), url, fields)).toBe(false);
    expect(await verifyTwilioRequest([], signature, url, fields)).toBe(false);
    // The library would take a signature made with an empty key; we never do (an unset secret is no key).
    expect(await verifyTwilioRequest([""], getExpectedTwilioSignature("", url, fields), url, fields)).toBe(false);
  });

  it("signs as the library's signer does, over any URL string and params", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 60 }), params, authToken, async (url, fields, token) => {
        expect(await twilioSignature(token, url, fields)).toBe(getExpectedTwilioSignature(token, url, fields));
      }),
      { seed: 9133, numRuns: 300 },
    );
  });
});

describe("the URL forms, for the edge's own URLs (twilio 6.3.1)", () => {
  it("are the URL with and without the scheme's port: :443 for https, and :80 for anything else, wss included", () => {
    expect(twilioSignedUrlForms("https://voice.example.com/twilio/voice").sort()).toEqual([
      "https://voice.example.com/twilio/voice",
      "https://voice.example.com:443/twilio/voice",
    ]);
    expect(twilioSignedUrlForms("wss://voice.example.com/twilio/media").sort()).toEqual([
      "wss://voice.example.com/twilio/media",
      "wss://voice.example.com:80/twilio/media",
    ]);
    expect(twilioSignedUrlForms("http://127.0.0.1:8787/twilio/voice").sort()).toEqual([
      "http://127.0.0.1/twilio/voice",
      "http://127.0.0.1:8787/twilio/voice",
    ]);
  });

  it("agree with the library on the cases that matter for the edge", async () => {
    const token = "12345";
    const cases: [configured: string, signedOver: string, accepted: boolean][] = [
      ["https://voice.example.com/twilio/voice", "https://voice.example.com:443/twilio/voice", true],
      ["https://voice.example.com:443/twilio/voice", "https://voice.example.com/twilio/voice", true],
      ["https://voice.example.com/twilio/voice", "https://voice.example.com/twilio/voice/", false],
      ["https://voice.example.com/twilio/voice", "http://voice.example.com/twilio/voice", false],
      ["https://voice.example.com/twilio/voice", "https://voice.example.com:80/twilio/voice", false],
      ["wss://voice.example.com/twilio/media", "wss://voice.example.com:443/twilio/media", false],
      ["wss://voice.example.com/twilio/media", "wss://voice.example.com:80/twilio/media", true],
      ["http://127.0.0.1:8787/twilio/voice", "http://127.0.0.1/twilio/voice", true],
    ];
    for (const [configured, signedOver, accepted] of cases) {
      const signature = createHmac("sha1", token).update(signedOver, "utf8").digest("base64");
      expect([configured, signedOver, libraryAccepts(token, signature, configured, {})]).toEqual([configured, signedOver, accepted]);
      expect([configured, signedOver, await verifyTwilioRequest([token], signature, configured, {})]).toEqual([configured, signedOver, accepted]);
    }
  });
});

describe("the legacy querystring round trip", () => {
  const queryUnit = fc.constantFrom("a", "b", "0", "1", "9", "%", "e", "E", "F", "8", "=", "&", "+", "'", "!", "(", "*", "~", ".", "-", "_", "z", "2", "C", "D");
  it("is node:querystring's parse then stringify, on any ASCII query", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: queryUnit, maxLength: 60 }), fc.string({ unit: "binary-ascii", maxLength: 60 })), (query) => {
        expect(legacyQueryRoundTrip(query)).toBe(stringifyQuery(parseQuery(query)));
      }),
      { seed: 9134, numRuns: 2000 },
    );
  });

  it("stops after 1000 segments, empty ones counted, as node:querystring does", () => {
    for (const query of ["&".repeat(999) + "a=1", "&".repeat(1000) + "a=1", `${"x=1&".repeat(1000)}y=2`, "a=1&".repeat(999) + "b=2&c=3"]) {
      expect(legacyQueryRoundTrip(query)).toBe(stringifyQuery(parseQuery(query)));
    }
  });
});
