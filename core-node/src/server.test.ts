// The core's routes against a stranger and against a token holder who would run up the bill: any
// Authorization header that is not a valid core token for the route gets 401 (never a 500, never a
// call), and GET /health says its status alone; a token signed with the previous secret still works
// during a rotation; warmup and GET /phrase go through the TTS cache, so repeating them synthesizes
// nothing, and /phrase synthesizes at most PHRASE_MAX_UNCACHED_PER_MIN new texts a minute (then 429).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { CORE_TOKEN_MAX_TTL_MS, PHRASE_PATH, TURN_SCHEMA_VERSION, signCoreToken, turnLine, type CoreTokenPurpose } from "@voice/protocol";
import { coreHealth } from "../../infra/local/core-process.js";
import { TEST_GREETING, TEST_SECRET, startCore, type CoreUnderTest } from "../testing/core-harness.js";

const PHRASES_PER_MIN = 3;
/** The secret being rotated out: still accepted. */
const PREVIOUS_SECRET = "previous-shared-secret-0123456789";
const PROJECT = "voice-test-project";

let core: CoreUnderTest;
let base: string;

beforeAll(async () => {
  core = await startCore({ env: { PHRASE_MAX_UNCACHED_PER_MIN: String(PHRASES_PER_MIN), CORE_SHARED_SECRET_PREVIOUS: PREVIOUS_SECRET, GOOGLE_CLOUD_PROJECT: PROJECT } });
  base = `http://127.0.0.1:${core.server.port}`;
});

afterAll(async () => {
  await core?.close();
});

async function tokenHeader(purpose: CoreTokenPurpose, callSid = "warmup", secret = TEST_SECRET): Promise<Record<string, string>> {
  return { Authorization: `Bearer ${await signCoreToken(secret, purpose, callSid, Date.now())}` };
}

/** Each guarded route and the purpose its token must carry. */
const GUARDED: readonly { path: string; purpose: CoreTokenPurpose }[] = [
  { path: "/health/warmup", purpose: "warmup" },
  { path: `${PHRASE_PATH}?text=x`, purpose: "phrase" },
  { path: "/call", purpose: "call" },
];

/** The status a route answered: HTTP, or for /call the upgrade's ("open" if a socket opened). */
async function statusOf(path: string, authorization: string): Promise<number | "open"> {
  return path === "/call" ? upgradeStatus(authorization) : (await fetch(`${base}${path}`, { headers: { Authorization: authorization } })).status;
}

/** Characters an HTTP client can put in a header value (Latin-1, no CR/LF/NUL). */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.integer({ min: 0x80, max: 0xff }),
  fc.constant(0x09),
).map((code) => String.fromCharCode(code));

/**
 * Authorization values a stranger might try: junk, near misses of a real token, and tokens signed
 * with a real secret that are still not good for the route (`signedButWrong`).
 */
function authorizationValues(validToken: string, signedButWrong: readonly string[]) {
  const [purpose, callSid, issued, expiry, mac] = validToken.split(".") as [string, string, string, string, string];
  const flip = (text: string, at: number) => `${text.slice(0, at)}${text[at] === "0" ? "1" : "0"}${text.slice(at + 1)}`;
  return fc.oneof(
    fc.string({ unit: headerChar, maxLength: 300 }),
    fc.string({ unit: headerChar, maxLength: 300 }).map((junk) => `Bearer ${junk}`),
    fc.nat({ max: mac.length - 1 }).map((at) => `Bearer ${purpose}.${callSid}.${issued}.${expiry}.${flip(mac, at)}`),
    fc.string({ unit: headerChar, minLength: 1, maxLength: 40 }).map((other) => `Bearer ${purpose}.${other.replaceAll(".", "")}x.${issued}.${expiry}.${mac}`),
    fc.constantFrom("call", "phrase", "warmup", "health", "admin", "").filter((other) => other !== purpose).map((other) => `Bearer ${other}.${callSid}.${issued}.${expiry}.${mac}`),
    fc.integer().filter((other) => String(other) !== expiry).map((other) => `Bearer ${purpose}.${callSid}.${issued}.${other}.${mac}`),
    fc.nat().filter((other) => String(other) !== issued).map((other) => `Bearer ${purpose}.${callSid}.${other}.${expiry}.${mac}`),
    fc.constantFrom(...signedButWrong).map((token) => `Bearer ${token}`),
    fc.constantFrom(`bearer ${validToken}`, `Basic ${validToken}`, `Bearer ${validToken}.x`, `Bearer ${callSid}.${expiry}.${mac}`, `Bearer ${purpose}.${callSid}..${expiry}.${mac}`, "Bearer", "Bearer ", `Bearer ${mac}`),
  );
}

/** Tokens signed with the core's own secrets that must still be refused for `purpose`. */
async function signedButWrongFor(purpose: CoreTokenPurpose): Promise<string[]> {
  const now = Date.now();
  const others = (["call", "phrase", "warmup", "health"] as const).filter((other) => other !== purpose);
  return Promise.all([
    // Signed for another route.
    ...others.map((other) => signCoreToken(TEST_SECRET, other, "warmup", now)),
    ...others.map((other) => signCoreToken(PREVIOUS_SECRET, other, "warmup", now)),
    // Living longer than a token may, however validly signed: a day, and just past the cap.
    signCoreToken(TEST_SECRET, purpose, "warmup", now, 24 * 3_600_000),
    signCoreToken(PREVIOUS_SECRET, purpose, "warmup", now, CORE_TOKEN_MAX_TTL_MS + 1),
    // Issued an hour from now (a long-lived token in disguise), and expired.
    signCoreToken(TEST_SECRET, purpose, "warmup", now + 3_600_000),
    signCoreToken(TEST_SECRET, purpose, "warmup", now - 120_000),
    // Signed with neither secret.
    signCoreToken("a-third-secret-0123456789", purpose, "warmup", now),
  ]);
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
  it("answers 401 to any Authorization header that is not a valid token for the route, on every guarded route", async () => {
    const cases = await Promise.all(
      GUARDED.map(async ({ path, purpose }) => {
        const valid = (await tokenHeader(purpose)).Authorization!.slice("Bearer ".length);
        return { path, values: authorizationValues(valid, await signedButWrongFor(purpose)) };
      }),
    );
    const statuses = new Set<number | "open">();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(...cases.map(({ path, values }) => values.map((authorization) => ({ path, authorization })))),
        async ({ path, authorization }) => {
          const status = await statusOf(path, authorization);
          statuses.add(status);
          expect(status, `${path} ${authorization}`).toBe(401);
        },
      ),
      { seed: 8008, numRuns: 300 },
    );
    expect([...statuses]).toEqual([401]);
    expect(core.logs.lines.filter((line) => line.severity === "ERROR")).toEqual([]);
    expect(core.server.activeCalls()).toBe(0);
  });

  it("says only its status on /health to anyone without a health token, whatever they send", async () => {
    const valid = (await tokenHeader("health")).Authorization!.slice("Bearer ".length);
    await fc.assert(
      fc.asyncProperty(fc.option(authorizationValues(valid, await signedButWrongFor("health")), { nil: undefined }), async (authorization) => {
        const response = await fetch(`${base}/health`, { headers: authorization === undefined ? {} : { Authorization: authorization } });
        expect(response.status).toBe(200);
        expect(Object.keys((await response.json()) as object)).toEqual(["status"]);
      }),
      { seed: 8010, numRuns: 150 },
    );
  });

  it("takes a token signed with either the current or the previous secret, on every route", async () => {
    // A cached text, so that this costs none of the minute's syntheses the tests below count.
    const cachedPhrase = `${PHRASE_PATH}?text=${encodeURIComponent(TEST_GREETING)}`;
    for (const secret of [TEST_SECRET, PREVIOUS_SECRET]) {
      for (const { path, purpose } of GUARDED) {
        const status = await statusOf(path.startsWith(PHRASE_PATH) ? cachedPhrase : path, (await tokenHeader(purpose, "warmup", secret)).Authorization!);
        expect(status, `${path} signed with the ${secret === TEST_SECRET ? "current" : "previous"} secret`).toBe(path === "/call" ? "open" : 200);
      }
      const health = await fetch(`${base}/health`, { headers: await tokenHeader("health", "health", secret) });
      expect(await health.json()).toMatchObject({ status: "ok", active_calls: expect.any(Number), max_calls: 100 });
    }
    expect(await statusOf("/call", (await tokenHeader("call", "warmup", "a-third-secret-0123456789")).Authorization!)).toBe(401);
    // The sockets opened above were dropped at once; their calls end.
    await expect.poll(() => core.server.activeCalls(), { timeout: 10_000 }).toBe(0);
  });
});

describe("what warmup and /phrase cost", () => {
  const phrase = (text: string, headers: Record<string, string>) => fetch(`${base}${PHRASE_PATH}?text=${encodeURIComponent(text)}`, { headers });

  it("synthesizes nothing on a repeated warmup or a repeated phrase", async () => {
    const { stats } = core.emulators.tts;
    const headers = await tokenHeader("phrase");
    const before = stats.requests;
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/health/warmup`, { headers: await tokenHeader("warmup") })).status).toBe(200);
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
    const headers = await tokenHeader("phrase");
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

  it("reports its call limits on /health to a health token", async () => {
    expect(await coreHealth(base, TEST_SECRET)).toMatchObject({ active_calls: 0, max_calls: 100, calls_refused: 0 });
  });
});

describe("a call's trace", () => {
  it("names the trace of the request that opened the call on every line of the call, TURN and CALL included", async () => {
    const callSid = "CA-traced";
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const ws = new WebSocket(`ws://127.0.0.1:${core.server.port}/call`, {
      headers: { ...(await tokenHeader("call", callSid)), traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const send = (frame: object) => ws.send(JSON.stringify({ sequenceNumber: "1", streamSid: "MZ-traced", ...frame }));
    const start = { accountSid: "AC1", streamSid: "MZ-traced", callSid, tracks: ["inbound"], customParameters: {}, mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 } };
    send({ event: "start", start });
    send({ event: "edge.greeting", played: true, text: TEST_GREETING, mark: "greeting" });
    send({ event: "mark", mark: { name: "greeting" } });
    // A keypad turn: answered without any speech to recognise.
    for (const digit of ["1", "#"]) send({ event: "dtmf", dtmf: { track: "inbound_track", digit } });
    // The TURN line is schema 2: its timeline agrees with its metrics, and it says what the agent answered.
    const turn = turnLine.parse(await core.logs.next("TURN", { call_id: callSid }));
    expect(turn).toMatchObject({ schema_version: TURN_SCHEMA_VERSION, input: "dtmf", agent_text: expect.stringMatching(/\S/) });
    expect(turn.timeline).toMatchObject({ eou: turn.EOU_MS, first_frame: turn.TOTAL_LATENCY_MS, speech_start: expect.any(Number) });
    send({ event: "stop", stop: { accountSid: "AC1", callSid } });
    await core.logs.next("CALL", { call_id: callSid });

    const lines = core.logs.lines.filter((line) => line.call_id === callSid);
    expect(lines.map((line) => line.message)).toEqual(expect.arrayContaining(["CALL_START", "TURN", "CALL"]));
    for (const line of lines) {
      expect(line, String(line.message)).toMatchObject({
        "logging.googleapis.com/trace": `projects/${PROJECT}/traces/${traceId}`,
        "logging.googleapis.com/spanId": "00f067aa0ba902b7",
        "logging.googleapis.com/trace_sampled": true,
      });
    }
    ws.close();

    // A call opened without a trace names none.
    const plain = new WebSocket(`ws://127.0.0.1:${core.server.port}/call`, { headers: await tokenHeader("call", "CA-untraced") });
    await new Promise((resolve, reject) => plain.once("open", resolve).once("error", reject));
    plain.send(JSON.stringify({ event: "start", sequenceNumber: "1", streamSid: "MZ-untraced", start: { ...start, callSid: "CA-untraced", streamSid: "MZ-untraced" } }));
    expect(await core.logs.next("CALL_START", { call_id: "CA-untraced" })).not.toHaveProperty("logging.googleapis.com/trace");
    plain.close();
    await core.logs.next("CALL", { call_id: "CA-untraced" });
  });
});
