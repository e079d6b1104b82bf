// The edge in real workerd (via startEdge), between a WebSocket client playing Twilio and a small
// fake core on 127.0.0.1 that checks the edge's core token like the real one must.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { GREETING_KEY_HEADER, greetingKey, toBase64, twilioSignature, verifyCoreToken } from "@voice/protocol";
import { startEdge, type EdgeLogLine, type RunningEdge } from "./edge.js";

const SECRETS = { TWILIO_AUTH_TOKEN: "twilio-token-for-tests", CORE_SHARED_SECRET: "core-secret-for-tests", DEPLOY_TOKEN: "deploy-token-for-tests" };
const VARS = { GREETING_TEXT: "שלום, זו שיחת בדיקה", LANGUAGE: "he-IL", TTS_VOICE: "he-IL-Wavenet-A" };
const GREETING_KEY = await greetingKey({ text: VARS.GREETING_TEXT, language: VARS.LANGUAGE, voice: VARS.TTS_VOICE, encoding: "MULAW", sampleRateHertz: 8000 });
/** 1000 bytes: six full 20 ms frames and a padded seventh. */
const GREETING_AUDIO = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
/** Generous: the greeting comes from a local KV read, but the machine may be loaded. */
const GREETING_BOUND_MS = 2_000;

/** Collects items as they arrive and lets a test await a condition on them, with a bound. */
class Inbox<T> {
  readonly items: T[] = [];
  private waiters: { test: (items: T[]) => boolean; resolve: () => void }[] = [];

  push(item: T): void {
    this.items.push(item);
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.test(this.items)) return true;
      waiter.resolve();
      return false;
    });
  }

  until(test: (items: T[]) => boolean, what: string, timeoutMs = 10_000): Promise<T[]> {
    if (test(this.items)) return Promise.resolve(this.items);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.items).slice(0, 1500)}`)),
        timeoutMs,
      );
      this.waiters.push({ test, resolve: () => (clearTimeout(timer), resolve(this.items)) });
    });
  }
}

interface FakeCoreCall {
  /** Call sid the edge's token was bound to. */
  tokenCallSid: string;
  socket: WebSocket;
  received: Inbox<string>;
  closed: Promise<number>;
}

/** The core as the edge sees it: GET /health, /greeting, /health/warmup and the /call WebSocket. */
async function startFakeCore() {
  const calls = new Inbox<FakeCoreCall>();
  const state = { greetingKey: GREETING_KEY, greetingRequests: 0, warmups: 0 };
  const sockets = new WebSocketServer({ noServer: true });
  const tokenOf = async (request: IncomingMessage) =>
    verifyCoreToken(SECRETS.CORE_SHARED_SECRET, request.headers.authorization?.replace(/^Bearer /, ""), Date.now());

  const server: Server = createServer(async (request, response) => {
    if (request.url === "/health") return void response.end(JSON.stringify({ ok: true }));
    const token = await tokenOf(request);
    if (!token.ok || token.callSid !== "warmup") return void response.writeHead(401).end();
    if (request.url === "/greeting") {
      state.greetingRequests++;
      response.writeHead(200, { "content-type": "application/octet-stream", [GREETING_KEY_HEADER]: state.greetingKey });
      return void response.end(GREETING_AUDIO);
    }
    if (request.url === "/health/warmup") {
      state.warmups++;
      return void response.end(JSON.stringify({ ok: true, tts_warmup_ms: 3 }));
    }
    response.writeHead(404).end();
  });
  server.on("upgrade", async (request, socket, head) => {
    const token = await tokenOf(request);
    if (request.url !== "/call" || !token.ok) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n");
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => {
      const received = new Inbox<string>();
      ws.on("message", (data, isBinary) => received.push(isBinary ? "<binary>" : data.toString()));
      const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
      calls.push({ tokenCallSid: token.callSid, socket: ws, received, closed });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    state,
    async close() {
      for (const client of sockets.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
type FakeCore = Awaited<ReturnType<typeof startFakeCore>>;

/** A Twilio Media Streams client: signed upgrade, then frames as Twilio writes them. */
class FakeTwilio {
  readonly received = new Inbox<string>();
  readonly streamSid: string;
  readonly closed: Promise<number>;
  private sequence = 0;
  private chunk = 0;

  private constructor(
    readonly socket: WebSocket,
    readonly callSid: string,
  ) {
    this.streamSid = `MZ${callSid.slice(2)}`;
    socket.on("message", (data, isBinary) => this.received.push(isBinary ? "<binary>" : data.toString()));
    this.closed = new Promise((resolve) => socket.on("close", (code) => resolve(code)));
  }

  static async connect(edge: RunningEdge, callSid: string): Promise<FakeTwilio> {
    const streamUrl = `${edge.url.replace(/^http/, "ws")}/twilio/media`;
    const signature = await twilioSignature(SECRETS.TWILIO_AUTH_TOKEN, streamUrl, {});
    const socket = new WebSocket(streamUrl, { headers: { "x-twilio-signature": signature } });
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    return new FakeTwilio(socket, callSid);
  }

  send(frame: object): string {
    const text = JSON.stringify(frame);
    this.socket.send(text);
    return text;
  }

  connected(): string {
    return this.send({ event: "connected", protocol: "Call", version: "1.0.0" });
  }

  start(): string {
    return this.send({
      event: "start",
      sequenceNumber: String(++this.sequence),
      streamSid: this.streamSid,
      start: {
        accountSid: "AC00000000000000000000000000000000",
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ["inbound"],
        customParameters: { callSid: this.callSid, from: "+972501234567", to: "+97231234567" },
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
      },
    });
  }

  media(): string {
    const chunk = ++this.chunk;
    return this.send({
      event: "media",
      sequenceNumber: String(++this.sequence),
      streamSid: this.streamSid,
      media: { track: "inbound", chunk: String(chunk), timestamp: String(chunk * 20), payload: toBase64(new Uint8Array(160).fill(0xff)) },
    });
  }
}

function event(text: string): string | undefined {
  return (JSON.parse(text) as { event?: string }).event;
}

function isGreetingMark(text: string): boolean {
  return text.includes('"event":"mark"') && text.includes('"name":"greeting"');
}

/** Fails the upgrade the way Twilio would see it: the HTTP status of the refusal. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once("unexpected-response", (request, response) => {
      resolve(response.statusCode ?? 0);
      request.destroy();
    });
    socket.on("error", () => {}); // the refused upgrade, already reported above
    socket.once("open", () => reject(new Error("upgrade was accepted")));
  });
}

describe("edge in workerd: a call", () => {
  let core: FakeCore;
  let edge: RunningEdge;
  const logs = new Inbox<EdgeLogLine>();

  beforeAll(async () => {
    core = await startFakeCore();
    edge = await startEdge({
      coreUrl: core.url,
      secrets: SECRETS,
      vars: VARS,
      kvSeed: { [GREETING_KEY]: GREETING_AUDIO },
      onLog: (line) => logs.push(line),
    });
  });
  afterAll(async () => {
    await edge?.close();
    await core?.close();
  });

  it("plays the KV greeting at once and relays frames verbatim both ways, dropping bad ones", async () => {
    const twilio = await FakeTwilio.connect(edge, "CA00000000000000000000000000000001");
    twilio.connected();
    const startedAt = performance.now();
    const start = twilio.start();
    // Sent while the core socket is still opening: the edge must buffer them, in order.
    const early = [twilio.media(), twilio.media()];
    twilio.socket.send(Buffer.from([1, 2, 3]));
    twilio.socket.send("this is not JSON");
    const late = [twilio.media(), twilio.media()];

    await twilio.received.until((frames) => frames.some(isGreetingMark), "the greeting mark");
    expect(performance.now() - startedAt).toBeLessThan(GREETING_BOUND_MS);
    const greeting = twilio.received.items.slice();
    expect(greeting).toHaveLength(8);
    const payloads = greeting.slice(0, 7).map((frame) => JSON.parse(frame) as { event: string; streamSid: string; media: { payload: string } });
    expect(payloads.every((frame) => frame.event === "media" && frame.streamSid === twilio.streamSid)).toBe(true);
    const heard = Buffer.concat(payloads.map((frame) => Buffer.from(frame.media.payload, "base64")));
    expect(heard.length).toBe(7 * 160);
    expect(heard.subarray(0, GREETING_AUDIO.length).equals(GREETING_AUDIO)).toBe(true);
    expect(heard.subarray(GREETING_AUDIO.length).every((byte) => byte === 0xff)).toBe(true);

    const call = (await core.calls.until((calls) => calls.length === 1, "the core call"))[0]!;
    expect(call.tokenCallSid).toBe(twilio.callSid);
    const toCore = await call.received.until((frames) => frames.length >= 6, "start, edge.greeting and 4 media frames");
    expect(toCore).toEqual([
      start,
      JSON.stringify({ event: "edge.greeting", played: true, text: VARS.GREETING_TEXT, mark: "greeting" }),
      ...early,
      ...late,
    ]);

    const fromCore = [
      JSON.stringify({ event: "media", streamSid: twilio.streamSid, media: { payload: toBase64(new Uint8Array(160).fill(0x7f)) } }),
      JSON.stringify({ event: "mark", streamSid: twilio.streamSid, mark: { name: "1.end" } }),
    ];
    call.socket.send(JSON.stringify({ event: "core.note", detail: "for the edge only" }));
    for (const frame of fromCore) call.socket.send(frame);
    const heardAll = await twilio.received.until((frames) => frames.length >= 10, "the core's frames");
    // Same socket, same order: had the control message been relayed it would sit before these.
    expect(heardAll.slice(8)).toEqual(fromCore);

    await logs.until(
      (lines) => ["binary frame", "not a Twilio frame"].every((reason) => lines.some((l) => l.json?.message === "frame dropped" && l.json.reason === reason)),
      "a logged reason for each dropped frame",
    );

    twilio.socket.close(1000);
    await call.closed;
    await logs.until((lines) => lines.some((l) => l.json?.message === "call ended" && l.json.reason === "caller hung up"), "the call-ended line");
  });

  it("hangs up the caller when the core drops the call", async () => {
    const twilio = await FakeTwilio.connect(edge, "CA00000000000000000000000000000002");
    twilio.start();
    const call = (await core.calls.until((calls) => calls.length === 2, "the second core call"))[1]!;
    await call.received.until((frames) => frames.length >= 2, "start and edge.greeting");
    call.socket.close(1011, "core crashed");
    await twilio.closed;
    const ended = await logs.until(
      (lines) => lines.some((l) => l.json?.message === "call ended" && l.json.call_id === twilio.callSid),
      "the call-ended line",
    );
    expect(ended.find((l) => l.json?.call_id === twilio.callSid && l.json.message === "call ended")?.json).toMatchObject({
      reason: "core closed",
      coreCloseCode: 1011,
    });
  });

  it("refuses an unsigned or wrongly signed stream upgrade with 403", async () => {
    const streamUrl = `${edge.url.replace(/^http/, "ws")}/twilio/media`;
    expect(await upgradeStatus(streamUrl, {})).toBe(403);
    const signedElsewhere = await twilioSignature(SECRETS.TWILIO_AUTH_TOKEN, "wss://elsewhere.example/twilio/media", {});
    expect(await upgradeStatus(streamUrl, { "x-twilio-signature": signedElsewhere })).toBe(403);
  });
});

describe("edge in workerd: warmup fills the greeting", () => {
  let core: FakeCore;
  let edge: RunningEdge;
  const warmup = async () => {
    const response = await fetch(`${edge.url}/health/warmup`, { headers: { authorization: `Bearer ${SECRETS.DEPLOY_TOKEN}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  };

  beforeAll(async () => {
    core = await startFakeCore();
    edge = await startEdge({ coreUrl: core.url, secrets: SECRETS, vars: VARS, onLog: () => {} });
  });
  afterAll(async () => {
    await edge?.close();
    await core?.close();
  });

  it("tells the core the greeting was not played while KV lacks it", async () => {
    const twilio = await FakeTwilio.connect(edge, "CA00000000000000000000000000000003");
    twilio.start();
    const call = (await core.calls.until((calls) => calls.length === 1, "the core call"))[0]!;
    const toCore = await call.received.until((frames) => frames.length >= 2, "start and edge.greeting");
    expect(JSON.parse(toCore[1]!)).toEqual({ event: "edge.greeting", played: false, text: VARS.GREETING_TEXT, mark: "greeting" });
    expect(twilio.received.items).toEqual([]);
    twilio.socket.close(1000);
    await call.closed;
  });

  it("refuses to store a greeting whose key differs from the edge's", async () => {
    core.state.greetingKey = "greeting:0000";
    const report = await warmup();
    expect(report).toMatchObject({
      ok: false,
      greeting_cached: false,
      greeting_error: `key mismatch: core says greeting:0000, edge expects ${GREETING_KEY}`,
    });
    expect(await edge.kv.get(GREETING_KEY)).toBeNull();
  });

  it("pulls the greeting from the core into KV once, then finds it cached", async () => {
    core.state.greetingKey = GREETING_KEY;
    const requestsBefore = core.state.greetingRequests;
    const first = await warmup();
    expect(first).toMatchObject({ ok: true, greeting_key: GREETING_KEY, greeting_cached: false, core_ok: true, core: { ok: true, tts_warmup_ms: 3 } });
    expect(first.greeting_ms).toEqual(expect.any(Number));
    expect(first.core_warmup_ms).toEqual(expect.any(Number));
    expect(await edge.kv.get(GREETING_KEY)).toEqual(GREETING_AUDIO);

    const second = await warmup();
    expect(second).toMatchObject({ ok: true, greeting_cached: true });
    expect(core.state.greetingRequests).toBe(requestsBefore + 1);
    expect(core.state.warmups).toBe(3); // the mismatch run warmed the core too
  });

  it("reports the core healthy on /health, and stops workerd on close", async () => {
    const health = await (await fetch(`${edge.url}/health`)).json();
    expect(health).toMatchObject({ ok: true, edge: "up", core: { ok: true } });
    const url = edge.url;
    await edge.close();
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
