// A normal call and a hostile one on the same worker, in workerd. The hostile caller sends every
// kind of bad input in turn; it must get the defined outcome (dropped with a logged reason, or its
// socket closed with the limit's code) while the normal call relays every frame, both ways, in order.
//
// The core is faked inside this isolate: the worker's fetch of CORE_URL + "/call" is answered with
// one end of a WebSocketPair (after checking the core token, as the core does). Everything between
// the two sockets is the worker's own code on workerd's WebSockets; infra/local/edge.test.ts runs
// the same relay over real TCP to a Node fake core.
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { verifyCoreToken } from "@voice/protocol/core-token";
import { toBase64 } from "@voice/protocol/crypto";
import { CLOSE_POLICY_VIOLATION, CLOSE_TOO_BIG } from "@voice/protocol/limits";
import { twilioSignature } from "@voice/protocol/twilio-signature";
import { markMessage, mediaMessage, stopMessage, type StreamIds } from "../../infra/twilio/media-stream-frames.js";
import { LOCAL_ACCOUNT_SID, signedStart } from "../../infra/twilio/stream-start.js";
import type { StartFrame } from "@voice/protocol/twilio";
import type { Env } from "./env.js";
import app from "./index.js";
import { mediaStreamUrl } from "./signature.js";

const CORE_URL = "http://core.hostile.test";
/** 20 ms of mu-law silence, as Twilio sends it. */
const SILENCE = toBase64(new Uint8Array(160).fill(0xff));
/**
 * Small limits, so a flood is quick to make: media may run 1 s (50 frames) ahead of real time, and
 * with FLOOD_CLOSE_AFTER_S=1 a second of dropping closes the call.
 */
const MAX_FRAMES_PER_SECOND = 40;
const MAX_AUDIO_BACKLOG_MS = 1000;
const TEST_ENV: Env = {
  ...env,
  CORE_URL,
  MAX_FRAMES_PER_SECOND: String(MAX_FRAMES_PER_SECOND),
  MAX_AUDIO_BACKLOG_MS: String(MAX_AUDIO_BACKLOG_MS),
  FLOOD_CLOSE_AFTER_S: "1",
  MAX_FRAME_CHARS: "8192",
};

/** Collects items as they arrive and lets a test await a condition on them, with a bound. */
class Inbox<T> {
  readonly items: T[] = [];
  private waiters: { test: (items: T[]) => boolean; resolve: () => void }[] = [];

  push(item: T): void {
    this.items.push(item);
    this.waiters = this.waiters.filter((waiter) => !(waiter.test(this.items) && (waiter.resolve(), true)));
  }

  until(test: (items: T[]) => boolean, what: string, timeoutMs = 5_000): Promise<T[]> {
    if (test(this.items)) return Promise.resolve(this.items);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.items).slice(0, 800)}`)), timeoutMs);
      this.waiters.push({ test, resolve: () => (clearTimeout(timer), resolve(this.items)) });
    });
  }
}

/** One end of a WebSocket in the test: what arrived, and how it closed. */
class Peer {
  readonly received = new Inbox<string>();
  readonly closed: Promise<number>;
  closeCode: number | undefined;

  constructor(readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => this.received.push(typeof event.data === "string" ? event.data : "<binary>"));
    this.closed = new Promise((resolve) =>
      socket.addEventListener("close", (event) => {
        this.closeCode = event.code;
        socket.close(); // workerd wants both ends closed
        resolve(event.code);
      }),
    );
    socket.accept();
  }

  send(frame: string | object | ArrayBuffer): string {
    const data = typeof frame === "string" || frame instanceof ArrayBuffer ? frame : JSON.stringify(frame);
    this.socket.send(data);
    return typeof data === "string" ? data : "<binary>";
  }
}

/** The core as the worker sees it: a socket per call, opened only with a valid core token; it ends the call on `stop`, as the core does. */
class FakeCore {
  private readonly calls = new Inbox<{ callSid: string; peer: Peer }>();

  async accept(request: Request): Promise<Response> {
    const token = await verifyCoreToken(env.CORE_SHARED_SECRET, "call", request.headers.get("authorization")?.replace(/^Bearer /, ""), Date.now());
    if (!token.ok || new URL(request.url).pathname !== "/call") return new Response(null, { status: 401 });
    const [worker, core] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    const peer = new Peer(core);
    peer.received.until((frames) => frames.some((frame) => frame.startsWith('{"event":"stop"')), "stop", 60_000).then(
      () => core.close(1000, "call stopped"),
      () => {},
    );
    this.calls.push({ callSid: token.callSid, peer });
    return new Response(null, { status: 101, webSocket: worker });
  }

  async call(callSid: string): Promise<Peer> {
    const calls = await this.calls.until((items) => items.some((call) => call.callSid === callSid), `the core link of ${callSid}`);
    return calls.find((call) => call.callSid === callSid)!.peer;
  }
}

class Twilio extends Peer {
  private sequence = 0;

  constructor(
    socket: WebSocket,
    readonly callSid: string,
    /** Its `start`, with the stream token our webhook would have minted for the call. */
    private readonly startFrame: StartFrame,
  ) {
    super(socket);
  }

  get streamSid(): string {
    return `MZ${this.callSid.slice(2)}`;
  }

  static async connect(callSid: string, workerEnv = TEST_ENV): Promise<Twilio> {
    const signature = await twilioSignature(env.TWILIO_AUTH_TOKEN, mediaStreamUrl(workerEnv.PUBLIC_URL), {});
    const request = new Request("http://edge.internal/twilio/media", { headers: { upgrade: "websocket", "x-twilio-signature": signature } });
    const response = await app.fetch(request, workerEnv);
    expect(response.status).toBe(101);
    const ids = { accountSid: LOCAL_ACCOUNT_SID, callSid, streamSid: `MZ${callSid.slice(2)}` };
    return new Twilio(response.webSocket!, callSid, await signedStart(ids, env.STREAM_TOKEN_SECRET, { customParameters: { from: "+972501234567" } }));
  }

  private get ids(): StreamIds {
    return { accountSid: LOCAL_ACCOUNT_SID, callSid: this.callSid, streamSid: this.streamSid };
  }

  start(): string {
    return this.send({ ...this.startFrame, sequenceNumber: String(++this.sequence) });
  }

  /** A media frame carrying `payload` as given (hostile steps send payloads that are not audio). */
  media(payload = SILENCE): string {
    const n = ++this.sequence;
    const frame = mediaMessage(n, this.streamSid, n, new Uint8Array(0));
    return this.send({ ...frame, media: { ...frame.media, payload } });
  }

  mark(name: string): string {
    return this.send(markMessage(++this.sequence, this.streamSid, name));
  }

  stop(): string {
    return this.send(stopMessage(++this.sequence, this.ids));
  }

  get open(): boolean {
    return this.closeCode === undefined;
  }
}

describe("a hostile caller next to a normal call", () => {
  const core = new FakeCore();
  const logs = new Inbox<Record<string, unknown>>();
  const realFetch = globalThis.fetch;

  beforeAll(() => {
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      const request = new Request(input, init);
      return request.url.startsWith(CORE_URL) ? core.accept(request) : realFetch(input, init);
    });
    const capture = (line: unknown) => logs.push(typeof line === "string" && line.startsWith("{") ? (JSON.parse(line) as Record<string, unknown>) : { raw: line });
    vi.spyOn(console, "log").mockImplementation(capture);
    vi.spyOn(console, "error").mockImplementation(capture);
  });
  afterAll(() => vi.restoreAllMocks());

  /** The "frame dropped" lines of a call with this reason, once there are `count` of them. */
  const drops = (callSid: string | undefined, reason: string, count = 1) =>
    logs.until(
      (lines) => lines.filter((l) => l.message === "frame dropped" && l.call_id === callSid && l.reason === reason).length >= count,
      `${count} drop(s) "${reason}" of ${callSid}`,
    );
  const ended = async (callSid: string | undefined) =>
    (await logs.until((lines) => lines.some((l) => l.message === "call ended" && l.call_id === callSid), `the end of ${callSid}`)).find(
      (l) => l.message === "call ended" && l.call_id === callSid,
    )!;

  it("drops or refuses each kind of bad input, and the normal call loses nothing either way", async () => {
    // The normal call: started, then one frame each way after every hostile step.
    const normal = await Twilio.connect("CA00000000000000000000000000000001");
    const normalStart = normal.start();
    const normalCore = await core.call(normal.callSid);
    await normalCore.received.until((frames) => frames.length >= 2, "start and edge.greeting of the normal call");
    const sentToCore: string[] = [];
    const sentToCaller: string[] = [];
    let step = 0;
    const normalTurn = () => {
      sentToCore.push(normal.media());
      const outbound = JSON.stringify({ event: "media", streamSid: normal.streamSid, media: { payload: `${"/".repeat(20)}${step++}==` } });
      normalCore.send(outbound);
      sentToCaller.push(outbound);
    };

    // Hostile call 1: the frames that are dropped, before and after `start`; the socket stays open.
    const hostile = await Twilio.connect("CA00000000000000000000000000000002");
    hostile.send(new Uint8Array([1, 2, 3]).buffer);
    hostile.send("not json at all");
    hostile.send({ streamSid: hostile.streamSid, media: { payload: "AAAA" } });
    hostile.send({ event: "nonsense" });
    hostile.media();
    normalTurn();
    for (const reason of ["binary frame", "not a Twilio frame", "frame before start"]) await drops(undefined, reason, reason === "binary frame" ? 1 : 2);
    hostile.start();
    const hostileCore = await core.call(hostile.callSid);
    // None of the frames before `start` reached the core: it hears `start` first, as always.
    const opened = await hostileCore.received.until((frames) => frames.length >= 2, "start and edge.greeting of the hostile call");
    expect(opened.map((frame) => JSON.parse(frame).event)).toEqual(["start", "edge.greeting"]);

    hostile.start();
    hostile.send({ event: "nonsense", streamSid: hostile.streamSid });
    hostile.send("{oops");
    hostile.send({ streamSid: hostile.streamSid, sequenceNumber: "9" });
    hostile.send(new Uint8Array(500).buffer);
    normalTurn();
    // Media with an audio payload the core cannot use, or cut off mid-JSON: the edge relays media
    // unparsed (it never decodes audio), so these reach the core, whose frame validation drops them.
    const relayedUnparsed = [
      hostile.media("not base64 at all!"),
      hostile.media("AAA"), // not a whole base64 quantum
      hostile.media("/w=="), // one byte of audio: an odd length, not 20 ms
      hostile.send(`{"event":"media","sequenceNumber":"99","media":{"payl`),
    ];
    const barrier = hostile.mark("barrier");
    const afterStart = await hostileCore.received.until((frames) => frames.includes(barrier), "the hostile call's barrier mark");
    expect(afterStart.slice(2)).toEqual([...relayedUnparsed, barrier]);
    await drops(hostile.callSid, "repeated start");
    await drops(hostile.callSid, "unknown event");
    await drops(hostile.callSid, "not a Twilio frame", 2);
    await drops(hostile.callSid, "binary frame");
    expect(hostile.open).toBe(true);
    normalTurn();

    // After `stop` nothing is relayed; the core ends the call on `stop`.
    const stop = hostile.stop();
    hostile.media();
    hostile.mark("late");
    normalTurn();
    await drops(hostile.callSid, "frame after stop", 2);
    expect(await hostile.closed).toBe(1000);
    expect(hostileCore.received.items.slice(-1)).toEqual([stop]);

    // Hostile call 2: a frame over MAX_FRAME_CHARS, shaped like media to try the fast path: 1009.
    const big = await Twilio.connect("CA00000000000000000000000000000003");
    big.start();
    const bigCore = await core.call(big.callSid);
    await bigCore.received.until((frames) => frames.length >= 2, "start and edge.greeting of the oversize call");
    big.media("A".repeat(9000));
    normalTurn();
    expect(await big.closed).toBe(CLOSE_TOO_BIG);
    // The core sees an ordinary hang-up and never the frame.
    expect(await bigCore.closed).toBe(1000);
    expect(bigCore.received.items).toHaveLength(2);
    expect(await ended(big.callSid)).toMatchObject({ severity: "WARNING", reason: "frame too big", frameChars: expect.any(Number), maxFrameChars: 8192 });

    // Hostile call 3: a binary frame over the limit, before any `start`: 1009 too.
    const bigBinary = await Twilio.connect("CA00000000000000000000000000000044");
    bigBinary.send(new Uint8Array(8193).buffer);
    normalTurn();
    expect(await bigBinary.closed).toBe(CLOSE_TOO_BIG);

    // Hostile call 4: a flood, media at 20 times real time. The allowance (1 s of audio) is spent at
    // once, then with FLOOD_CLOSE_AFTER_S=1 a second of dropping closes it: 1008.
    const flood = await Twilio.connect("CA00000000000000000000000000000005");
    flood.start();
    const floodCore = await core.call(flood.callSid);
    const floodStart = Date.now();
    for (let tick = 0; flood.open && Date.now() - floodStart < 10_000; tick++) {
      try {
        for (let i = 0; i < 20; i++) flood.media();
      } catch {
        break; // closed under us
      }
      if (tick % 25 === 0) normalTurn();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await flood.closed).toBe(CLOSE_POLICY_VIOLATION);
    const floodSeconds = (Date.now() - floodStart) / 1000;
    expect(floodSeconds).toBeLessThan(5);
    expect(await floodCore.closed).toBe(1000);
    expect(await ended(flood.callSid)).toMatchObject({ severity: "WARNING", reason: "frame flood", maxAudioBacklogMs: MAX_AUDIO_BACKLOG_MS, floodCloseAfterS: 1 });
    // start and edge.greeting aside, what got through is the allowance and real time, not the flood.
    expect(floodCore.received.items.length - 2).toBeLessThanOrEqual(MAX_AUDIO_BACKLOG_MS / 20 + 50 * (floodSeconds + 1));

    // The normal call: every frame, both ways, in order, and it is still up until it stops.
    expect(normal.open).toBe(true);
    const normalStop = normal.stop();
    const toCore = await normalCore.received.until((frames) => frames.includes(normalStop), "the normal call's stop");
    expect(toCore[0]).toBe(normalStart);
    expect(JSON.parse(toCore[1]!).event).toBe("edge.greeting");
    expect(toCore.slice(2)).toEqual([...sentToCore, normalStop]);
    expect(await normal.received.until((frames) => frames.length >= sentToCaller.length, "the core's frames to the normal caller")).toEqual(sentToCaller);
    expect(await normal.closed).toBe(1000);
    expect(await ended(normal.callSid)).toMatchObject({ reason: "core ended the call", framesDropped: 0, framesOverRate: 0 });

    // No secret in any line the worker logged.
    const text = JSON.stringify(logs.items);
    for (const secret of [env.TWILIO_AUTH_TOKEN, env.CORE_SHARED_SECRET, env.DEPLOY_TOKEN, "Bearer "]) expect(text).not.toContain(secret);
  });

  it("thins a burst ahead of real time that does not last: what is past the allowance is dropped and counted, the rest relayed in order", async () => {
    const burst = await Twilio.connect("CA00000000000000000000000000000006", { ...TEST_ENV, FLOOD_CLOSE_AFTER_S: "3" });
    const start = burst.start();
    const burstCore = await core.call(burst.callSid);
    await burstCore.received.until((frames) => frames.length >= 2, "start and edge.greeting of the burst call");
    // 2.4 s of audio at once: 1.4 s more than the allowance, yet dropped for a moment, not for three seconds.
    const sent = Array.from({ length: 3 * MAX_FRAMES_PER_SECOND }, () => burst.media());
    await logs.until((lines) => lines.some((l) => l.message === "frames over the flood limit dropped" && l.call_id === burst.callSid), "the drop line");
    expect(burst.open).toBe(true);
    // Hanging up delivers everything sent before it; then the counts can be read.
    burst.socket.close(1000);
    await burstCore.closed;
    const end = await ended(burst.callSid);
    const overRate = end.framesOverRate as number;
    // The allowance passed (a frame or two more as the clock moves on), the rest was dropped.
    expect(overRate).toBeGreaterThanOrEqual(sent.length - MAX_AUDIO_BACKLOG_MS / 20 - 2);
    expect(overRate).toBeLessThanOrEqual(sent.length - MAX_AUDIO_BACKLOG_MS / 20);
    const relayed = burstCore.received.items.slice(2);
    expect(relayed).toHaveLength(sent.length - overRate);
    // In order, none altered: each relayed frame is one that was sent, later than the one before.
    let at = -1;
    for (const frame of relayed) {
      const index = sent.indexOf(frame, at + 1);
      expect(index).toBeGreaterThan(at);
      at = index;
    }
    expect(burstCore.received.items[0]).toBe(start);
    // One line for the run of drops, not one per frame.
    const dropLines = logs.items.filter((l) => l.message === "frames over the flood limit dropped" && l.call_id === burst.callSid);
    expect(dropLines).toHaveLength(1);
  });
});
