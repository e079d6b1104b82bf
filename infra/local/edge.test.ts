// The edge in real workerd (via startEdge), between a WebSocket client playing Twilio and a small
// fake core on 127.0.0.1 that checks the edge's core token like the real one must.
import { createHash, createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { CORE_RECORD_PATH, FRAME_BYTES, MULAW_SILENCE, PHRASE_KEY_HEADER, phraseKey, toBase64, verifyCoreToken, type CoreTokenPurpose } from "@voice/protocol";
import { connectedMessage, mediaMessage, stopMessage, type StreamIds } from "../twilio/media-stream-frames.js";
import { LOCAL_ACCOUNT_SID, signedStart } from "../twilio/stream-start.js";
import type { StartFrame } from "@voice/protocol/twilio";
import { readWranglerConfig, startEdge, type EdgeLogLine, type EdgeVarOverrides, type RunningEdge } from "./edge.js";

const SECRETS = {
  TWILIO_AUTH_TOKEN: "twilio-token-for-tests",
  CORE_SHARED_SECRET: "core-secret-for-tests",
  DEPLOY_TOKEN: "deploy-token-for-tests",
  STREAM_TOKEN_SECRET: "stream-token-secret-for-tests",
};
const VARS = { GREETING_TEXT: "שלום, זו שיחת בדיקה", HOLD_TEXT: "רגע, בדיקה", LANGUAGE: "he-IL", TTS_VOICE: "he-IL-Wavenet-A" };

function keyOf(text: string): Promise<string> {
  return phraseKey({ text, language: VARS.LANGUAGE, voice: VARS.TTS_VOICE, encoding: "MULAW", sampleRateHertz: 8000 });
}

/** What the fake core "synthesizes": 1000 bytes (six full 20 ms frames and a padded seventh) derived from the text. */
function phraseAudio(text: string): Uint8Array {
  const digest = createHash("sha256").update(text).digest();
  return Uint8Array.from({ length: 1000 }, (_, i) => digest[i % digest.length]!);
}

const GREETING_AUDIO = phraseAudio(VARS.GREETING_TEXT);
const HOLD_AUDIO = phraseAudio(VARS.HOLD_TEXT);
const PHRASES_IN_KV = { [await keyOf(VARS.GREETING_TEXT)]: GREETING_AUDIO, [await keyOf(VARS.HOLD_TEXT)]: HOLD_AUDIO };
/** Generous: the greeting comes from a local KV read, but the machine may be loaded. */
const GREETING_BOUND_MS = 2_000;
/** The bound from `start` to the greeting's first frame, held by the fastest of a few calls. */
const GREETING_FIRST_FRAME_MS = 50;

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

/** How the fake core meets a call socket: answer it, never answer (a cold core), or refuse it (503). */
type UpgradeMode = "accept" | "hang" | "refuse";

/** The core as the edge sees it: GET /health, /phrase, /health/warmup and the /call WebSocket. */
async function startFakeCore() {
  const calls = new Inbox<FakeCoreCall>();
  /** Call sids of upgrades left unanswered in "hang" mode. */
  const hung = new Inbox<string>();
  const hungSockets: Socket[] = [];
  const state = { upgrades: "accept" as UpgradeMode, keyOverride: undefined as string | undefined, phraseRequests: [] as string[], warmups: 0 };
  const sockets = new WebSocketServer({ noServer: true });
  const tokenOf = async (request: IncomingMessage, purpose: CoreTokenPurpose) =>
    verifyCoreToken(SECRETS.CORE_SHARED_SECRET, purpose, request.headers.authorization?.replace(/^Bearer /, ""), Date.now());

  const server: Server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://core");
    if (url.pathname === "/health") return void response.end(JSON.stringify({ status: "ok" }));
    const token = await tokenOf(request, url.pathname === "/phrase" ? "phrase" : "warmup");
    if (!token.ok || token.callSid !== "warmup") return void response.writeHead(401).end();
    if (url.pathname === "/phrase") {
      const text = url.searchParams.get("text");
      if (!text) return void response.writeHead(400).end(JSON.stringify({ error: "text is required" }));
      state.phraseRequests.push(text);
      response.writeHead(200, { "content-type": "application/octet-stream", [PHRASE_KEY_HEADER]: state.keyOverride ?? (await keyOf(text)) });
      return void response.end(phraseAudio(text));
    }
    if (url.pathname === "/health/warmup") {
      state.warmups++;
      return void response.end(JSON.stringify({ ok: true, tts_warmup_ms: 3 }));
    }
    response.writeHead(404).end();
  });
  server.on("upgrade", async (request, socket: Socket, head) => {
    const token = await tokenOf(request, "call");
    if (request.url !== "/call" || !token.ok) return void socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n");
    if (state.upgrades === "hang") {
      hungSockets.push(socket);
      return void hung.push(token.callSid);
    }
    if (state.upgrades === "refuse") return void socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n");
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
    state,
    hung,
    /** The `index`-th call socket the edge opened for `callSid` (0: the first; 1: the first re-open...). */
    async call(callSid: string, index = 0): Promise<FakeCoreCall> {
      const ofCall = (items: FakeCoreCall[]) => items.filter((call) => call.tokenCallSid === callSid);
      return ofCall(await calls.until((items) => ofCall(items).length > index, `core call #${index} of ${callSid}`))[index]!;
    },
    async close() {
      for (const client of sockets.clients) client.terminate();
      for (const socket of hungSockets) socket.destroy();
      server.closeAllConnections();
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
  private tick = 0;

  private constructor(
    readonly socket: WebSocket,
    readonly callSid: string,
    /** Its `start`, with the stream token the edge's webhook would have minted for the call. */
    private readonly startFrame: StartFrame,
  ) {
    this.streamSid = `MZ${callSid.slice(2)}`;
    socket.on("message", (data, isBinary) => this.received.push(isBinary ? "<binary>" : data.toString()));
    this.closed = new Promise((resolve) => socket.on("close", (code) => resolve(code)));
  }

  static async connect(edge: RunningEdge, callSid: string): Promise<FakeTwilio> {
    const streamUrl = `${edge.url.replace(/^http/, "ws")}/twilio/media`;
    // As Twilio documents it, computed here independently of the edge's code: base64 HMAC-SHA1 of
    // the full URL (a WebSocket upgrade has no POST parameters to append) keyed with the auth token.
    const signature = createHmac("sha1", SECRETS.TWILIO_AUTH_TOKEN).update(streamUrl).digest("base64");
    const socket = new WebSocket(streamUrl, { headers: { "x-twilio-signature": signature } });
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    const ids = { accountSid: LOCAL_ACCOUNT_SID, callSid, streamSid: `MZ${callSid.slice(2)}` };
    const start = await signedStart(ids, SECRETS.STREAM_TOKEN_SECRET, { customParameters: { from: "+972501234567", to: "+97231234567" } });
    return new FakeTwilio(socket, callSid, start);
  }

  send(frame: object): string {
    const text = JSON.stringify(frame);
    this.socket.send(text);
    return text;
  }

  private get ids(): StreamIds {
    return { accountSid: LOCAL_ACCOUNT_SID, callSid: this.callSid, streamSid: this.streamSid };
  }

  connected(): string {
    return this.send(connectedMessage());
  }

  start(): string {
    return this.send({ ...this.startFrame, sequenceNumber: String(++this.sequence) });
  }

  media(): string {
    return this.send(mediaMessage(++this.sequence, this.streamSid, this.tick++, new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE)));
  }

  stop(): string {
    return this.send(stopMessage(++this.sequence, this.ids));
  }

  /** Connects, starts the stream and waits for the greeting's mark; returns the start frame's text. */
  static async greeted(edge: RunningEdge, callSid: string): Promise<{ twilio: FakeTwilio; start: string }> {
    const twilio = await FakeTwilio.connect(edge, callSid);
    const start = twilio.start();
    await twilio.received.until((frames) => frames.some(isGreetingMark), "the greeting mark");
    return { twilio, start };
  }
}

function isGreetingMark(text: string): boolean {
  return text.includes('"event":"mark"') && text.includes('"name":"greeting"');
}

/** The audio carried by a run of outbound `media` frames. */
function heardAudio(frames: string[]): Buffer {
  return Buffer.concat(
    frames.map((frame) => {
      const parsed = JSON.parse(frame) as { event: string; media?: { payload: string } };
      expect(parsed.event).toBe("media");
      return Buffer.from(parsed.media!.payload, "base64");
    }),
  );
}

/** Phrase audio as the caller hears it: whole 20 ms frames, the last one padded with silence. */
function asFrames(audio: Uint8Array): Buffer {
  const padded = Buffer.alloc(Math.ceil(audio.length / 160) * 160, 0xff);
  padded.set(audio);
  return padded;
}

function coreMedia(streamSid: string, byte: number): string {
  return JSON.stringify({ event: "media", streamSid, media: { payload: toBase64(new Uint8Array(160).fill(byte)) } });
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

/** The edge's log line `message` about `callSid`, once it is written. */
async function logLine(logs: Inbox<EdgeLogLine>, callSid: string, message: string): Promise<Record<string, unknown>> {
  const find = (lines: EdgeLogLine[]) => lines.find((line) => line.json?.call_id === callSid && line.json.message === message);
  return find(await logs.until((lines) => find(lines) !== undefined, `"${message}" of ${callSid}`))!.json!;
}

async function startTestEdge(core: FakeCore, vars: EdgeVarOverrides, options: { seeded: boolean; logs?: Inbox<EdgeLogLine> }) {
  return startEdge({
    coreUrl: core.url,
    secrets: SECRETS,
    vars,
    ...(options.seeded && { kvSeed: PHRASES_IN_KV }),
    onLog: (line) => options.logs?.push(line),
  });
}

describe("edge in workerd: a call", () => {
  let core: FakeCore;
  let edge: RunningEdge;
  const logs = new Inbox<EdgeLogLine>();

  beforeAll(async () => {
    core = await startFakeCore();
    edge = await startTestEdge(core, VARS, { seeded: true, logs });
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
    expect(greeting.every((frame) => (JSON.parse(frame) as { streamSid: string }).streamSid === twilio.streamSid)).toBe(true);
    expect(heardAudio(greeting.slice(0, 7))).toEqual(asFrames(GREETING_AUDIO));

    const call = await core.call(twilio.callSid);
    const toCore = await call.received.until((frames) => frames.length >= 6, "start, edge.greeting and 4 media frames");
    expect(toCore).toEqual([
      start,
      JSON.stringify({ event: "edge.greeting", played: true, text: VARS.GREETING_TEXT, mark: "greeting", recordUrl: `${edge.url}${CORE_RECORD_PATH}` }),
      ...early,
      ...late,
    ]);

    const fromCore = [coreMedia(twilio.streamSid, 0x7f), JSON.stringify({ event: "mark", streamSid: twilio.streamSid, mark: { name: "1.end" } })];
    call.socket.send(JSON.stringify({ event: "core.note", detail: "for the edge only" }));
    call.socket.send(JSON.stringify({ event: "core.state", state: { turns: 0, history: [] } }));
    for (const frame of fromCore) call.socket.send(frame);
    const heardAll = await twilio.received.until((frames) => frames.length >= 10, "the core's frames");
    // Same socket, same order: had a control message been relayed it would sit before these.
    expect(heardAll.slice(8)).toEqual(fromCore);

    await logs.until(
      (lines) => ["binary frame", "not a Twilio frame"].every((reason) => lines.some((l) => l.json?.message === "frame dropped" && l.json.reason === reason)),
      "a logged reason for each dropped frame",
    );

    twilio.socket.close(1000);
    await call.closed;
    expect(await logLine(logs, twilio.callSid, "call ended")).toMatchObject({ reason: "caller hung up" });
  });

  it.each([
    { coreCode: 1000, callerCode: 1000, reason: "core ended the call", n: 2 },
    { coreCode: 1008, callerCode: 1011, reason: "core refused the call", n: 3 },
  ])("ends the call when the core closes the link with $coreCode", async ({ coreCode, callerCode, reason, n }) => {
    const twilio = await FakeTwilio.connect(edge, `CA0000000000000000000000000000000${n}`);
    twilio.start();
    const call = await core.call(twilio.callSid);
    await call.received.until((frames) => frames.length >= 2, "start and edge.greeting");
    call.socket.close(coreCode, "done");
    expect(await twilio.closed).toBe(callerCode);
    expect(await logLine(logs, twilio.callSid, "call ended")).toMatchObject({ reason, coreCloseCode: coreCode });
  });

  it("refuses an unsigned or wrongly signed stream upgrade with 403", async () => {
    const streamUrl = `${edge.url.replace(/^http/, "ws")}/twilio/media`;
    expect(await upgradeStatus(streamUrl, {})).toBe(403);
    const signedElsewhere = createHmac("sha1", SECRETS.TWILIO_AUTH_TOKEN).update("wss://elsewhere.example/twilio/media").digest("base64");
    expect(await upgradeStatus(streamUrl, { "x-twilio-signature": signedElsewhere })).toBe(403);
    const signedWithAnotherToken = createHmac("sha1", "not-the-token").update(streamUrl).digest("base64");
    expect(await upgradeStatus(streamUrl, { "x-twilio-signature": signedWithAnotherToken })).toBe(403);
  });

  it("keeps the call through an abnormal core loss: hold phrase, then start + edge.resume with the latest state", async () => {
    const { twilio, start } = await FakeTwilio.greeted(edge, "CA00000000000000000000000000000004");
    const first = await core.call(twilio.callSid);
    await first.received.until((frames) => frames.length >= 2, "start and edge.greeting");
    const latest = { turns: 1, history: [{ role: "user", content: "שלום" }, { role: "assistant", content: "שלום, במה אפשר לעזור?" }] };
    first.socket.send(JSON.stringify({ event: "core.state", state: { turns: 0, history: [{ role: "user", content: "שלום" }] } }));
    first.socket.send(JSON.stringify({ event: "core.state", state: latest }));
    // Its arrival proves the edge has taken both states (same socket, in order) before the crash.
    const beforeCrash = coreMedia(twilio.streamSid, 0x11);
    first.socket.send(beforeCrash);
    const upToCrash = (await twilio.received.until((frames) => frames.includes(beforeCrash), "the core's frame")).length;
    first.socket.terminate();

    const hold = (await twilio.received.until((frames) => frames.length >= upToCrash + 7, "the hold phrase")).slice(upToCrash);
    expect(heardAudio(hold)).toEqual(asFrames(HOLD_AUDIO));

    const second = await core.call(twilio.callSid, 1);
    const handover = await second.received.until((frames) => frames.length >= 2, "start and edge.resume on the new link");
    expect(handover[0]).toBe(start);
    expect(JSON.parse(handover[1]!)).toEqual({ event: "edge.resume", state: latest, attempt: 1, recordUrl: `${edge.url}${CORE_RECORD_PATH}` });
    expect(await logLine(logs, twilio.callSid, "core re-opened")).toMatchObject({ cause: "lost", attempt: 1, turns: 1 });

    const media = twilio.media();
    await second.received.until((frames) => frames.includes(media), "caller media on the new link");
    const answer = coreMedia(twilio.streamSid, 0x22);
    second.socket.send(answer);
    await twilio.received.until((frames) => frames.includes(answer), "the new core's media");
    twilio.socket.close(1000);
    await second.closed;
  });

  it("moves the call on core.move without playing the hold phrase", async () => {
    const { twilio, start } = await FakeTwilio.greeted(edge, "CA00000000000000000000000000000005");
    const first = await core.call(twilio.callSid);
    await first.received.until((frames) => frames.length >= 2, "start and edge.greeting");
    const heardBefore = twilio.received.items.length;
    const state = { turns: 2, history: [{ role: "user", content: "מתי אתם פתוחים?" }] };
    first.socket.send(JSON.stringify({ event: "core.state", state }));
    first.socket.send(JSON.stringify({ event: "core.move", reason: "draining" }));
    first.socket.close(1012, "moving");

    const second = await core.call(twilio.callSid, 1);
    const handover = await second.received.until((frames) => frames.length >= 2, "start and edge.resume on the new link");
    expect(handover[0]).toBe(start);
    expect(JSON.parse(handover[1]!)).toEqual({ event: "edge.resume", state, attempt: 1, recordUrl: `${edge.url}${CORE_RECORD_PATH}` });
    const answer = coreMedia(twilio.streamSid, 0x33);
    second.socket.send(answer);
    // Anything the edge played on the move would have reached the caller before this frame.
    const heard = await twilio.received.until((frames) => frames.includes(answer), "the new core's media");
    expect(heard.slice(heardBefore)).toEqual([answer]);
    expect(await logLine(logs, twilio.callSid, "core re-opened")).toMatchObject({ cause: "moved", attempt: 1 });
    twilio.socket.close(1000);
    await second.closed;
  });

  it("ends the call on the caller's stop while the core is away, counting the caller media it dropped", async () => {
    const { twilio } = await FakeTwilio.greeted(edge, "CA00000000000000000000000000000006");
    const first = await core.call(twilio.callSid);
    await first.received.until((frames) => frames.length >= 2, "start and edge.greeting");
    core.state.upgrades = "refuse";
    try {
      first.socket.terminate();
      await logLine(logs, twilio.callSid, "core re-open failed");
      twilio.media();
      twilio.media();
      twilio.stop();
      expect(await twilio.closed).toBe(1000);
      expect(await logLine(logs, twilio.callSid, "call ended")).toMatchObject({
        reason: "caller stopped while the core was away",
        droppedWhileAway: 2,
        reopens: 0,
      });
    } finally {
      core.state.upgrades = "accept";
    }
  });
});

describe("edge in workerd: a cold core and a short reconnect budget", () => {
  let core: FakeCore;
  let edge: RunningEdge;
  const logs = new Inbox<EdgeLogLine>();

  beforeAll(async () => {
    core = await startFakeCore();
    edge = await startTestEdge(core, { ...VARS, RECONNECT_BUDGET_MS: "300" }, { seeded: true, logs });
  });
  afterAll(async () => {
    await edge?.close();
    await core?.close();
  });

  it(`sends the greeting's first frame within ${GREETING_FIRST_FRAME_MS} ms of start while the core has not answered`, async () => {
    core.state.upgrades = "hang";
    const delays: number[] = [];
    for (const n of [1, 2, 3]) {
      const twilio = await FakeTwilio.connect(edge, `CA1000000000000000000000000000000${n}`);
      const startedAt = performance.now();
      twilio.start();
      await twilio.received.until((frames) => frames.length >= 1, "the greeting's first frame");
      delays.push(performance.now() - startedAt);
      // The edge did go to the core for this call, and the core never answered it.
      await core.hung.until((sids) => sids.includes(twilio.callSid), "the edge's upgrade request to the cold core");
      const greeting = await twilio.received.until((frames) => frames.some(isGreetingMark), "the greeting mark");
      expect(heardAudio(greeting.slice(0, 7))).toEqual(asFrames(GREETING_AUDIO));
      twilio.socket.close(1000);
    }
    expect(Math.max(...delays)).toBeLessThan(GREETING_BOUND_MS);
    expect(Math.min(...delays)).toBeLessThanOrEqual(GREETING_FIRST_FRAME_MS);
    core.state.upgrades = "accept";
  });

  it("hangs up with 1011 and one ERROR line when the core does not come back within the budget", async () => {
    const { twilio } = await FakeTwilio.greeted(edge, "CA20000000000000000000000000000001");
    const first = await core.call(twilio.callSid);
    await first.received.until((frames) => frames.length >= 2, "start and edge.greeting");
    core.state.upgrades = "refuse";
    try {
      first.socket.terminate();
      expect(await twilio.closed).toBe(1011);
      const ended = await logLine(logs, twilio.callSid, "call ended");
      expect(ended).toMatchObject({ severity: "ERROR", reason: "core did not come back", cause: "lost" });
      expect(logs.items.filter((line) => line.json?.call_id === twilio.callSid && line.json.severity === "ERROR")).toHaveLength(1);
    } finally {
      core.state.upgrades = "accept";
    }
  });

  it("re-opens a call at most five times", async () => {
    const { twilio } = await FakeTwilio.greeted(edge, "CA20000000000000000000000000000002");
    for (let reopen = 1; reopen <= 5; reopen++) {
      (await core.call(twilio.callSid, reopen - 1)).socket.terminate();
      const next = await core.call(twilio.callSid, reopen);
      const handover = await next.received.until((frames) => frames.length >= 2, `re-open ${reopen}`);
      expect(JSON.parse(handover[1]!)).toMatchObject({ event: "edge.resume", attempt: reopen });
    }
    (await core.call(twilio.callSid, 5)).socket.terminate();
    expect(await twilio.closed).toBe(1011);
    expect(await logLine(logs, twilio.callSid, "call ended")).toMatchObject({ severity: "ERROR", reason: "core lost too often", reopens: 5 });
  });
});

describe("edge in workerd: warmup fills the phrases", () => {
  let core: FakeCore;
  let edge: RunningEdge;
  const warmup = async (target = edge) => {
    const response = await fetch(`${target.url}/health/warmup`, { headers: { authorization: `Bearer ${SECRETS.DEPLOY_TOKEN}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  };
  /** The greeting a new call on `target` hears. */
  const greetingHeard = async (target: RunningEdge, callSid: string) => {
    const { twilio } = await FakeTwilio.greeted(target, callSid);
    const heard = heardAudio(twilio.received.items.filter((frame) => !isGreetingMark(frame)));
    twilio.socket.close(1000);
    return heard;
  };

  beforeAll(async () => {
    core = await startFakeCore();
    edge = await startTestEdge(core, VARS, { seeded: false });
  });
  afterAll(async () => {
    await edge?.close();
    await core?.close();
  });

  it("tells the core the greeting was not played while KV lacks it", async () => {
    const twilio = await FakeTwilio.connect(edge, "CA30000000000000000000000000000001");
    twilio.start();
    const call = await core.call(twilio.callSid);
    const toCore = await call.received.until((frames) => frames.length >= 2, "start and edge.greeting");
    expect(JSON.parse(toCore[1]!)).toEqual({ event: "edge.greeting", played: false, text: VARS.GREETING_TEXT, mark: "greeting", recordUrl: `${edge.url}${CORE_RECORD_PATH}` });
    expect(twilio.received.items).toEqual([]);
    twilio.socket.close(1000);
    await call.closed;
  });

  it("refuses to store a phrase whose key differs from the edge's", async () => {
    core.state.keyOverride = "phrase:0000";
    const report = await warmup();
    const greetingKey = await keyOf(VARS.GREETING_TEXT);
    expect(report).toMatchObject({
      ok: false,
      greeting_cached: false,
      greeting_error: `key mismatch: core says phrase:0000, edge expects ${greetingKey}`,
      hold_cached: false,
      hold_error: expect.stringContaining("key mismatch"),
    });
    expect(await edge.kv.get(greetingKey)).toBeNull();
    expect(await edge.kv.get(await keyOf(VARS.HOLD_TEXT))).toBeNull();
    core.state.keyOverride = undefined;
  });

  it("pulls both phrases from the core into KV once, then finds them cached", async () => {
    core.state.phraseRequests = [];
    const first = await warmup();
    expect(first).toMatchObject({
      ok: true,
      greeting_key: await keyOf(VARS.GREETING_TEXT),
      greeting_cached: false,
      hold_key: await keyOf(VARS.HOLD_TEXT),
      hold_cached: false,
      tts_warmup_ms: 3,
      core_ok: true,
      core: { ok: true, tts_warmup_ms: 3 },
    });
    expect(first.core_warmup_ms).toEqual(expect.any(Number));
    expect(core.state.phraseRequests.sort()).toEqual([VARS.GREETING_TEXT, VARS.HOLD_TEXT].sort());
    expect(await edge.kv.get(await keyOf(VARS.HOLD_TEXT))).toEqual(HOLD_AUDIO);

    const second = await warmup();
    expect(second).toMatchObject({ ok: true, greeting_cached: true, hold_cached: true });
    expect(core.state.phraseRequests).toHaveLength(2);
    expect(core.state.warmups).toBe(3); // the mismatch run warmed the core too
    expect(await greetingHeard(edge, "CA30000000000000000000000000000002")).toEqual(asFrames(GREETING_AUDIO));
  });

  it("gives a changed GREETING_TEXT a new key and new audio", async () => {
    const text = "ברוכים הבאים, זו ברכה אחרת";
    const changed = await startTestEdge(core, { ...VARS, GREETING_TEXT: text }, { seeded: false });
    try {
      const report = await warmup(changed);
      expect(report).toMatchObject({ ok: true, greeting_key: await keyOf(text), greeting_cached: false, hold_key: await keyOf(VARS.HOLD_TEXT) });
      expect(report.greeting_key).not.toBe(await keyOf(VARS.GREETING_TEXT));
      const heard = await greetingHeard(changed, "CA30000000000000000000000000000003");
      expect(heard).toEqual(asFrames(phraseAudio(text)));
      expect(heard).not.toEqual(asFrames(GREETING_AUDIO));
    } finally {
      await changed.close();
    }
  });

  it("reports the core healthy on /health (details to the deploy token only), and stops workerd on close", async () => {
    expect(await (await fetch(`${edge.url}/health`)).json()).toEqual({ status: "ok" });
    const health = await (await fetch(`${edge.url}/health`, { headers: { Authorization: `Bearer ${SECRETS.DEPLOY_TOKEN}` } })).json();
    expect(health).toMatchObject({ status: "ok", edge: "up", core: { ok: true } });
    const url = edge.url;
    await edge.close();
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});

describe("edge configuration", () => {
  it("keeps secrets out of wrangler.toml", async () => {
    const { vars } = await readWranglerConfig();
    for (const secret of Object.keys(SECRETS)) expect(vars).not.toHaveProperty(secret);
  });
});
