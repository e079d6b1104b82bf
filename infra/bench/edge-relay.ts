// The edge's cost per call, measured on the real runtime: the worker runs in workerd (startEdge)
// between Node WebSocket clients playing Twilio and a fake core that answers every caller frame with
// an agent frame, as a speaking agent does. Reported: workerd's CPU per call-minute (from
// /proc/<pid>/stat, idle baseline subtracted) and each frame's transit through the edge, both ways
// (sent by one Node socket -> received by the other; loopback and the ws library included).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { FRAME_BYTES, FRAME_MS, phraseKey, twilioSignature } from "@voice/protocol";
import { Miniflare } from "miniflare";
import { WebSocket, WebSocketServer } from "ws";
import { readWranglerConfig, startEdge } from "../local/edge.js";
import { LOCAL_SECRETS } from "../local/stack.js";
import { connectedMessage, mediaMessage, startMessage, type StreamIds } from "../sim/frames.js";
import { distribution, type Distribution } from "./stats.js";

export interface RelayRun {
  calls: number;
  call_seconds: number;
  frames_each_way: number;
  frames_lost: number;
  /** workerd CPU (user + system) per minute of call, idle baseline subtracted. */
  cpu_ms_per_call_minute: number;
  cpu_ms_per_call_hour: number;
  idle_cpu_ms_per_second: number;
  caller_to_core_ms: Distribution;
  core_to_caller_ms: Distribution;
  /** From sending `start` to the first greeting frame, every call starting at once (our edge only). */
  greeting_first_frame_ms?: Distribution;
}

export interface EdgeRelayResult {
  suite: "edge";
  /** Our worker (edge/src) relaying the calls. */
  edge: RelayRun;
  /**
   * A worker that only forwards each message to the other socket, in the same workerd, same run:
   * the runtime's own floor for two WebSockets per call. edge − floor = what our code costs.
   */
  blind_relay: RelayRun;
  edge_minus_blind_cpu_ms_per_call_minute: number;
}

/** The floor: accept the caller, open the core link, forward every message verbatim, nothing else. */
const BLIND_RELAY_WORKER = `
export default {
  async fetch(request, env) {
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    const response = await fetch(env.CORE_URL + "/call", { headers: { Upgrade: "websocket" } });
    const core = response.webSocket;
    core.accept();
    server.addEventListener("message", (event) => core.send(event.data));
    core.addEventListener("message", (event) => server.send(event.data));
    server.addEventListener("close", () => core.close(1000));
    core.addEventListener("close", () => server.close(1000));
    return new Response(null, { status: 101, webSocket: client });
  },
};`;

const CLOCK_TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/** CPU (user + system, ms) of every workerd process descending from this one. */
function workerdCpuMs(): number {
  const stats = readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map((pid) => {
      try {
        const text = readFileSync(`/proc/${pid}/stat`, "utf8");
        // The command name is in parentheses and may hold spaces: fields count from after it.
        const close = text.lastIndexOf(")");
        const fields = text.slice(close + 2).split(" ");
        return { pid: Number(pid), comm: text.slice(text.indexOf("(") + 1, close), ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
      } catch {
        return undefined; // gone meanwhile
      }
    })
    .filter((stat) => stat !== undefined);
  const ours = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const stat of stats) if (ours.has(stat.ppid) && !ours.has(stat.pid)) (ours.add(stat.pid), (grew = true));
  }
  const workerd = stats.filter((stat) => ours.has(stat.pid) && stat.comm.startsWith("workerd"));
  if (workerd.length === 0) throw new Error("no workerd process found under this one");
  return (workerd.reduce((sum, stat) => sum + stat.ticks, 0) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Frame index carried in the audio bytes, so the receiver can match each frame to its send time. */
function indexedPayload(index: number): Uint8Array {
  const audio = new Uint8Array(FRAME_BYTES).fill(0xff);
  audio[0] = index >> 16;
  audio[1] = (index >> 8) & 0xff;
  audio[2] = index & 0xff;
  return audio;
}

function payloadIndex(base64: string): number {
  const head = Buffer.from(base64.slice(0, 4), "base64");
  return (head[0]! << 16) | (head[1]! << 8) | head[2]!;
}

export async function runEdgeRelayBench(options: { calls?: number; seconds?: number } = {}): Promise<EdgeRelayResult> {
  const calls = options.calls ?? 20;
  const seconds = options.seconds ?? 60;
  const { vars } = await readWranglerConfig();
  // A greeting in KV, so each call's start costs what it costs in production.
  const greetingKey = await phraseKey({ text: vars.GREETING_TEXT!, language: vars.LANGUAGE!, voice: vars.TTS_VOICE!, encoding: "MULAW", sampleRateHertz: 8000 });
  const core = await startEchoCore();
  try {
    const edge = await startEdge({
      coreUrl: core.url,
      secrets: LOCAL_SECRETS,
      kvSeed: { [greetingKey]: new Uint8Array(16_000).fill(0xff) },
      onLog: () => {},
    });
    const ours = await measureRelay(edge.url, core, calls, seconds, true).finally(() => edge.close());
    const blind = new Miniflare({
      host: "127.0.0.1",
      port: 0,
      modules: true,
      script: BLIND_RELAY_WORKER,
      compatibilityDate: "2026-04-20",
      bindings: { CORE_URL: core.url },
      cf: false,
    });
    const blindUrl = (await blind.ready).origin;
    const floor = await measureRelay(blindUrl, core, calls, seconds, false).finally(() => blind.dispose());
    return {
      suite: "edge",
      edge: ours,
      blind_relay: floor,
      edge_minus_blind_cpu_ms_per_call_minute: Math.round((ours.cpu_ms_per_call_minute - floor.cpu_ms_per_call_minute) * 10) / 10,
    };
  } finally {
    await core.close();
  }
}

type EchoCore = Awaited<ReturnType<typeof startEchoCore>>;

/** The core's side: every caller media frame is answered at once with one agent media frame. */
async function startEchoCore() {
  const arrivedAtCore = new Map<string, number>();
  const sentToCaller = new Map<string, number>();
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/call" });
  await new Promise((resolve) => server.once("listening", resolve));
  server.on("connection", (socket) => {
    let streamSid = "";
    socket.on("message", (data) => {
      const at = performance.now();
      const frame = JSON.parse(data.toString()) as { event: string; streamSid?: string; media?: { payload: string } };
      if (frame.event === "start") streamSid = frame.streamSid!;
      if (frame.event !== "media") return;
      const key = `${streamSid}/${payloadIndex(frame.media!.payload)}`;
      arrivedAtCore.set(key, at);
      sentToCaller.set(key, performance.now());
      socket.send(JSON.stringify({ event: "media", streamSid, media: { payload: frame.media!.payload } }));
    });
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivedAtCore,
    sentToCaller,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** `calls` signed Twilio streams through the relay at `url`, each sending a 20 ms frame on one shared clock for `seconds`. */
async function measureRelay(url: string, core: EchoCore, calls: number, seconds: number, greets: boolean): Promise<RelayRun> {
  core.arrivedAtCore.clear();
  core.sentToCaller.clear();
  const frames = (seconds * 1000) / FRAME_MS;
  const sentToCore = new Map<string, number>();
  const arrivedAtCaller = new Map<string, number>();
  const greetingMs: number[] = [];
  const idleSeconds = 5;
  const idleFrom = workerdCpuMs();
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  const idlePerSecond = (workerdCpuMs() - idleFrom) / idleSeconds;

  const streamUrl = `${url.replace(/^http/, "ws").replace(/\/$/, "")}/twilio/media`;
  const signature = await twilioSignature(LOCAL_SECRETS.TWILIO_AUTH_TOKEN, streamUrl, {});
  const sockets = await Promise.all(
    Array.from({ length: calls }, async (_, call) => {
      const socket = new WebSocket(streamUrl, { headers: { "x-twilio-signature": signature } });
      await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
      const ids: StreamIds = { accountSid: "AC0", callSid: `CAbench${call}`, streamSid: `MZbench${call}` };
      let startedAt: number | undefined;
      socket.on("message", (data) => {
        const frame = JSON.parse(data.toString()) as { event: string; media?: { payload: string } };
        if (frame.event !== "media") return;
        if (startedAt !== undefined) (greetingMs.push(performance.now() - startedAt), (startedAt = undefined));
        const key = `${ids.streamSid}/${payloadIndex(frame.media!.payload)}`;
        if (core.sentToCaller.has(key)) arrivedAtCaller.set(key, performance.now());
      });
      socket.send(JSON.stringify(connectedMessage()));
      startedAt = performance.now();
      socket.send(JSON.stringify(startMessage(1, ids, {})));
      return { socket, ids };
    }),
  );

  const cpuFrom = workerdCpuMs();
  const wallFrom = performance.now();
  // One drift-free clock for all calls: tick n is due at wallFrom + 20 n.
  for (let tick = 0; tick < frames; tick++) {
    const wait = wallFrom + tick * FRAME_MS - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    for (const { socket, ids } of sockets) {
      // Indexes start at 1: the greeting's frames are silence (0xffffff), never a sent index.
      const index = tick + 1;
      sentToCore.set(`${ids.streamSid}/${index}`, performance.now());
      socket.send(JSON.stringify(mediaMessage(tick + 2, ids.streamSid, tick, indexedPayload(index))));
    }
  }
  // The last frames arrive before the window closes.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const cpuMs = workerdCpuMs() - cpuFrom - idlePerSecond * ((performance.now() - wallFrom) / 1000);
  await Promise.all(
    sockets.map(({ socket }) => new Promise((resolve) => (socket.once("close", resolve), socket.close(1000)))),
  );

  const transit = (sent: Map<string, number>, arrived: Map<string, number>) => [...arrived].map(([key, at]) => at - sent.get(key)!);
  const callMinutes = (calls * seconds) / 60;
  return {
    calls,
    call_seconds: seconds,
    frames_each_way: calls * frames,
    frames_lost: calls * frames - arrivedAtCaller.size,
    cpu_ms_per_call_minute: Math.round((cpuMs / callMinutes) * 10) / 10,
    cpu_ms_per_call_hour: Math.round((cpuMs / callMinutes) * 60),
    idle_cpu_ms_per_second: Math.round(idlePerSecond * 10) / 10,
    caller_to_core_ms: distribution(transit(sentToCore, core.arrivedAtCore)),
    core_to_caller_ms: distribution(transit(core.sentToCaller, arrivedAtCaller)),
    ...(greets && { greeting_first_frame_ms: distribution(greetingMs) }),
  };
}
