// The edge's flood limit never drops a real caller: a line that stalls (the network holds the
// caller's frames, then delivers the backlog at once, as TCP does) is relayed whole and in order,
// with nothing counted over the limit. A stream that runs ahead of real time, whatever media
// timestamps it writes, or that floods other frames, is closed 1008 within seconds. In workerd,
// with the production vars (wrangler.toml) and the core faked inside this isolate as in
// media-hostile.test.ts.
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CLOSE_POLICY_VIOLATION } from "@voice/protocol/limits";
import { twilioSignature } from "@voice/protocol/twilio-signature";
import { markMessage, mediaMessage, stopMessage, type StreamIds } from "../../infra/twilio/media-stream-frames.js";
import { signedStart, streamIds } from "../../infra/twilio/stream-start.js";
import type { Env } from "./env.js";
import app from "./index.js";
import { mediaStreamUrl } from "./signature.js";
import { captureLogLines, Changes } from "../testing/changes.js";

const CORE_URL = "http://core.stalls.test";
const PRODUCTION_VARS: Env = { ...env, CORE_URL };
const STALLS_MS = [500, 1500, 3000, 5000];
const SILENCE = new Uint8Array(160).fill(0xff);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const changes = new Changes();
const logs: Record<string, unknown>[] = [];
/** The core's end of each call link, with every frame it received. */
const cores: Array<{ frames: string[] }> = [];

/** The frames the (fake) core received for a call, once its `start` arrived. */
async function coreOf(callSid: string): Promise<{ frames: string[] }> {
  const find = () => cores.find((core) => core.frames[0]?.includes(callSid));
  await changes.until(() => find() !== undefined, `the core link of ${callSid}`);
  return find()!;
}

async function callEnded(callSid: string): Promise<Record<string, unknown>> {
  const find = () => logs.find((line) => line.message === "call ended" && line.call_id === callSid);
  await changes.until(() => find() !== undefined, `the end of ${callSid}`);
  return find()!;
}

/** A caller's media stream, started (token and all) and relayed to the fake core. */
async function caller(n: number, vars: Env): Promise<{ ids: StreamIds; socket: WebSocket; closed: Promise<number>; toCore: string[] }> {
  const signature = await twilioSignature(env.TWILIO_AUTH_TOKEN, mediaStreamUrl(vars.PUBLIC_URL), {});
  const request = new Request("http://edge.internal/twilio/media", { headers: { upgrade: "websocket", "x-twilio-signature": signature } });
  const response = await app.fetch(request, vars);
  expect(response.status).toBe(101);
  const socket = response.webSocket!;
  const closed = new Promise<number>((resolve) =>
    socket.addEventListener("close", (event) => {
      socket.close(); // workerd wants both ends closed
      resolve(event.code);
    }),
  );
  socket.accept();
  const ids = streamIds(n, 0x57a11);
  socket.send(JSON.stringify(await signedStart(ids, env.STREAM_TOKEN_SECRET)));
  const core = await coreOf(ids.callSid);
  await changes.until(() => core.frames.length >= 2, `start and edge.greeting of ${ids.callSid}`);
  return { ids, socket, closed, toCore: core.frames };
}

beforeAll(() => {
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
    const request = new Request(input, init);
    if (!request.url.startsWith(CORE_URL)) return realFetch(input, init);
    const [worker, core] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    const link = { frames: [] as string[] };
    cores.push(link);
    core.addEventListener("message", (event) => {
      const frame = String(event.data);
      link.frames.push(frame);
      // The core ends the call on `stop`.
      if (frame.startsWith('{"event":"stop"')) core.close(1000, "call stopped");
      changes.changed();
    });
    core.addEventListener("close", () => core.close());
    core.accept();
    return Promise.resolve(new Response(null, { status: 101, webSocket: worker }));
  });
  captureLogLines(logs, changes);
});
afterAll(() => vi.restoreAllMocks());

/**
 * A live line: 20 ms media frames at real time for 2 s, a stall of `stallMs` (the frames due in it
 * held, then sent at once with the ones due by then), and 2 s more. Resolves with the frames sent.
 */
async function stallingLine(socket: WebSocket, ids: StreamIds, stallMs: number): Promise<string[]> {
  const stallAt = 2000;
  const frames = (4000 + stallMs) / 20;
  const sent: string[] = [];
  const startedAt = Date.now();
  for (let k = 0; k < frames; ) {
    const due = 20 * k;
    const release = due >= stallAt && due < stallAt + stallMs ? stallAt + stallMs : due;
    const wait = startedAt + release - Date.now();
    if (wait > 0) {
      await sleep(wait);
      continue;
    }
    const frame = JSON.stringify(mediaMessage(k + 2, ids.streamSid, k, SILENCE));
    socket.send(frame);
    sent.push(frame);
    k++;
  }
  return sent;
}

describe("the edge's flood limit", () => {
  it("relays every frame of lines that stall 0.5, 1.5, 3 and 5 s and then catch up, and counts none over the limit", { timeout: 60_000 }, async () => {
    const lines = await Promise.all(STALLS_MS.map((_, i) => caller(i + 1, PRODUCTION_VARS)));
    const sent = await Promise.all(lines.map((line, i) => stallingLine(line.socket, line.ids, STALLS_MS[i]!)));
    for (const [i, line] of lines.entries()) {
      const stop = JSON.stringify(stopMessage(99_999, line.ids));
      line.socket.send(stop);
      await changes.until(() => line.toCore.includes(stop), `the stop of the ${STALLS_MS[i]} ms stall`);
      // Every frame, in order, none altered.
      expect(line.toCore.slice(2), `stall of ${STALLS_MS[i]} ms`).toEqual([...sent[i]!, stop]);
      expect(await line.closed).toBe(1000);
      expect(await callEnded(line.ids.callSid)).toMatchObject({ framesDropped: 0, framesOverRate: 0 });
    }
    const callSids = new Set(lines.map((line) => line.ids.callSid));
    expect(logs.filter((line) => line.message === "frames over the flood limit dropped" && callSids.has(String(line.call_id)))).toEqual([]);
  });

  const floods: Array<[string, (socket: WebSocket, ids: StreamIds, n: number) => void]> = [
    ["media with Twilio's own timestamps", (s, ids, n) => s.send(JSON.stringify(mediaMessage(n + 2, ids.streamSid, n, SILENCE)))],
    ["media with timestamps going backwards", (s, ids, n) => s.send(JSON.stringify(mediaMessage(n + 2, ids.streamSid, 1e6 - n, SILENCE)))],
    ["media whose timestamps are not numbers", (s, ids, n) => s.send(JSON.stringify(mediaMessage(n + 2, ids.streamSid, n, SILENCE)).replace(/"timestamp":"\d+"/, '"timestamp":"NaN"'))],
    ["marks", (s, ids, n) => s.send(JSON.stringify(markMessage(n + 2, ids.streamSid, `m${n}`)))],
  ];

  it("closes a stream that runs ahead of real time (1008) within seconds, whatever its timestamps, and a flood of other frames", { timeout: 60_000 }, async () => {
    // The production allowance (10 s of audio ahead) and rate, closed after 2 s of dropping instead of 5.
    const vars: Env = { ...PRODUCTION_VARS, FLOOD_CLOSE_AFTER_S: "2" };
    const lines = await Promise.all(floods.map((_, i) => caller(100 + i, vars)));
    const startedAt = Date.now();
    // 500 frames a second, ten times real time, until closed (or 15 s).
    await Promise.all(
      lines.map(async (line, i) => {
        let open = true;
        void line.closed.then(() => (open = false));
        let n = 0;
        while (open && Date.now() - startedAt < 15_000) {
          try {
            for (let j = 0; j < 10; j++) floods[i]![1](line.socket, line.ids, n++);
          } catch {
            open = false; // closed under us
          }
          await sleep(20);
        }
      }),
    );
    const seconds = (Date.now() - startedAt) / 1000;
    // The allowance lasts about 1.1 s at ten times real time, then 2 s of dropping.
    expect(seconds).toBeLessThan(10);
    for (const [i, line] of lines.entries()) {
      expect(await line.closed, floods[i]![0]).toBe(CLOSE_POLICY_VIOLATION);
      expect(await callEnded(line.ids.callSid)).toMatchObject({ reason: "frame flood", maxAudioBacklogMs: 10_000, floodCloseAfterS: 2 });
      // What reached the core: the allowance (500 frames) and real time, or the rate, not the flood.
      expect(line.toCore.length - 2, floods[i]![0]).toBeLessThan(500 + 50 * (seconds + 1));
    }
  });
});
