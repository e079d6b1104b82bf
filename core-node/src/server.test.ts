// The core's routes against a stranger and against a token holder who would run up the bill: any
// Authorization header that is not a valid core token gets 401 (never a 500, never a call); warmup
// and GET /phrase go through the TTS cache, so repeating them synthesizes nothing, and /phrase
// synthesizes at most PHRASE_MAX_UNCACHED_PER_MIN new texts a minute (then 429).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { PHRASE_PATH, signCoreToken } from "@voice/protocol";
import { TEST_GREETING, TEST_SECRET, startCore, type CoreUnderTest } from "../testing/core-harness.js";

const PHRASES_PER_MIN = 3;

let core: CoreUnderTest;
let base: string;

beforeAll(async () => {
  core = await startCore({ env: { PHRASE_MAX_UNCACHED_PER_MIN: String(PHRASES_PER_MIN) } });
  base = `http://127.0.0.1:${core.server.port}`;
});

afterAll(async () => {
  await core?.close();
});

async function tokenHeader(callSid = "warmup"): Promise<Record<string, string>> {
  return { Authorization: `Bearer ${await signCoreToken(TEST_SECRET, callSid, Date.now())}` };
}

/** Characters an HTTP client can put in a header value (Latin-1, no CR/LF/NUL). */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.integer({ min: 0x80, max: 0xff }),
  fc.constant(0x09),
).map((code) => String.fromCharCode(code));

/** Authorization values a stranger might try: junk, and near misses of a real token. */
function authorizationValues(validToken: string) {
  const [callSid, expiry, mac] = validToken.split(".") as [string, string, string];
  const flip = (text: string, at: number) => `${text.slice(0, at)}${text[at] === "0" ? "1" : "0"}${text.slice(at + 1)}`;
  return fc.oneof(
    fc.string({ unit: headerChar, maxLength: 300 }),
    fc.string({ unit: headerChar, maxLength: 300 }).map((junk) => `Bearer ${junk}`),
    fc.nat({ max: mac.length - 1 }).map((at) => `Bearer ${callSid}.${expiry}.${flip(mac, at)}`),
    fc.string({ unit: headerChar, minLength: 1, maxLength: 40 }).map((other) => `Bearer ${other.replaceAll(".", "")}.${expiry}.${mac}`),
    fc.integer().map((other) => `Bearer ${callSid}.${other}.${mac}`),
    fc.constantFrom(`bearer ${validToken}`, `Basic ${validToken}`, `Bearer ${validToken}.x`, `Bearer ${callSid}..${mac}`, "Bearer", "Bearer ", `Bearer ${mac}`),
  );
}

/** The HTTP status the call route's upgrade got, or "open" if a socket opened. */
function upgradeStatus(authorization: string): Promise<number | "open"> {
  const ws = new WebSocket(`ws://127.0.0.1:${core.server.port}/call`, { headers: { Authorization: authorization } });
  return new Promise((resolve, reject) => {
    ws.once("open", () => {
      ws.terminate();
      resolve("open");
    });
    ws.once("unexpected-response", (_request, response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    ws.once("error", reject);
  });
}

describe("the core token check", () => {
  it("answers 401 to any Authorization header that is not a valid token, on every guarded route", async () => {
    const valid = (await tokenHeader()).Authorization!.slice("Bearer ".length);
    const statuses = new Set<number | "open">();
    await fc.assert(
      fc.asyncProperty(authorizationValues(valid), fc.constantFrom("/health/warmup", `${PHRASE_PATH}?text=x`, "/call"), async (authorization, path) => {
        const status = path === "/call" ? await upgradeStatus(authorization) : (await fetch(`${base}${path}`, { headers: { Authorization: authorization } })).status;
        statuses.add(status);
        expect(status).toBe(401);
      }),
      { seed: 8008, numRuns: 300 },
    );
    expect([...statuses]).toEqual([401]);
    expect(core.logs.lines.filter((line) => line.severity === "ERROR")).toEqual([]);
    expect(core.server.activeCalls()).toBe(0);
  });
});

describe("what warmup and /phrase cost", () => {
  const phrase = (text: string, headers: Record<string, string>) => fetch(`${base}${PHRASE_PATH}?text=${encodeURIComponent(text)}`, { headers });

  it("synthesizes nothing on a repeated warmup or a repeated phrase", async () => {
    const { stats } = core.emulators.tts;
    const headers = await tokenHeader();
    const before = stats.requests;
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/health/warmup`, { headers })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await phrase(TEST_GREETING, headers)).status).toBe(200);
    expect(stats.requests).toBe(before);

    const hold = "רק רגע בבקשה.";
    expect((await phrase(hold, headers)).status).toBe(200);
    expect(stats.requests).toBe(before + 1);
    for (let i = 0; i < 3; i++) expect((await phrase(hold, headers)).status).toBe(200);
    expect(stats.requests).toBe(before + 1);
  });

  it("synthesizes at most PHRASE_MAX_UNCACHED_PER_MIN new texts a minute, then answers 429 with one warning", async () => {
    const { stats } = core.emulators.tts;
    const headers = await tokenHeader();
    const before = stats.requests;
    // The test above took one of the minute's syntheses.
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await phrase(`טקסט חדש מספר ${i}`, headers)).status);
    expect(statuses).toEqual([200, 200, 429, 429, 429, 429]);
    expect(stats.requests).toBe(before + PHRASES_PER_MIN - 1);
    const refused = await phrase("עוד טקסט", headers);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect(await refused.json()).toEqual({ error: `more than ${PHRASES_PER_MIN} new phrases a minute` });
    // What is in the cache is served all the same.
    expect((await phrase(TEST_GREETING, headers)).status).toBe(200);
    expect(core.logs.find("phrase refused: too many uncached phrases this minute")).toEqual([
      expect.objectContaining({ severity: "WARNING", max_per_min: PHRASES_PER_MIN }),
    ]);
  });

  it("reports its call limits on /health", async () => {
    expect(await (await fetch(`${base}/health`)).json()).toMatchObject({ active_calls: 0, max_calls: 100, calls_refused: 0 });
  });
});
