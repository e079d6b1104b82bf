// The core end to end on loopback: the real emulators, the core server in-process, and the edge's
// part played by EdgeLink (core-node/testing/core-harness.ts): the caller's audio in real time, the answer "played" at
// real time with its marks echoed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import WebSocket from "ws";
import { MAX_PHRASE_CHARS, PHRASE_KEY_HEADER, PHRASE_PATH, TURN_METRICS as METRICS, callLine, phraseKey, signCoreToken, turnLine } from "@voice/protocol";
import script from "../../../infra/caller-scripts/default.he.json" with { type: "json" };
import { constructions, type App } from "../app.js";
import { DEFAULT_FIXED_PHRASES } from "../config.js";
import type { Emulators } from "../../../infra/local/emulators/index.js";
import type { LogCapture } from "../../testing/log-capture.js";
import type { CoreServer } from "../server.js";
import { coreHealth } from "../../../infra/local/core-process.js";
import { TEST_GREETING as GREETING, TEST_SECRET as SECRET, callerSpeech, levelDbfs, startCore, type CoreUnderTest } from "../../testing/core-harness.js";

let core: CoreUnderTest;
let emulators: Emulators;
let app: App;
let server: CoreServer;
let logs: LogCapture;
/** The caller's lines as 8 kHz mu-law speech. */
let lines: Uint8Array[];

beforeAll(async () => {
  core = await startCore();
  ({ emulators, app, server, logs } = core);
  lines = await Promise.all(script.lines.map(callerSpeech));
});

afterAll(async () => {
  await core?.close();
});


// The calls of these first two groups check only their own lines and requests: they run side by side.
// The server's checks (no call left, each client built once) come after them.
describe.concurrent("a call through the core", () => {
  it("answers two concurrent callers with speech, marks and a TURN line each; bad frames are dropped with a reason", async ({ expect }) => {
    const [a, b] = await Promise.all([core.open("CA-first"), core.open("CA-second")]);
    a.begin(true);
    b.begin(true);
    a.echo("greeting");
    b.echo("greeting");
    // B's edge misbehaves mid-call; none of it may disturb B's call or A's.
    b.ws.send("this is not json");
    b.ws.send(Buffer.from([1, 2, 3]));
    b.sendJson({ event: "media", sequenceNumber: "7", streamSid: b.streamSid, media: { track: "inbound", chunk: "1", timestamp: "0", payload: "@@@" } });
    b.sendJson({ event: "telepathy", streamSid: b.streamSid });

    await Promise.all([a.say(lines[0]!), b.say(lines[0]!)]);
    await Promise.all([a.mark("1.end"), b.mark("1.end")]);

    for (const link of [a, b]) {
      const marks = link.marks();
      // The hours answer has two sentences: a mark after each, then the end mark.
      expect(marks).toEqual([expect.stringMatching(/^1\.1:אנחנו פתוחים/), expect.stringMatching(/^1\.2:ביום שישי/), "1.end"]);
      const audio = link.audioByTurn.get(1)!;
      expect(audio.length).toBeGreaterThan(100); // > 2 s of answer audio
      expect(levelDbfs(audio)).toBeGreaterThan(-35); // speech, not silence
    }

    for (const callSid of ["CA-first", "CA-second"]) {
      const turn = await logs.next("TURN", { call_id: callSid });
      expect(turn).toMatchObject({
        severity: "INFO",
        "logging.googleapis.com/labels": { call_id: callSid },
        turn: 1,
        transcript: script.lines[0],
        interrupted: false,
        answer_sentences: 2,
      });
      for (const metric of METRICS) expect(turn[metric], metric).toEqual(expect.any(Number));
      expect(turnLine.safeParse(turn).success).toBe(true);
      // From the end of speech to the first answer frame: positive, and bounded generously since the
      // emulators (eSpeak included) share this machine's CPU with the core.
      expect(turn.TOTAL_LATENCY_MS as number).toBeGreaterThan(0);
      expect(turn.TOTAL_LATENCY_MS as number).toBeLessThan(8000);
    }

    const dropped = logs.find("frame dropped", { call_id: "CA-second" });
    expect(dropped.map((line) => line.severity)).toEqual(["WARNING", "WARNING", "WARNING", "WARNING"]);
    expect(dropped.map((line) => line.reason)).toEqual([
      "not JSON",
      expect.stringContaining("binary frame"),
      expect.stringContaining("media.payload"),
      expect.any(String),
    ]);
    expect(logs.find("frame dropped", { call_id: "CA-first" })).toEqual([]);

    await Promise.all([a.hangUp(), b.hangUp()]);
    const summary = callLine.parse(await logs.next("CALL", { call_id: "CA-second" }));
    expect(summary).toMatchObject({ turns: 1, dropped_frames: 4, end_reason: "stop" });
  });

  it("speaks the greeting itself when the edge could not play it", async ({ expect }) => {
    const call = await core.open("CA-greet");
    call.begin(false);
    await call.mark("0.end");
    expect(call.marks()).toEqual([`0.1:${GREETING}`, "0.end"]);
    expect(levelDbfs(call.audioByTurn.get(0)!)).toBeGreaterThan(-35);
    await call.hangUp();
  });

  it("stops talking when the caller talks over it and remembers only what was heard", async ({ expect }) => {
    const call = await core.open("CA-barge");
    call.begin(true);
    call.echo("greeting");
    await call.say(lines[0]!);
    const first = await call.next((f) => f.event === "mark" && f.mark.name.startsWith("1.1:"));
    const firstName = first.event === "mark" ? first.mark.name : "";
    // The caller waits for the first sentence to play out, then talks over the second.
    await call.echoOf(firstName);
    const clearsBefore = call.received.filter((f) => f.event === "clear").length;
    const interrupting = call.say(lines[1]!, 0);
    await call.next((f) => f.event === "clear");
    expect(clearsBefore).toBe(0);
    const bargeIn = await logs.next("BARGE_IN", { call_id: "CA-barge" });
    expect(bargeIn).toMatchObject({ reason: "words", turn: 1, heard_sentences: 1 });

    await interrupting;
    await call.mark("2.end");
    const heard = firstName.slice("1.1:".length);
    // The model saw the greeting, the question, only the sentence that was heard, and the new question.
    const lastRequest = emulators.openai.stats.completions.filter((completion) => completion.callId === "CA-barge").at(-1)!;
    expect(lastRequest.messages.map((m) => [m.role, m.content])).toEqual([
      ["system", app.config.systemPrompt],
      ["assistant", GREETING],
      ["user", script.lines[0]],
      ["assistant", heard],
      ["user", script.lines[1]],
    ]);
    const second = await logs.next("TURN", { call_id: "CA-barge", turn: 2 });
    expect(second).toMatchObject({ transcript: script.lines[1], interrupted: false });
    await call.hangUp();
  });
});

describe.concurrent("when a service fails", () => {
  it("a failed recognition stream is logged once, reopened after at most 200 ms, and the call goes on", async ({ expect }) => {
    emulators.speech.injectFault({ afterAudioMs: 400, code: status.UNAVAILABLE, details: "connection reset" }, { callId: "CA-stt-fault" });
    const call = await core.open("CA-stt-fault");
    call.begin(true);
    call.echo("greeting");
    // The stream breaks during the silence before the caller speaks.
    await call.say(lines[0]!, 1000);
    await call.mark("1.end");
    const failures = logs.find("STT stream failed; retrying", { call_id: "CA-stt-fault" });
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ severity: "WARNING", code: "UNAVAILABLE", attempt: 1, delay_ms: expect.any(Number) });
    expect(failures[0]!.delay_ms as number).toBeGreaterThan(100);
    expect(failures[0]!.delay_ms as number).toBeLessThanOrEqual(200);
    const turn = await logs.next("TURN", { call_id: "CA-stt-fault" });
    expect(turn).toMatchObject({ transcript: script.lines[0], interrupted: false, stt_fallback: false });
    await call.hangUp();
    expect(await logs.next("CALL", { call_id: "CA-stt-fault" })).toMatchObject({ stt_errors: 1, stt_reopens: 1, retries: 1, turns: 1 });
  });
});

describe("the core server", () => {
  /** Opens the call socket; resolves with the HTTP status of a refused upgrade, or the open socket. */
  function upgrade(headers: Record<string, string>): Promise<number | WebSocket> {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/call`, { headers });
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(ws));
      ws.once("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
      ws.once("error", reject);
    });
  }

  it("refuses a call without a valid token, and one whose start names another call", async () => {
    expect(await upgrade({})).toBe(401);
    expect(await upgrade({ Authorization: "Bearer nonsense" })).toBe(401);
    const forged = await signCoreToken("another-secret-0123456789", "call", "CA-x", Date.now());
    expect(await upgrade({ Authorization: `Bearer ${forged}` })).toBe(401);
    const expired = await signCoreToken(SECRET, "call", "CA-x", Date.now() - 120_000);
    expect(await upgrade({ Authorization: `Bearer ${expired}` })).toBe(401);
    // Validly signed, but for another route, or for longer than a token may live.
    expect(await upgrade({ Authorization: `Bearer ${await signCoreToken(SECRET, "warmup", "CA-x", Date.now())}` })).toBe(401);
    expect(await upgrade({ Authorization: `Bearer ${await signCoreToken(SECRET, "call", "CA-x", Date.now(), 24 * 3_600_000)}` })).toBe(401);

    const stolen = await core.open("CA-token-owner");
    const closed = new Promise<number>((resolve) => stolen.ws.once("close", (code) => resolve(code)));
    stolen.sendJson({
      event: "start",
      sequenceNumber: "1",
      streamSid: "MZ-other",
      start: {
        accountSid: "AC1",
        streamSid: "MZ-other",
        callSid: "CA-someone-else",
        tracks: ["inbound"],
        customParameters: {},
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
      },
    });
    expect(await closed).toBe(1008);
    expect(server.activeCalls()).toBe(0);
  });

  it("built every client once, however many calls it served, and says so on /health", async () => {
    expect({ ...constructions }).toEqual({ app: 1, speechClient: 1, ttsClient: 1, openaiClient: 1, vadModule: 1 });
    const health = await coreHealth(`http://127.0.0.1:${server.port}`, SECRET);
    expect(health).toMatchObject({ status: "ok", active_calls: 0, constructions: { app: 1, speechClient: 1, ttsClient: 1, openaiClient: 1 } });
    expect(logs.find("CALL").length).toBeGreaterThanOrEqual(4); // the calls served above
  });

  /** Headers of a request the edge signs for its warmup (`/health/warmup`, or `/phrase`). */
  async function warmupAuth(purpose: "warmup" | "phrase" = "warmup"): Promise<Record<string, string>> {
    return { Authorization: `Bearer ${await signCoreToken(SECRET, purpose, "warmup", Date.now())}` };
  }

  it("warms up on /health/warmup for a holder of a core token only, and reports each step's time", async () => {
    const url = `http://127.0.0.1:${server.port}/health/warmup`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { Authorization: "Bearer nonsense" } })).status).toBe(401);
    const response = await fetch(url, { headers: await warmupAuth() });
    expect(response.status).toBe(200);
    const report = await response.json();
    expect(report).toEqual({
      ok: true,
      credentials_warmup_ms: expect.any(Number),
      tts_warmup_ms: expect.any(Number),
      // The greeting, CALL_LIMIT_TEXT and every fixed phrase.
      tts_cached_phrases: 2 + Object.keys(DEFAULT_FIXED_PHRASES).length,
      stt_warmup_ms: expect.any(Number),
      llm_warmup_ms: expect.any(Number),
      total_ms: expect.any(Number),
    });
  });

  it("serves a phrase's audio with its content key to a holder of a core token only", async () => {
    const phraseUrl = (text: string) => `http://127.0.0.1:${server.port}${PHRASE_PATH}?text=${encodeURIComponent(text)}`;
    const keyOf = (text: string) => phraseKey({ text, language: "he-IL", voice: "he-IL-Wavenet-A", encoding: "MULAW", sampleRateHertz: 8000 });
    expect((await fetch(phraseUrl(GREETING))).status).toBe(401);
    // A token for another route does not do either.
    expect((await fetch(phraseUrl(GREETING), { headers: await warmupAuth() })).status).toBe(401);

    const headers = await warmupAuth("phrase");
    const hold = "רק רגע, אני כאן.";
    const [greeting, holding] = await Promise.all([fetch(phraseUrl(GREETING), { headers }), fetch(phraseUrl(hold), { headers })]);
    expect([greeting.status, holding.status]).toEqual([200, 200]);
    expect(greeting.headers.get(PHRASE_KEY_HEADER)).toBe(await keyOf(GREETING));
    expect(holding.headers.get(PHRASE_KEY_HEADER)).toBe(await keyOf(hold));
    expect(await keyOf(hold)).not.toBe(await keyOf(GREETING));
    const [greetingAudio, holdAudio] = [new Uint8Array(await greeting.arrayBuffer()), new Uint8Array(await holding.arrayBuffer())];
    for (const audio of [greetingAudio, holdAudio]) {
      expect(String.fromCharCode(...audio.subarray(0, 4))).not.toBe("RIFF");
      expect(audio.length).toBeGreaterThan(4000); // over half a second of speech
      expect(levelDbfs([audio])).toBeGreaterThan(-35);
    }
    // Different words, different audio: the greeting is far longer than "one moment".
    expect(greetingAudio.length).toBeGreaterThan(holdAudio.length * 1.5);

    // A repeated warmup is served from the TTS cache: no synthesis.
    const syntheses = emulators.tts.stats.requests;
    expect((await fetch(phraseUrl(hold), { headers })).status).toBe(200);
    expect(emulators.tts.stats.requests).toBe(syntheses);

    for (const bad of [`${PHRASE_PATH}`, `${PHRASE_PATH}?text=`, `${PHRASE_PATH}?text=%20%20`, `${PHRASE_PATH}?text=${"א".repeat(MAX_PHRASE_CHARS + 1)}`]) {
      const response = await fetch(`http://127.0.0.1:${server.port}${bad}`, { headers });
      expect(response.status, bad).toBe(400);
      expect(await response.json()).toEqual({ error: expect.any(String) });
    }
    expect(emulators.tts.stats.requests).toBe(syntheses);
  });
});
