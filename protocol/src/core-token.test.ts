// The core token on its own: what the core accepts is exactly a token for the route's purpose,
// signed with the current or the previous secret, alive now, and issued for at most
// CORE_TOKEN_MAX_TTL_MS. The routes' answers to the same tokens are core-node/src/server.test.ts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CORE_TOKEN_CLOCK_SKEW_MS,
  CORE_TOKEN_MAX_TTL_MS,
  CORE_TOKEN_PURPOSES,
  CORE_TOKEN_TTL_MS,
  signCoreToken,
  verifyCoreToken,
  type CoreTokenPurpose,
} from "./core-token.js";

const CURRENT = "current-secret-0123456789";
const PREVIOUS = "previous-secret-0123456789";
const NOW = 1_780_000_000_000;

const purpose = fc.constantFrom(...CORE_TOKEN_PURPOSES);
const callSid = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);

describe("the core token", () => {
  it("is accepted for its purpose, with its call, signed with either secret, until it expires", async () => {
    for (const [secret, previousSecret] of [
      [CURRENT, false],
      [PREVIOUS, true],
    ] as const) {
      const token = await signCoreToken(secret, "call", "CA0001", NOW);
      expect(await verifyCoreToken([CURRENT, PREVIOUS], "call", token, NOW)).toEqual({ ok: true, callSid: "CA0001", purpose: "call", previousSecret });
      expect(await verifyCoreToken([CURRENT, PREVIOUS], "call", token, NOW + CORE_TOKEN_TTL_MS)).toMatchObject({ ok: true });
      expect(await verifyCoreToken([CURRENT, PREVIOUS], "call", token, NOW + CORE_TOKEN_TTL_MS + 1)).toEqual({ ok: false, reason: "expired token" });
    }
    // Without a previous secret (the usual case), only the current one.
    const old = await signCoreToken(PREVIOUS, "call", "CA0001", NOW);
    expect(await verifyCoreToken([CURRENT, undefined], "call", old, NOW)).toEqual({ ok: false, reason: "bad token signature" });
    expect(await verifyCoreToken(CURRENT, "call", old, NOW)).toEqual({ ok: false, reason: "bad token signature" });
  });

  it("is refused for another purpose, and when it would live longer than the cap, however validly signed", async () => {
    const warmup = await signCoreToken(CURRENT, "warmup", "warmup", NOW);
    expect(await verifyCoreToken(CURRENT, "call", warmup, NOW)).toEqual({ ok: false, reason: "token not for call" });
    const atCap = await signCoreToken(CURRENT, "call", "CA0001", NOW, CORE_TOKEN_MAX_TTL_MS);
    expect(await verifyCoreToken(CURRENT, "call", atCap, NOW)).toMatchObject({ ok: true });
    const overCap = await signCoreToken(CURRENT, "call", "CA0001", NOW, CORE_TOKEN_MAX_TTL_MS + 1);
    expect(await verifyCoreToken(CURRENT, "call", overCap, NOW)).toEqual({ ok: false, reason: "token lifetime over the maximum" });
    // A long-lived token in disguise: a short lifetime that starts far ahead.
    const ahead = await signCoreToken(CURRENT, "call", "CA0001", NOW + 3_600_000);
    expect(await verifyCoreToken(CURRENT, "call", ahead, NOW)).toEqual({ ok: false, reason: "token issued in the future" });
    // A little clock skew between edge and core is fine.
    const skewed = await signCoreToken(CURRENT, "call", "CA0001", NOW + CORE_TOKEN_CLOCK_SKEW_MS);
    expect(await verifyCoreToken(CURRENT, "call", skewed, NOW)).toMatchObject({ ok: true });
  });
});

describe("the core token check on any input (property-based)", () => {
  it("accepts exactly: the expected purpose, a known secret, issued by now (within the skew), alive, for at most the cap", async () => {
    await fc.assert(
      fc.asyncProperty(
        purpose,
        purpose,
        callSid,
        fc.constantFrom(CURRENT, PREVIOUS, "some-other-secret-0123456789"),
        fc.integer({ min: -10 * 60_000, max: 10 * 60_000 }),
        fc.integer({ min: 0, max: 3 * CORE_TOKEN_MAX_TTL_MS }),
        fc.boolean(),
        async (signedFor: CoreTokenPurpose, expected: CoreTokenPurpose, sid, secret, issuedOffset, ttl, withPrevious) => {
          const token = await signCoreToken(secret, signedFor, sid, NOW + issuedOffset, ttl);
          const check = await verifyCoreToken(withPrevious ? [CURRENT, PREVIOUS] : [CURRENT], expected, token, NOW);
          const knownSecret = secret === CURRENT || (withPrevious && secret === PREVIOUS);
          const valid =
            knownSecret &&
            signedFor === expected &&
            ttl <= CORE_TOKEN_MAX_TTL_MS &&
            issuedOffset <= CORE_TOKEN_CLOCK_SKEW_MS &&
            issuedOffset + ttl >= 0;
          expect(check.ok).toBe(valid);
          if (check.ok) expect(check).toEqual({ ok: true, callSid: sid, purpose: expected, previousSecret: secret === PREVIOUS });
        },
      ),
      { seed: 8101, numRuns: 400 },
    );
  });

  it("refuses any one character changed, and any text at all, without throwing", async () => {
    const token = await signCoreToken(CURRENT, "phrase", "warmup", NOW);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: token.length - 1 }), fc.string({ unit: "binary-ascii", minLength: 1, maxLength: 1 }), async (at, replacement) => {
        fc.pre(token[at] !== replacement);
        const altered = token.slice(0, at) + replacement + token.slice(at + 1);
        expect((await verifyCoreToken([CURRENT, PREVIOUS], "phrase", altered, NOW)).ok).toBe(false);
      }),
      { seed: 8102, numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(fc.option(fc.string({ unit: "binary", maxLength: 200 }), { nil: undefined }), purpose, async (text, expected) => {
        const check = await verifyCoreToken([CURRENT, PREVIOUS], expected, text, NOW);
        expect(check.ok).toBe(false);
        if (!check.ok) expect(check.reason).toEqual(expect.any(String));
      }),
      { seed: 8103, numRuns: 300 },
    );
  });
});
