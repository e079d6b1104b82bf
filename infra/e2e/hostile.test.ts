// Hostile input through the real stack while a normal call is in progress. One class after another
// on connections of their own: to the edge (a bad signature, bad frames of every kind, a frame too
// big, a flood) and to the core directly (no token, a token for another call, a frame too big, a
// flood, more calls than it takes). Each gets its defined outcome (dropped with a logged reason, or
// closed with its code), and the normal call notices nothing: its answers heard as they should be,
// every frame through, a TURN line per turn. Afterwards both processes serve a new call, and a call
// whose line stalls (0.5 to 5 s) mid-sentence loses nothing to the flood limits.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  CLOSE_AT_CAPACITY,
  CLOSE_POLICY_VIOLATION,
  CLOSE_TOO_BIG,
  FRAME_BYTES,
  MULAW_SILENCE,
  callLine,
  signCoreToken,
  splitFrames,
  toBase64,
  turnLine,
  twilioSignature,
} from "@voice/protocol";
import { answerAudio, answerPhrases, answerSentences } from "../bench/lib/answer-audio.js";
import { coreHealth } from "../local/core-process.js";
import { readWranglerConfig, type EdgeLogLine } from "../local/edge.js";
import { LOCAL_SECRETS, startStack, type Stack } from "../local/stack.js";
import { runCall } from "../sim/call.js";
import { connectedMessage, markMessage, mediaMessage, startMessage, stopMessage, type StreamIds } from "../twilio/media-stream-frames.js";
import { LOCAL_ACCOUNT_SID, signedStart } from "../twilio/stream-start.js";
import type { StartFrame } from "@voice/protocol/twilio";
import { concat } from "../sim/recording.js";
import type { CallReport } from "../sim/report.js";
import { newSid } from "../sim/twilio-client.js";

const LANGUAGE = "he-IL";
/** A short answer, then a longer one: the call (~20 s) outlasts the hostile input (~8 s, most of it the floods). */
const LINES = ["תודה רבה על העזרה שלך", "שלום, מה שעות הפתיחה שלכם?"];
const PAUSE_BEFORE_SECOND_LINE_MS = 2000;
/**
 * Small, so the capacity refusal takes a few connections; above the six calls up at once at the end
 * (the call in progress, a new one and four stalled ones).
 */
const MAX_CALLS = 7;
/**
 * The core's flood limits: closed after 2 s of dropping; a rate of other frames above the edge's
 * (100, the default) and the default audio backlog (twice the edge's), so frames the edge lets
 * through a flood never trip the core's limit before the edge's.
 */
const CORE_MAX_FRAMES_PER_SECOND = 150;
const CORE_FLOOD_CLOSE_AFTER_S = 2;
const CORE_MAX_FRAME_BYTES = 16 * 1024;

let stack: Stack;
/** The edge's own limit (wrangler.toml [vars]). */
let edgeMaxFrameChars: number;
const edgeLines: EdgeLogLine[] = [];
const normalSid = newSid("CA");
let normalCall: Promise<CallReport>;
let normalEnded = false;
/** Every hostile connection opened, so a failed test cannot leave one holding a call slot. */
const peersOpened = new Set<Peer>();
let normalStarted: () => void;
const normalStartedAtEdge = new Promise<void>((resolve) => (normalStarted = resolve));

beforeAll(async () => {
  edgeMaxFrameChars = Number((await readWranglerConfig()).vars.MAX_FRAME_CHARS);
  stack = await startStack({
    emulators: { script: LINES, speech: { log: () => {} }, tts: { log: () => {} }, openai: { log: () => {} } },
    coreEnv: {
      // Every answer sentence cached at warmup: the heard audio can be checked byte for byte.
      FIXED_PHRASES: JSON.stringify(answerPhrases(LINES, LANGUAGE)),
      MAX_CALLS: String(MAX_CALLS),
      MAX_FRAMES_PER_SECOND: String(CORE_MAX_FRAMES_PER_SECOND),
      FLOOD_CLOSE_AFTER_S: String(CORE_FLOOD_CLOSE_AFTER_S),
      MAX_FRAME_BYTES: String(CORE_MAX_FRAME_BYTES),
    },
    onEdgeLine: (line) => {
      edgeLines.push(line);
      if (line.json?.message === "call started" && line.json.call_id === normalSid) normalStarted();
    },
  });
  normalCall = runCall({
    url: stack.edge.url,
    authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN,
    script: { language: LANGUAGE, voice: "he", lines: [LINES[0]!, { text: LINES[1]!, pauseMs: PAUSE_BEFORE_SECOND_LINE_MS }] },
    callSid: normalSid,
    timeoutMs: 20_000,
  }).finally(() => (normalEnded = true));
  await normalStartedAtEdge;
}, 60_000);

afterEach(async () => {
  await Promise.all([...peersOpened].map((peer) => peer.hangUp()));
  peersOpened.clear();
});

afterAll(async () => {
  await stack?.stop();
});

function edgeLogged(message: string, callSid?: string): EdgeLogLine[] {
  return edgeLines.filter((l) => l.json?.message === message && (callSid === undefined || l.json.call_id === callSid));
}

function coreLogged(message: string, callSid: string) {
  return stack.core.lines.filter((l) => l.json?.message === message && l.json.call_id === callSid);
}

interface Closed {
  code: number;
  reason: string;
}

/** One of the hostile connections: sends what it is told and says how it ended. */
class Peer {
  readonly closed: Promise<Closed>;

  private constructor(
    readonly socket: WebSocket,
    readonly ids: StreamIds,
    /** To the edge: the `start` with the stream token its webhook would have minted for the call. */
    private readonly signedStart?: StartFrame,
  ) {
    this.closed = new Promise((resolve) => socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    peersOpened.add(this);
    socket.on("error", () => {}); // the close that follows is what is asserted
  }

  /** A media stream to the edge, signed as Twilio signs it. */
  static async toEdge(): Promise<Peer> {
    const url = `${stack.edge.url.replace(/^http/, "ws")}/twilio/media`;
    const ids = newIds();
    const start = await signedStart(ids, LOCAL_SECRETS.STREAM_TOKEN_SECRET);
    return Peer.open(url, { "x-twilio-signature": await twilioSignature(LOCAL_SECRETS.TWILIO_AUTH_TOKEN, url) }, ids, start);
  }

  /** The edge's link to the core, opened with a core token for `tokenCallSid`. */
  static async toCore(tokenCallSid = newSid("CA")): Promise<Peer> {
    const token = await signCoreToken(LOCAL_SECRETS.CORE_SHARED_SECRET, "call", tokenCallSid, Date.now());
    return Peer.open(`${stack.core.url.replace(/^http/, "ws")}/call`, { Authorization: `Bearer ${token}` }, newIds(tokenCallSid));
  }

  private static open(url: string, headers: Record<string, string>, ids: StreamIds, start?: StartFrame): Promise<Peer> {
    const socket = new WebSocket(url, { headers });
    return new Promise((resolve, reject) => socket.once("open", () => resolve(new Peer(socket, ids, start))).once("error", reject));
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  send(frame: object | string | Buffer): void {
    this.socket.send(typeof frame === "string" || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  start(callSid = this.ids.callSid): void {
    this.send(connectedMessage());
    this.send(callSid === this.ids.callSid && this.signedStart ? this.signedStart : startMessage(1, { ...this.ids, callSid }, {}));
  }

  media(payload = silence()): void {
    this.send(mediaMessage(2, this.ids.streamSid, 0, payload));
  }

  /** `perSecond` media frames a second, in bursts every 50 ms, until the socket closes (or 15 s). */
  async flood(perSecond: number): Promise<Closed> {
    const burst = perSecond / 20;
    for (const until = performance.now() + 15_000; this.isOpen && performance.now() < until; ) {
      for (let i = 0; i < burst && this.isOpen; i++) this.media();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.closed;
  }

  /** Hangs up as Twilio does: stop, then close. */
  async hangUp(): Promise<Closed> {
    if (this.isOpen) {
      this.send(stopMessage(3, this.ids));
      this.socket.close(1000);
    }
    return this.closed;
  }
}

function newIds(callSid = newSid("CA")): StreamIds {
  return { accountSid: LOCAL_ACCOUNT_SID, callSid, streamSid: newSid("MZ") };
}

function silence(bytes = FRAME_BYTES): Uint8Array {
  return new Uint8Array(bytes).fill(MULAW_SILENCE);
}

/** The HTTP status a refused WebSocket upgrade got. */
function refusedUpgrade(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once("unexpected-response", (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once("open", () => reject(new Error(`${url}: the upgrade was accepted`)));
    socket.once("error", reject);
  });
}

async function activeCoreCalls(): Promise<{ active_calls: number; calls_refused: number }> {
  return (await coreHealth(stack.core.url, LOCAL_SECRETS.CORE_SHARED_SECRET)) as { status: string; active_calls: number; calls_refused: number };
}

describe("hostile input to the edge, with a call in progress", () => {
  it("refuses a media stream with a bad signature (403)", async () => {
    const url = `${stack.edge.url.replace(/^http/, "ws")}/twilio/media`;
    expect(await refusedUpgrade(url, { "x-twilio-signature": "bm90IGEgc2lnbmF0dXJl" })).toBe(403);
    expect(await refusedUpgrade(url, {})).toBe(403);
  });

  const droppedAtEdge = [
    { name: "a binary frame", frame: () => Buffer.from([1, 2, 3, 4]), reason: /binary/ },
    { name: "invalid JSON", frame: () => '{"event": oops', reason: /not a Twilio frame/ },
    { name: "an unknown event", frame: () => ({ event: "exfiltrate", streamSid: "MZ1" }), reason: /unknown event/ },
    { name: "a second start", frame: (peer: Peer) => startMessage(9, peer.ids, {}), reason: /repeated start/ },
  ];
  it.each(droppedAtEdge)("drops $name with a logged reason and keeps the call", async ({ frame, reason }) => {
    const peer = await Peer.toEdge();
    peer.start();
    peer.send(frame(peer));
    await expect.poll(() => edgeLogged("frame dropped", peer.ids.callSid).map((l) => String(l.json?.reason)), { timeout: 5_000 }).toEqual([expect.stringMatching(reason)]);
    expect(peer.isOpen).toBe(true);
    expect((await peer.hangUp()).code).toBe(1000);
  });

  it("drops media before start with a logged reason", async () => {
    const before = edgeLogged("frame dropped").filter((l) => /before start/.test(String(l.json?.reason))).length;
    const peer = await Peer.toEdge();
    peer.media();
    await expect.poll(() => edgeLogged("frame dropped").filter((l) => /before start/.test(String(l.json?.reason))).length, { timeout: 5_000 }).toBe(before + 1);
    expect(peer.isOpen).toBe(true);
    await peer.hangUp();
  });

  const mediaWith = (peer: Peer, payload: string) =>
    JSON.stringify({ event: "media", sequenceNumber: "2", streamSid: peer.ids.streamSid, media: { track: "inbound", chunk: "1", timestamp: "0", payload } });
  const droppedAtCore = [
    { name: "invalid base64", frame: (peer: Peer) => mediaWith(peer, "%%%not-base64%%%"), reason: /base64/ },
    { name: "an odd-length payload", frame: (peer: Peer) => mediaWith(peer, toBase64(silence(FRAME_BYTES + 1))), reason: /161 bytes/ },
    // Recognised as media by its first bytes, so relayed as it is: the core finds it broken.
    { name: "a truncated frame", frame: (peer: Peer) => mediaWith(peer, toBase64(silence())).slice(0, 60), reason: /not JSON/ },
  ];
  it.each(droppedAtCore)("relays a media frame with $name unparsed; the core drops it with a logged reason", async ({ frame, reason }) => {
    const peer = await Peer.toEdge();
    peer.start();
    peer.send(frame(peer));
    await expect.poll(() => coreLogged("frame dropped", peer.ids.callSid).map((l) => String(l.json?.reason)), { timeout: 5_000 }).toEqual([expect.stringMatching(reason)]);
    expect(peer.isOpen).toBe(true);
    await peer.hangUp();
  });

  it("drops frames after stop, and the call ends normally", async () => {
    const peer = await Peer.toEdge();
    peer.start();
    peer.send(stopMessage(3, peer.ids));
    peer.media();
    peer.send(markMessage(4, peer.ids.streamSid, "greeting"));
    expect((await peer.closed).code).toBe(1000);
    await expect.poll(() => edgeLogged("frame dropped", peer.ids.callSid).map((l) => l.json?.reason), { timeout: 5_000 }).toContain("frame after stop");
    await expect.poll(() => coreLogged("CALL", peer.ids.callSid).length, { timeout: 5_000 }).toBe(1);
  });

  it("closes a stream that sends a frame over the size limit (1009)", async () => {
    const peer = await Peer.toEdge();
    peer.start();
    peer.send(JSON.stringify({ event: "media", streamSid: peer.ids.streamSid, padding: "x".repeat(edgeMaxFrameChars) }));
    expect((await peer.closed).code).toBe(CLOSE_TOO_BIG);
    await expect.poll(() => edgeLogged("call ended", peer.ids.callSid).map((l) => l.json?.reason), { timeout: 5_000 }).toEqual(["frame too big"]);
  });
});

describe("hostile input to the core, with a call in progress", () => {
  it("refuses an upgrade without a core token (401)", async () => {
    expect(await refusedUpgrade(`${stack.core.url.replace(/^http/, "ws")}/call`, {})).toBe(401);
  });

  it("closes a link whose start names another call than its token (1008)", async () => {
    const peer = await Peer.toCore();
    peer.start(newSid("CA"));
    expect((await peer.closed).code).toBe(CLOSE_POLICY_VIOLATION);
  });

  it("closes a link that sends a frame over the size limit (1009)", async () => {
    const peer = await Peer.toCore();
    peer.start();
    peer.send("x".repeat(CORE_MAX_FRAME_BYTES + 1));
    expect((await peer.closed).code).toBe(CLOSE_TOO_BIG);
  });
});

describe("floods, with a call in progress", () => {
  it("closes a flooding caller at the edge and a flooding link at the core (1008)", async () => {
    const [atEdge, atCore] = await Promise.all([
      Peer.toEdge().then((peer) => (peer.start(), peer.flood(300).then((closed) => ({ peer, closed })))),
      Peer.toCore().then((peer) => (peer.start(), peer.flood(3 * CORE_MAX_FRAMES_PER_SECOND).then((closed) => ({ peer, closed })))),
    ]);
    expect(atEdge.closed.code).toBe(CLOSE_POLICY_VIOLATION);
    expect(atCore.closed.code).toBe(CLOSE_POLICY_VIOLATION);
    expect(edgeLogged("call ended", atEdge.peer.ids.callSid).map((l) => l.json?.reason)).toEqual(["frame flood"]);
    await expect.poll(() => coreLogged("CALL", atCore.peer.ids.callSid).map((l) => l.json?.end_reason), { timeout: 5_000 }).toEqual(["flood"]);
  });
});

describe("more calls than the core takes, with a call in progress", () => {
  it("accepts the upgrade and closes it with 1013, counted", async () => {
    const refusedBefore = (await activeCoreCalls()).calls_refused;
    // One more than MAX_CALLS: however many calls are up already, at least one is refused.
    const peers: Peer[] = [];
    for (let i = 0; i <= MAX_CALLS; i++) {
      const peer = await Peer.toCore();
      peer.start();
      peers.push(peer);
    }
    // The core's count of refusals and the links closed on this side agree (both settle within moments).
    const closedHere = () => peers.filter((peer) => !peer.isOpen).length;
    await expect.poll(async () => ((await activeCoreCalls()).calls_refused - refusedBefore) * 100 + closedHere(), { timeout: 5_000 }).toSatisfy(
      (both: number) => both > 0 && Math.floor(both / 100) === both % 100,
    );
    const closed = await Promise.all(peers.filter((peer) => !peer.isOpen).map((peer) => peer.closed));
    expect(closed).toEqual(closed.map(() => ({ code: CLOSE_AT_CAPACITY, reason: "core at capacity" })));
    await Promise.all(peers.map((peer) => peer.hangUp()));
    // Back to the call in progress alone, so the next call is not refused.
    await expect.poll(async () => (await activeCoreCalls()).active_calls, { timeout: 5_000 }).toBeLessThanOrEqual(1);
  });
});

describe("the call in progress and the next one", () => {
  it("was still in progress when the hostile input ended", () => {
    expect(normalEnded).toBe(false);
  });

  // These three check their own calls: they run side by side.
  it.concurrent("serves a new call through both processes", async ({ expect }) => {
    const report = await runCall({ url: stack.edge.url, authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN, script: { language: LANGUAGE, voice: "he", lines: [LINES[0]!] }, timeoutMs: 20_000 });
    expect(report.errors).toEqual([]);
    expect(report.turns.map((turn) => turn.agent_text)).toEqual([answerSentences(LINES[0]!, LANGUAGE).join(" ")]);
  });

  it.concurrent("noticed nothing: its answers heard in full, every frame through, a TURN line per turn", async ({ expect }) => {
    const report = await normalCall;
    expect(report.errors).toEqual([]);
    const greeting = (await stack.edge.kv.get(String(stack.warmup.greeting_key)))!;
    expect(report.greeting_audio).toEqual(concat(splitFrames(greeting)));
    for (const [k, turn] of report.turns.entries()) {
      expect(turn.agent_text).toBe(answerSentences(LINES[k]!, LANGUAGE).join(" "));
      // Byte for byte the cached audio of its sentences: no frame lost, none from another call.
      expect(turn.agent_audio).toEqual(await answerAudio(stack.core.url, LOCAL_SECRETS.CORE_SHARED_SECRET, LINES[k]!, LANGUAGE));
    }
    expect(report.turns).toHaveLength(2);

    await expect.poll(() => coreLogged("CALL", normalSid).length, { timeout: 5_000 }).toBe(1);
    const call = callLine.parse(coreLogged("CALL", normalSid)[0]!.json);
    // Every caller frame the simulator sent reached the core; none was dropped.
    expect(call.frames_in).toBe(report.recording.caller.length / FRAME_BYTES);
    expect(call.dropped_frames).toBe(0);
    const turns = stack.core.lines.flatMap((l) => {
      const parsed = turnLine.safeParse(l.json);
      return parsed.success && parsed.data.call_id === normalSid ? [parsed.data.turn] : [];
    });
    expect(turns).toEqual([1, 2]);
  });

  // After the hostile input (the call in progress must outlast that), and before the check that nothing went wrong.
  it.concurrent("loses nothing of callers whose lines stall 0.5, 1.5, 3 and 5 s mid-sentence: one turn each with its whole transcript, no frame dropped at either end", async ({ expect }) => {
    const stalls = [500, 1500, 3000, 5000];
    const calls = stalls.map((ms) => ({ ms, sid: newSid("CA") }));
    const reports = await Promise.all(
      calls.map(({ ms, sid }) =>
        runCall({
          url: stack.edge.url,
          authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN,
          // The speech emulator hears a call's first utterance as LINES[0].
          script: { language: LANGUAGE, voice: "he", lines: [LINES[0]!] },
          callSid: sid,
          timeoutMs: 20_000,
          stalls: [{ line: 1, afterMs: 600, ms }],
        }),
      ),
    );
    for (const [i, { ms, sid }] of calls.entries()) {
      const report = reports[i]!;
      expect(report.errors, `${ms} ms stall`).toEqual([]);
      expect(report.turns.map((turn) => turn.agent_text), `${ms} ms stall`).toEqual([answerSentences(LINES[0]!, LANGUAGE).join(" ")]);
      await expect.poll(() => coreLogged("CALL", sid).length, { timeout: 5_000 }).toBe(1);
      const call = callLine.parse(coreLogged("CALL", sid)[0]!.json);
      expect(call, `${ms} ms stall`).toMatchObject({ turns: 1, dropped_frames: 0 });
      expect(call.frames_in, `${ms} ms stall`).toBe(report.recording.caller.length / FRAME_BYTES);
      const turns = stack.core.lines.flatMap((l) => {
        const parsed = turnLine.safeParse(l.json);
        return parsed.success && parsed.data.call_id === sid ? [parsed.data] : [];
      });
      expect(turns.map((turn) => [turn.turn, turn.transcript]), `${ms} ms stall`).toEqual([[1, LINES[0]]]);
      await expect.poll(() => edgeLogged("call ended", sid).length, { timeout: 5_000 }).toBe(1);
      expect(edgeLogged("call ended", sid)[0]!.json, `${ms} ms stall`).toMatchObject({ framesDropped: 0, framesOverRate: 0 });
    }
  });

  it("left both processes up, with no error logged", async () => {
    expect((await fetch(`${stack.edge.url}/health`)).status).toBe(200);
    expect((await activeCoreCalls()).active_calls).toBe(0);
    const errors = [
      ...stack.core.lines.filter((l) => l.stream === "stderr" || ["ERROR", "CRITICAL", "ALERT", "EMERGENCY"].includes(String(l.json?.severity))).map((l) => l.text),
      // The edge writes its WARNING lines to stderr too: an error is an ERROR line, or anything not its own JSON there (an uncaught exception).
      ...edgeLines.filter((l) => l.json?.severity === "ERROR" || (l.level === "error" && !l.json)).map((l) => l.text),
    ];
    expect(errors).toEqual([]);
  });
});
