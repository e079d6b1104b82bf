// The core end to end on loopback: the real emulators (Google Speech and TTS over gRPC, OpenAI over
// HTTP), the core server in-process, and a WebSocket client playing the edge's part: it relays a
// caller's audio as Twilio media frames in real time (speech from eSpeak, silence between) and
// "plays" the answer at real time, echoing each mark when the audio before it has played.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import WebSocket from "ws";
import {
  FRAME_BYTES,
  GREETING_KEY_HEADER,
  MULAW_SILENCE,
  coreToEdge,
  greetingKey,
  mulawToPcm,
  pcmToMulaw,
  signCoreToken,
  type CoreToEdge,
} from "@voice/protocol";
import { startEmulators, type Emulators } from "../../../infra/local/emulators/index.js";
import { synthesizeSpeech } from "../../../infra/local/espeak.js";
import script from "../../../infra/local/scripts/default.he.json" with { type: "json" };
import { buildApp, constructions, type App } from "../app.js";
import { loadConfig } from "../config.js";
import { createLogger } from "../metrics/log.js";
import { LogCapture } from "../metrics/log-capture.js";
import { startServer, type CoreServer } from "../server.js";

const SECRET = "test-shared-secret-0123456789";
const GREETING = "שלום, הגעתם למרפאת השיניים. במה אפשר לעזור?";

let emulators: Emulators;
let app: App;
let server: CoreServer;
const logs = new LogCapture();
/** The caller's lines as 8 kHz mu-law speech. */
let lines: Uint8Array[];

beforeAll(async () => {
  emulators = await startEmulators({ speech: { log: () => {} }, tts: { log: () => {} }, openai: { log: () => {} } });
  const config = loadConfig({ ...emulators.env, CORE_SHARED_SECRET: SECRET, PORT: "0", GREETING_TEXT: GREETING });
  app = await buildApp(config, createLogger({ level: "info", debug: false, destination: logs }));
  const report = await app.warmup();
  expect(report).not.toHaveProperty("tts_warmup_error");
  server = await startServer(app, { port: 0, host: "127.0.0.1" });
  lines = await Promise.all(script.lines.map(async (line) => pcmToMulaw(await synthesizeSpeech(line, { voice: "he", sampleRate: 8000 }))));
});

afterAll(async () => {
  await server?.close();
  await app?.close();
  await emulators?.close();
});

/** The edge's side of one call, with Twilio's behaviour folded in (real-time audio, mark echoes). */
class EdgeLink {
  readonly received: CoreToEdge[] = [];
  /** Answer audio per turn, from the turn number in the marks that follow it. */
  private audioSinceMark: Uint8Array[] = [];
  readonly audioByTurn = new Map<number, Uint8Array[]>();
  readonly echoed: string[] = [];
  private waiters: Array<{ test: (frame: CoreToEdge) => boolean; resolve: (frame: CoreToEdge) => void }> = [];
  private queue: Array<{ frame: Uint8Array; onSent?: () => void }> = [];
  private sentFrames = 0;
  private lineTimer: NodeJS.Timeout | undefined;
  private lineStartedAt = 0;
  /** Where the answer audio queued so far ends, in wall time (ms, performance.now()). */
  private playbackEnd = 0;
  /** Marks waiting for their audio to play out, in order. */
  private pendingEchoes = new Map<NodeJS.Timeout, string>();
  private echoWaiters: Array<{ name: string; resolve: () => void }> = [];
  /** When false, marks are not echoed (audio that never finishes playing, as far as the core knows). */
  echoMarks = true;

  private constructor(
    readonly ws: WebSocket,
    readonly callSid: string,
    readonly streamSid: string,
  ) {
    ws.on("message", (data) => this.onFrame(coreToEdge.parse(JSON.parse(String(data)))));
  }

  static async open(callSid: string, token?: string): Promise<EdgeLink> {
    const auth = token ?? (await signCoreToken(SECRET, callSid, Date.now()));
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/call`, { headers: { Authorization: `Bearer ${auth}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new EdgeLink(ws, callSid, `MZ${callSid}`);
  }

  sendJson(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** `start` then the greeting message, as the edge sends them; then audio flows in real time. */
  begin(greetingPlayed: boolean): void {
    this.sendJson({
      event: "start",
      sequenceNumber: "1",
      streamSid: this.streamSid,
      start: {
        accountSid: "AC1",
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ["inbound"],
        customParameters: { callSid: this.callSid },
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
      },
    });
    this.sendJson({ event: "edge.greeting", played: greetingPlayed, text: GREETING, mark: greetingPlayed ? "greeting" : undefined });
    this.lineStartedAt = performance.now();
    this.lineTimer = setInterval(() => this.pump(), 20);
  }

  /** Queues the caller saying `mulaw` after `silenceMs` of silence; resolves when the last frame is sent. */
  say(mulaw: Uint8Array, silenceMs = 300): Promise<void> {
    for (let i = 0; i < silenceMs / 20; i++) this.queue.push({ frame: new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE) });
    for (let at = 0; at < mulaw.length; at += FRAME_BYTES) {
      const frame = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
      frame.set(mulaw.subarray(at, at + FRAME_BYTES));
      this.queue.push({ frame });
    }
    return new Promise((resolve) => (this.queue.at(-1)!.onSent = resolve));
  }

  /** Sends every frame that is due by now: one per 20 ms of wall time, silence when nothing is queued. */
  private pump(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const due = Math.floor((performance.now() - this.lineStartedAt) / 20);
    while (this.sentFrames < due) {
      const queued = this.queue.shift();
      const frame = queued?.frame ?? new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
      const n = this.sentFrames++;
      this.sendJson({
        event: "media",
        sequenceNumber: String(n + 2),
        streamSid: this.streamSid,
        media: { track: "inbound", chunk: String(n + 1), timestamp: String(n * 20), payload: Buffer.from(frame).toString("base64") },
      });
      queued?.onSent?.();
    }
  }

  private onFrame(frame: CoreToEdge): void {
    this.received.push(frame);
    const now = performance.now();
    if (frame.event === "media") {
      this.audioSinceMark.push(new Uint8Array(Buffer.from(frame.media.payload, "base64")));
      this.playbackEnd = Math.max(now, this.playbackEnd) + 20;
    } else if (frame.event === "mark") {
      const turn = Number(frame.mark.name.split(".")[0]);
      this.audioByTurn.set(turn, [...(this.audioByTurn.get(turn) ?? []), ...this.audioSinceMark]);
      this.audioSinceMark = [];
      if (this.echoMarks) this.echoAt(frame.mark.name, Math.max(0, this.playbackEnd - now));
    } else {
      // clear: buffered audio is dropped, pending marks come back at once (as Twilio does).
      this.playbackEnd = now;
      for (const [timer, name] of this.pendingEchoes) {
        clearTimeout(timer);
        this.echo(name);
      }
      this.pendingEchoes.clear();
    }
    this.waiters = this.waiters.filter((w) => (w.test(frame) ? (w.resolve(frame), false) : true));
  }

  private echoAt(name: string, delayMs: number): void {
    const timer = setTimeout(() => {
      this.pendingEchoes.delete(timer);
      this.echo(name);
    }, delayMs);
    this.pendingEchoes.set(timer, name);
  }

  echo(name: string): void {
    this.echoed.push(name);
    this.sendJson({ event: "mark", sequenceNumber: "0", streamSid: this.streamSid, mark: { name } });
    this.echoWaiters = this.echoWaiters.filter((w) => (w.name === name ? (w.resolve(), false) : true));
  }

  /** Resolves when the mark `name` has been echoed (its audio played). */
  echoOf(name: string): Promise<void> {
    if (this.echoed.includes(name)) return Promise.resolve();
    return new Promise((resolve) => this.echoWaiters.push({ name, resolve }));
  }

  next(test: (frame: CoreToEdge) => boolean): Promise<CoreToEdge> {
    const seen = this.received.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  mark(name: string): Promise<CoreToEdge> {
    return this.next((f) => f.event === "mark" && f.mark.name === name);
  }

  marks(): string[] {
    return this.received.flatMap((f) => (f.event === "mark" ? [f.mark.name] : []));
  }

  async hangUp(): Promise<void> {
    clearInterval(this.lineTimer);
    for (const timer of this.pendingEchoes.keys()) clearTimeout(timer);
    this.sendJson({ event: "stop", sequenceNumber: "9999", streamSid: this.streamSid, stop: { accountSid: "AC1", callSid: this.callSid } });
    if (this.ws.readyState !== WebSocket.CLOSED) await new Promise((resolve) => this.ws.once("close", resolve));
  }
}

/** RMS level (dBFS) of mu-law audio. */
function levelDbfs(chunks: Uint8Array[]): number {
  const pcm = mulawToPcm(new Uint8Array(Buffer.concat(chunks)));
  let sum = 0;
  for (const s of pcm) sum += s * s;
  return 20 * Math.log10(Math.sqrt(sum / Math.max(1, pcm.length)) / 32768);
}

const METRICS = ["STT_FIRST_PARTIAL_MS", "STT_FINAL_MS", "LLM_FIRST_TOKEN_MS", "TTS_READY_MS", "TOTAL_LATENCY_MS"];

describe("a call through the core", () => {
  it("answers two concurrent callers with speech, marks and a TURN line each; bad frames are dropped with a reason", async () => {
    const [a, b] = await Promise.all([EdgeLink.open("CA-first"), EdgeLink.open("CA-second")]);
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
    const summary = await logs.next("CALL", { call_id: "CA-second" });
    expect(summary).toMatchObject({ turns: 1, dropped_frames: 4, end_reason: "stop" });
  });

  it("speaks the greeting itself when the edge could not play it", async () => {
    const call = await EdgeLink.open("CA-greet");
    call.begin(false);
    await call.mark("0.end");
    expect(call.marks()).toEqual([`0.1:${GREETING}`, "0.end"]);
    expect(levelDbfs(call.audioByTurn.get(0)!)).toBeGreaterThan(-35);
    await call.hangUp();
  });

  it("stops talking when the caller talks over it and remembers only what was heard", async () => {
    const call = await EdgeLink.open("CA-barge");
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
    expect(bargeIn).toMatchObject({ reason: "barge-in", turn: 1, heard_sentences: 1 });

    await interrupting;
    await call.mark("2.end");
    const heard = firstName.slice("1.1:".length);
    // The model saw the greeting, the question, only the sentence that was heard, and the new question.
    expect(emulators.openai.stats.lastMessages.map((m) => [m.role, m.content])).toEqual([
      ["system", app.config.SYSTEM_PROMPT],
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

describe("when a service fails", () => {
  it("a failed recognition stream is logged once, reopened, and the call goes on", async () => {
    emulators.speech.injectFault({ afterAudioMs: 400, code: status.UNAVAILABLE, details: "connection reset" });
    const call = await EdgeLink.open("CA-stt-fault");
    call.begin(true);
    call.echo("greeting");
    // The stream breaks during the silence before the caller speaks.
    await call.say(lines[0]!, 1000);
    await call.mark("1.end");
    const failures = logs.find("STT stream failed; reopening on the next audio", { call_id: "CA-stt-fault" });
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ severity: "WARNING", code: status.UNAVAILABLE });
    const turn = await logs.next("TURN", { call_id: "CA-stt-fault" });
    expect(turn).toMatchObject({ transcript: script.lines[0], interrupted: false });
    await call.hangUp();
    expect(await logs.next("CALL", { call_id: "CA-stt-fault" })).toMatchObject({ stt_errors: 1, stt_reopens: 1, turns: 1 });
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
    const forged = await signCoreToken("another-secret-0123456789", "CA-x", Date.now());
    expect(await upgrade({ Authorization: `Bearer ${forged}` })).toBe(401);
    const expired = await signCoreToken(SECRET, "CA-x", Date.now() - 120_000);
    expect(await upgrade({ Authorization: `Bearer ${expired}` })).toBe(401);

    const stolen = await EdgeLink.open("CA-token-owner");
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
    const health = await (await fetch(`http://127.0.0.1:${server.port}/health`)).json();
    expect(health).toMatchObject({ status: "ok", active_calls: 0, constructions: { app: 1, speechClient: 1, ttsClient: 1, openaiClient: 1 } });
    expect(logs.find("CALL").length).toBeGreaterThanOrEqual(4); // the calls served above
  });

  it("warms up on /health/warmup and reports each step's time", async () => {
    const response = await fetch(`http://127.0.0.1:${server.port}/health/warmup`);
    expect(response.status).toBe(200);
    const report = await response.json();
    expect(report).toEqual({
      tts_warmup_ms: expect.any(Number),
      tts_cached_phrases: 3,
      stt_warmup_ms: expect.any(Number),
      llm_warmup_ms: expect.any(Number),
      total_ms: expect.any(Number),
    });
  });

  it("serves the greeting audio with its content key to a holder of a core token only", async () => {
    const url = `http://127.0.0.1:${server.port}/greeting`;
    expect((await fetch(url)).status).toBe(401);
    const token = await signCoreToken(SECRET, "warmup", Date.now());
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get(GREETING_KEY_HEADER)).toBe(
      await greetingKey({ text: GREETING, language: "he-IL", voice: "he-IL-Wavenet-A", encoding: "MULAW", sampleRateHertz: 8000 }),
    );
    const audio = new Uint8Array(await response.arrayBuffer());
    expect(String.fromCharCode(...audio.subarray(0, 4))).not.toBe("RIFF");
    expect(audio.length).toBeGreaterThan(8000); // over a second of speech
    expect(levelDbfs([audio])).toBeGreaterThan(-35);
  });
});
