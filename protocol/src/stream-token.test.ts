import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { STREAM_TOKEN_TTL_MS, signStreamToken, startIdsProblem, verifyStreamToken } from "./stream-token.js";

const CALL = { accountSid: "AC" + "1".repeat(32), callSid: "CA" + "2".repeat(32) };
const NOW = 1_800_000_000_000;

describe("the per-call stream token", () => {
  it("opens only its own call, of its own account, for 60 s, under the current key or the previous one", async () => {
    const token = await signStreamToken("key-now", CALL, NOW);
    expect(await verifyStreamToken(["key-now"], token, CALL, NOW + 1000)).toEqual({ ok: true });
    expect(await verifyStreamToken(["key-next", "key-now"], token, CALL, NOW)).toEqual({ ok: true }); // mid-rotation
    expect(await verifyStreamToken(["key-next"], token, CALL, NOW)).toMatchObject({ ok: false, reason: "stream token not signed for this call" });
    expect(await verifyStreamToken(["key-now"], token, { ...CALL, callSid: "CA" + "3".repeat(32) }, NOW)).toMatchObject({ ok: false });
    expect(await verifyStreamToken(["key-now"], token, { ...CALL, accountSid: "AC" + "3".repeat(32) }, NOW)).toMatchObject({ ok: false });
    expect(await verifyStreamToken(["key-now"], token, CALL, NOW + STREAM_TOKEN_TTL_MS + 1)).toEqual({ ok: false, reason: "stream token expired" });
    expect(await verifyStreamToken(["key-now"], undefined, CALL, NOW)).toEqual({ ok: false, reason: "no stream token" });
  });

  it("refuses a validly signed token that claims to live longer than we mint them; an unset previous key is skipped", async () => {
    const long = await signStreamToken("key-now", CALL, NOW, 10 * STREAM_TOKEN_TTL_MS);
    expect(await verifyStreamToken(["key-now"], long, CALL, NOW)).toEqual({ ok: false, reason: "stream token lifetime too long" });
    expect(await verifyStreamToken(["key-now", ""], await signStreamToken("key-now", CALL, NOW), CALL, NOW)).toEqual({ ok: true });
  });

  it("never accepts a string that was not minted for the call (property)", async () => {
    const real = await signStreamToken("key-now", CALL, NOW);
    const tampered = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc.nat({ max: real.length - 1 }).chain((at) => fc.constantFrom(..."0123456789abcdef.v").map((c) => real.slice(0, at) + c + real.slice(at + 1))),
    );
    await fc.assert(
      fc.asyncProperty(tampered, async (token) => {
        fc.pre(token !== real);
        expect((await verifyStreamToken(["key-now"], token, CALL, NOW)).ok).toBe(false);
      }),
      { seed: 1401, numRuns: 300 },
    );
  });

  it("a start's ids are Twilio's shapes, of the configured account", () => {
    const ids = { ...CALL, streamSid: "MZ" + "4".repeat(32) };
    expect(startIdsProblem(ids, CALL.accountSid)).toBeUndefined();
    expect(startIdsProblem(ids, "AC" + "9".repeat(32))).toBe("another Twilio account");
    expect(startIdsProblem({ ...ids, callSid: "CA0001" }, CALL.accountSid)).toBe("malformed CallSid");
    expect(startIdsProblem({ ...ids, streamSid: "MZ" }, CALL.accountSid)).toBe("malformed StreamSid");
    expect(startIdsProblem({ ...ids, accountSid: "AC1" }, "AC1")).toBe("malformed AccountSid");
  });
});
