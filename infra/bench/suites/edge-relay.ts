// The edge's cost per call, measured on the real runtime: the worker runs in workerd (startEdge)
// between Node WebSocket clients playing Twilio and a fake core that answers every caller frame with
// an agent frame, as a speaking agent does. Reported: workerd's CPU per call-minute (from
// /proc/<pid>/stat, idle baseline subtracted) and each frame's transit through the edge, both ways
// (sent by one Node socket -> received by the other; loopback and the ws library included). Then
// our edge's capacity on one CPU core: workerd pinned to CPU 0, calls added in steps until a frame's
// transit p99 passes 20 ms either way.
import type { AddressInfo } from "node:net";
import { FRAME_BYTES, FRAME_MS, phraseKey, twilioSignature } from "@voice/protocol";
import { Miniflare } from "miniflare";
import { WebSocket, WebSocketServer } from "ws";
import { readWranglerConfig, startEdge } from "../../local/edge.js";
import { LOCAL_SECRETS } from "../../local/stack.js";
import { connectedMessage, mediaMessage, type StreamIds } from "../../twilio/media-stream-frames.js";
import { signedStart, streamIds } from "../../twilio/stream-start.js";
import { descendantPids, pinProcess, processCpuMs, processCpus, workerdCpuMs } from "../lib/proc.js";
import { distribution, type Distribution } from "../../stats/distribution.js";

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
  /** Our edge on one CPU core: the most calls it relays within the transit limit. */
  capacity: EdgeCapacity;
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

export async function runEdgeRelayBench(options: { calls?: number; seconds?: number; capacitySteps?: number[]; pin?: boolean } = {}): Promise<EdgeRelayResult> {
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
    const { ours, capacity } = await (async () => {
      const ours = await measureRelay(edge.url, core, calls, seconds, true);
      return { ours, capacity: await measureEdgeCapacity(edge.url, core, options.capacitySteps ?? EDGE_STEPS, options.pin ?? true) };
    })().finally(() => edge.close());
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
      capacity,
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


/**
 * Signed Twilio streams through the relay at `url`, each sending an indexed 20 ms frame on one shared
 * drift-free clock (missed ticks are sent at once after a stall, as a live line would); calls can be
 * added while it runs. Every send and arrival is timed, on both sides of the relay.
 */
class RelayLoad {
  private readonly calls: { socket: WebSocket; ids: StreamIds; sequence: number }[] = [];
  readonly sentToCore = new Map<string, number>();
  readonly arrivedAtCaller = new Map<string, number>();
  readonly greetingMs: number[] = [];
  /** How late the shared clock ran each time it woke (the load generator's own health). */
  clockLatenessMs: number[] = [];
  framesSent = 0;
  private nextTick = 0;
  private readonly startedAt = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private added = 0;

  constructor(
    private readonly streamUrl: string,
    private readonly signature: string,
    private readonly core: EchoCore,
  ) {}

  static async open(url: string, core: EchoCore): Promise<RelayLoad> {
    const streamUrl = `${url.replace(/^http/, "ws").replace(/\/$/, "")}/twilio/media`;
    return new RelayLoad(streamUrl, await twilioSignature(LOCAL_SECRETS.TWILIO_AUTH_TOKEN, streamUrl, {}), core);
  }

  get count(): number {
    return this.calls.length;
  }

  /** Connects one more call and sends `connected` and `start`; its frames go out from the next tick. */
  async addCall(): Promise<void> {
    // Numbered before any await: calls added at once must not share a CallSid (the edge refuses a second stream of a call).
    const n = this.added++;
    const socket = new WebSocket(this.streamUrl, { headers: { "x-twilio-signature": this.signature }, perMessageDeflate: false });
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));

    const ids: StreamIds = streamIds(n, 0xbe1c);
    const start = await signedStart(ids, LOCAL_SECRETS.STREAM_TOKEN_SECRET);
    let startedAt: number | undefined;
    socket.on("message", (data) => {
      const at = performance.now();
      const frame = JSON.parse(data.toString()) as { event: string; media?: { payload: string } };
      if (frame.event !== "media") return;
      if (startedAt !== undefined) (this.greetingMs.push(at - startedAt), (startedAt = undefined));
      const key = `${ids.streamSid}/${payloadIndex(frame.media!.payload)}`;
      if (this.core.sentToCaller.has(key)) this.arrivedAtCaller.set(key, at);
    });
    socket.send(JSON.stringify(connectedMessage()));
    startedAt = performance.now();
    socket.send(JSON.stringify(start));
    this.calls.push({ socket, ids, sequence: 1 });
  }

  start(): void {
    this.running = true;
    this.nextTick = Math.floor((performance.now() - this.startedAt) / FRAME_MS) + 1;
    const run = () => {
      if (!this.running) return;
      const now = performance.now();
      this.clockLatenessMs.push(now - (this.startedAt + this.nextTick * FRAME_MS));
      for (const due = Math.floor((now - this.startedAt) / FRAME_MS); this.nextTick <= due; this.nextTick++) this.sendTick(this.nextTick);
      this.timer = setTimeout(run, Math.max(0, this.startedAt + this.nextTick * FRAME_MS - performance.now()));
    };
    this.timer = setTimeout(run, Math.max(0, this.startedAt + this.nextTick * FRAME_MS - performance.now()));
  }

  /** Forgets the frames timed so far (a new measurement window starts). */
  resetWindow(): void {
    this.sentToCore.clear();
    this.arrivedAtCaller.clear();
    this.core.arrivedAtCore.clear();
    this.core.sentToCaller.clear();
    this.clockLatenessMs = [];
    this.framesSent = 0;
  }

  /** Transit both ways of the frames sent since the window began, and how many never came back. */
  windowStats(): { callerToCore: number[]; coreToCaller: number[]; lost: number } {
    const transit = (sent: Map<string, number>, arrived: Map<string, number>) =>
      [...arrived].flatMap(([key, at]) => (sent.has(key) ? [at - sent.get(key)!] : []));
    const lost = [...this.sentToCore.keys()].filter((key) => !this.arrivedAtCaller.has(key)).length;
    return { callerToCore: transit(this.sentToCore, this.core.arrivedAtCore), coreToCaller: transit(this.core.sentToCaller, this.arrivedAtCaller), lost };
  }

  stopClock(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  async close(): Promise<void> {
    this.stopClock();
    await Promise.all(
      this.calls.map(({ socket }) => new Promise((resolve) => (socket.once("close", resolve), socket.close(1000)))),
    );
  }

  private sendTick(tick: number): void {
    // Indexes start at 1: the greeting's frames are silence (0xffffff), never a sent index.
    const payload = indexedPayload(tick + 1);
    for (const call of this.calls) {
      if (call.socket.readyState !== WebSocket.OPEN) continue;
      this.sentToCore.set(`${call.ids.streamSid}/${tick + 1}`, performance.now());
      call.socket.send(JSON.stringify(mediaMessage(++call.sequence, call.ids.streamSid, tick, payload)));
      this.framesSent++;
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `calls` streams through the relay at `url` for `seconds`: workerd's CPU per call and each frame's transit. */
async function measureRelay(url: string, core: EchoCore, calls: number, seconds: number, greets: boolean): Promise<RelayRun> {
  core.arrivedAtCore.clear();
  core.sentToCaller.clear();
  const idleSeconds = 5;
  const idleFrom = workerdCpuMs();
  await sleep(idleSeconds * 1000);
  const idlePerSecond = (workerdCpuMs() - idleFrom) / idleSeconds;

  const load = await RelayLoad.open(url, core);
  await Promise.all(Array.from({ length: calls }, () => load.addCall()));
  const cpuFrom = workerdCpuMs();
  const wallFrom = performance.now();
  load.start();
  await sleep(seconds * 1000);
  load.stopClock();
  // The last frames arrive before the window closes.
  await sleep(500);
  const cpuMs = workerdCpuMs() - cpuFrom - idlePerSecond * ((performance.now() - wallFrom) / 1000);
  const sentFrames = load.framesSent;
  const { callerToCore, coreToCaller, lost } = load.windowStats();
  await load.close();

  const callMinutes = (calls * seconds) / 60;
  return {
    calls,
    call_seconds: seconds,
    frames_each_way: sentFrames,
    frames_lost: lost,
    cpu_ms_per_call_minute: Math.round((cpuMs / callMinutes) * 10) / 10,
    cpu_ms_per_call_hour: Math.round((cpuMs / callMinutes) * 60),
    idle_cpu_ms_per_second: Math.round(idlePerSecond * 10) / 10,
    caller_to_core_ms: distribution(callerToCore),
    core_to_caller_ms: distribution(coreToCaller),
    ...(greets && { greeting_first_frame_ms: distribution(load.greetingMs) }),
  };
}

export interface EdgeCapacityStep {
  calls: number;
  caller_to_core_ms: Distribution;
  core_to_caller_ms: Distribution;
  frames_lost: number;
  workerd_cpu_percent: number;
  /** This process (callers and the echoing core): near 100% the limit is the load, not workerd. */
  load_cpu_percent: number;
  load_clock_lateness_ms: Distribution;
  sustained: boolean;
  failed: string[];
}

export interface EdgeCapacity {
  workerd_cpu: string;
  load_cpu: string;
  steps: EdgeCapacityStep[];
  /** The most calls of a step sustained along with every smaller one (a lower bound when every step was sustained). */
  max_sustained_calls: number;
  every_step_sustained: boolean;
}

const EDGE_STEPS = [25, 50, 75, 100, 150, 200, 300];
const EDGE_WINDOW_MS = 10_000;
const EDGE_SETTLE_MS = 3000;
const TRANSIT_LIMIT_MS = 20;

/**
 * The most calls workerd relays on one CPU core with every frame's transit p99 within 20 ms both
 * ways: workerd pinned to CPU 0, this process (callers and the echoing core) to CPU 1; calls added
 * in steps, each measured over a window once connected. Past the first miss the steps go on (the
 * curve shows what limits) until workerd or this process is plainly overloaded.
 */
async function measureEdgeCapacity(url: string, core: EchoCore, targets: number[], pin: boolean): Promise<EdgeCapacity> {
  const ownCpus = processCpus(process.pid);
  const workerd = descendantPids(process.pid, "workerd");
  const workerdCpus = workerd.map((pid) => processCpus(pid));
  if (pin) {
    for (const pid of workerd) pinProcess(pid, "0");
    pinProcess(process.pid, "1");
  }
  const load = await RelayLoad.open(url, core);
  try {
    load.start();
    const steps: EdgeCapacityStep[] = [];
    for (const target of targets) {
      while (load.count < target) await load.addCall();
      await sleep(EDGE_SETTLE_MS);
      load.resetWindow();
      const cpuFrom = workerdCpuMs();
      const loadCpuFrom = processCpuMs(process.pid);
      const from = performance.now();
      await sleep(EDGE_WINDOW_MS);
      const windowMs = performance.now() - from;
      const cpuPercent = ((workerdCpuMs() - cpuFrom) / windowMs) * 100;
      const loadCpuPercent = ((processCpuMs(process.pid) - loadCpuFrom) / windowMs) * 100;
      // Frames still in flight when the window closes are not lost: give them a moment.
      const sentBefore = new Map(load.sentToCore);
      await sleep(300);
      const stats = load.windowStats();
      const lost = [...sentBefore.keys()].filter((key) => !load.arrivedAtCaller.has(key)).length;
      const step: EdgeCapacityStep = {
        calls: target,
        caller_to_core_ms: distribution(stats.callerToCore),
        core_to_caller_ms: distribution(stats.coreToCaller),
        frames_lost: lost,
        workerd_cpu_percent: Math.round(cpuPercent * 10) / 10,
        load_cpu_percent: Math.round(loadCpuPercent * 10) / 10,
        load_clock_lateness_ms: distribution(load.clockLatenessMs),
        sustained: false,
        failed: [],
      };
      if (step.caller_to_core_ms.p99 > TRANSIT_LIMIT_MS) step.failed.push(`caller -> core p99 ${step.caller_to_core_ms.p99} ms > ${TRANSIT_LIMIT_MS}`);
      if (step.core_to_caller_ms.p99 > TRANSIT_LIMIT_MS) step.failed.push(`core -> caller p99 ${step.core_to_caller_ms.p99} ms > ${TRANSIT_LIMIT_MS}`);
      if (lost > 0) step.failed.push(`${lost} frames lost`);
      if (step.load_clock_lateness_ms.p99 > TRANSIT_LIMIT_MS) {
        step.failed.push(`the load generator's clock ran late (p99 ${step.load_clock_lateness_ms.p99} ms): the limit may be the load, not workerd`);
      }
      step.sustained = step.failed.length === 0;
      steps.push(step);
      console.error(`edge capacity: ${target} calls: transit p99 ${step.caller_to_core_ms.p99} / ${step.core_to_caller_ms.p99} ms, workerd CPU ${step.workerd_cpu_percent}%, load CPU ${step.load_cpu_percent}%${step.sustained ? "" : ` — not sustained: ${step.failed.join("; ")}`}`);
      const overloaded = lost > 0 || step.workerd_cpu_percent >= 95 || step.load_cpu_percent >= 90 || Math.max(step.caller_to_core_ms.p99, step.core_to_caller_ms.p99) > 100;
      if (overloaded) break;
    }
    const firstMiss = steps.findIndex((step) => !step.sustained);
    const sustained = firstMiss < 0 ? steps : steps.slice(0, firstMiss);
    return {
      workerd_cpu: pin ? "0" : `unpinned (${workerdCpus.join(", ")})`,
      load_cpu: pin ? `1 (was ${ownCpus})` : `unpinned (${ownCpus})`,
      steps,
      max_sustained_calls: sustained.at(-1)?.calls ?? 0,
      every_step_sustained: sustained.length === steps.length,
    };
  } finally {
    await load.close();
    pinProcess(process.pid, ownCpus);
    workerd.forEach((pid, i) => pinProcess(pid, workerdCpus[i]!));
  }
}
