// Test harness for the call tests (not used by the core): the real emulators (Google Speech and TTS
// over gRPC, OpenAI over HTTP), the core's app and server in-process, and `EdgeLink`, a WebSocket
// client playing the edge's part with Twilio's behaviour folded in: it relays a caller's audio as
// media frames in real time (speech from eSpeak, silence between, like a live line) and "plays" the
// answer at real time, echoing each mark when the audio before it has played, and at once on clear.
// It keeps the core's control messages (core.state, core.move, core.end) and can open a call as a
// resumed one (a core that went away, or a caller back from a transfer nobody took).
import WebSocket from "ws";
import {
  FRAME_BYTES,
  MULAW_SILENCE,
  coreToEdge,
  levelDbfs as levelOf,
  mulawToPcm,
  pcmToMulaw,
  signCoreToken,
  type ConversationState,
  type CoreEnd,
  type CoreToEdge,
  type EdgeGreeting,
  type EdgeResume,
  type TransferReturn,
} from "@voice/protocol";
import { startEmulators, type Emulators, type EmulatorsOptions } from "../../infra/local/emulators/index.js";
import { synthesizeSpeech } from "../../infra/speech/espeak.js";
import { buildApp, type App } from "../src/app.js";
import { configSecrets, loadConfig } from "../src/config.js";
import { createLogger } from "../src/metrics/log.js";
import { LogCapture } from "./log-capture.js";
import { startServer, type CoreServer } from "../src/server.js";

export const TEST_SECRET = "test-shared-secret-0123456789";

/**
 * For tests that count or list a turn's LLM requests, or aim a fault at "the next request": a
 * speculative answer on a partial adds a request (several when the caller pauses mid-sentence, or
 * the recognizer's partials come late on a loaded machine). src/call/speculation.test.ts covers speculation.
 */
export const NO_SPECULATION = { LLM_SPECULATE: "false" } as const;
export const TEST_GREETING = "שלום, הגעתם למרפאת השיניים. במה אפשר לעזור?";

/**
 * Settings every test core starts with unless a test gives its own: a call driven faster than real
 * time (`speed`) runs its audio ahead of wall time, which the default MAX_AUDIO_BACKLOG_MS would
 * thin out, and sends more frames a second than a phone line (src/call/limits.test.ts and
 * hostile.test.ts test the limits at their defaults). A caller who stays quiet while a test waits on
 * something else is not reprompted: src/call/call-control.test.ts sets IDLE_REPROMPT_MS itself.
 */
const TEST_CORE_ENV = { MAX_FRAMES_PER_SECOND: "1000", MAX_AUDIO_BACKLOG_MS: "3600000", IDLE_REPROMPT_MS: "600000" } as const;

export interface CoreUnderTest {
  emulators: Emulators;
  app: App;
  server: CoreServer;
  /** Every line the core logged. */
  logs: LogCapture;
  /** Opens a call's link as the edge would (token for `callSid`). */
  open(callSid: string, token?: string): Promise<EdgeLink>;
  close(): Promise<void>;
}

/** Emulators (quiet), then the app warmed up, then the server on a free loopback port. */
export async function startCore(
  options: { emulators?: EmulatorsOptions; env?: Record<string, string>; debug?: boolean } = {},
): Promise<CoreUnderTest> {
  const quiet = () => {};
  const given = options.emulators ?? {};
  const emulators = await startEmulators({
    ...given,
    speech: { log: quiet, ...given.speech },
    tts: { log: quiet, ...given.tts },
    openai: { log: quiet, ...given.openai },
  });
  const config = loadConfig({ ...emulators.env, CORE_SHARED_SECRET: TEST_SECRET, PORT: "0", GREETING_TEXT: TEST_GREETING, ...TEST_CORE_ENV, ...options.env });
  const logs = new LogCapture();
  const log = createLogger({ level: "info", debug: options.debug ?? false, destination: logs, secrets: configSecrets(config) });
  const app = await buildApp(config, log);
  const report = await app.warmup();
  if (report.tts_warmup_error) throw new Error(`warmup failed: ${report.tts_warmup_error}`);
  const server = await startServer(app, { port: 0, host: "127.0.0.1" });
  return {
    emulators,
    app,
    server,
    logs,
    open: (callSid, token) => EdgeLink.open(server.port, callSid, token),
    async close() {
      await server.close();
      await app.close();
      await emulators.close();
    },
  };
}

/** `text` spoken by eSpeak (the caller's voice), as 8 kHz mu-law. */
export async function callerSpeech(text: string): Promise<Uint8Array> {
  return pcmToMulaw(await synthesizeSpeech(text, { voice: "he", sampleRate: 8000 }));
}

/** Loud white noise (a cough, a bump on the handset) as 8 kHz mu-law; seeded, so every run is the same. */
export function noiseBurst(ms: number): Uint8Array {
  let seed = 12345;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  return pcmToMulaw(Int16Array.from({ length: (ms * 8000) / 1000 }, () => Math.round(random() * 8000)));
}

/** RMS level (dBFS) of mu-law audio. */
export function levelDbfs(chunks: Uint8Array[]): number {
  return levelOf(mulawToPcm(new Uint8Array(Buffer.concat(chunks))));
}

/** Resolves once `condition()` holds, checking after every turn of the event loop; rejects after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The edge's side of one call, with Twilio's behaviour folded in (real-time audio, mark echoes). */
export class EdgeLink {
  readonly received: CoreToEdge[] = [];
  /** When each frame of `received` arrived (performance.now()). */
  readonly arrivals: number[] = [];
  /** Answer audio per turn, from the turn number in the marks that follow it. */
  private audioSinceMark: Uint8Array[] = [];
  readonly audioByTurn = new Map<number, Uint8Array[]>();
  readonly echoed: string[] = [];
  /** Marks echoed because a clear dropped their audio (Twilio returns them unplayed). */
  readonly released: string[] = [];
  /** Every core.state received, in order (the edge keeps the latest). */
  readonly states: ConversationState[] = [];
  private waiters: Array<{ test: (frame: CoreToEdge) => boolean; resolve: (frame: CoreToEdge) => void }> = [];
  private queue: Array<{ frame: Uint8Array; onSent?: () => void }> = [];
  private sentFrames = 0;
  /** A network stall to come: from the frame at `audioMs` on, frames are held `ms`, then delivered at once. */
  private stalls: Array<{ audioMs: number; ms: number; delivered: () => void }> = [];
  /** Frames the network holds during a stall, in order (media, keys, mark echoes alike). */
  private held: string[] | undefined;
  private lineTimer: NodeJS.Timeout | undefined;
  private lineStartedAt = 0;
  /** Where the answer audio queued so far ends, in wall time (ms, performance.now()). */
  private playbackEnd = 0;
  /** Marks waiting for their audio to play out, in order. */
  private pendingEchoes = new Map<NodeJS.Timeout, string>();
  private echoWaiters: Array<{ name: string; resolve: () => void }> = [];
  /** When false, marks are not echoed (audio that never finishes playing, as far as the core knows). */
  echoMarks = true;
  /** Audio per wall-clock second, in seconds, both ways (see begin). */
  private speed = 1;
  private hangingUp = false;
  /** The core closed the call before the caller hung up. */
  closedByCore = false;
  /** The link's close code, once closed. */
  readonly closed: Promise<number>;

  private constructor(
    readonly ws: WebSocket,
    readonly callSid: string,
    readonly streamSid: string,
  ) {
    ws.on("message", (data) => this.onFrame(coreToEdge.parse(JSON.parse(String(data)))));
    this.closed = new Promise((resolve) =>
      ws.on("close", (code) => {
        if (!this.hangingUp) this.closedByCore = true;
        resolve(code);
      }),
    );
  }

  static async open(port: number, callSid: string, token?: string): Promise<EdgeLink> {
    const auth = token ?? (await signCoreToken(TEST_SECRET, "call", callSid, Date.now()));
    const ws = new WebSocket(`ws://127.0.0.1:${port}/call`, { headers: { Authorization: `Bearer ${auth}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new EdgeLink(ws, callSid, `MZ${callSid}`);
  }

  sendJson(frame: unknown): void {
    if (this.held) this.held.push(JSON.stringify(frame));
    else this.ws.send(JSON.stringify(frame));
  }

  /**
   * A network stall, as TCP makes one: once the line reaches `audioMs` of caller audio, every frame
   * (the line goes on at real time) is held for `ms`, then the backlog goes out at once. Resolves
   * when it has.
   */
  stallAt(audioMs: number, ms: number): Promise<void> {
    return new Promise((delivered) => this.stalls.push({ audioMs, ms, delivered }));
  }

  private beginStall(ms: number, delivered: () => void): void {
    this.held = [];
    setTimeout(() => {
      const backlog = this.held ?? [];
      this.held = undefined;
      if (this.ws.readyState === WebSocket.OPEN) for (const frame of backlog) this.ws.send(frame);
      delivered();
    }, ms);
  }

  /** `start` then the greeting message, as the edge sends them, and no audio: the test sends frames itself. `recordUrl`: where the edge takes the record. */
  open(greetingPlayed: boolean, options: { recordUrl?: string } = {}): void {
    this.sendStart();
    const greeting: EdgeGreeting = { event: "edge.greeting", played: greetingPlayed, text: TEST_GREETING, mark: greetingPlayed ? "greeting" : undefined, recordUrl: options.recordUrl };
    this.sendJson(greeting);
  }

  /** A media frame of `payload` (base64) as Twilio numbers it; `n` counts from 0. */
  mediaFrame(n: number, payload = Buffer.from(new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE)).toString("base64")): Record<string, unknown> {
    return {
      event: "media",
      sequenceNumber: String(n + 2),
      streamSid: this.streamSid,
      media: { track: "inbound", chunk: String(n + 1), timestamp: String(n * 20), payload },
    };
  }

  /**
   * `start` then the greeting message, as the edge sends them; then audio flows in real time, or
   * `speed` times faster (the caller's frames, and the answer's playout with its mark echoes) for a
   * long call whose logic runs on the audio clock.
   */
  begin(greetingPlayed: boolean, options: { speed?: number; recordUrl?: string } = {}): void {
    this.open(greetingPlayed, options);
    this.startLine(options.speed);
  }

  /**
   * `start` then `edge.resume`, as the edge re-opens a call on a new core: `state` is the last
   * core.state it got; `transfer`: the caller is back from a transfer nobody took.
   */
  resume(state: ConversationState | null, options: { speed?: number; transfer?: TransferReturn; recordUrl?: string } = {}): void {
    this.sendStart();
    const resume: EdgeResume = { event: "edge.resume", state, attempt: 1, transfer: options.transfer, recordUrl: options.recordUrl };
    this.sendJson(resume);
    this.startLine(options.speed);
  }

  private sendStart(): void {
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
  }

  private startLine(speed = 1): void {
    this.speed = speed;
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

  /**
   * Sends the next `frames` frames of the line at once, ahead of real time (as a network that held
   * them, or a misbehaving edge, would); the line then waits until real time catches up.
   */
  burst(frames: number): void {
    for (let i = 0; i < frames; i++) {
      const queued = this.queue.shift();
      this.sendJson(this.mediaFrame(this.sentFrames++, Buffer.from(queued?.frame ?? new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE)).toString("base64")));
      queued?.onSent?.();
    }
  }

  /** Caller audio sent so far (ms on the caller's clock). */
  get audioSentMs(): number {
    return this.sentFrames * 20;
  }

  /** The caller presses a key (Twilio's `dtmf` frame). */
  key(digit: string): void {
    this.sendJson({ event: "dtmf", sequenceNumber: "0", streamSid: this.streamSid, dtmf: { track: "inbound_track", digit } });
  }

  /** Sends every frame that is due by now: one per 20 ms of wall time, silence when nothing is queued. */
  private pump(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const due = Math.floor(((performance.now() - this.lineStartedAt) * this.speed) / 20);
    while (this.sentFrames < due) {
      const stall = this.stalls[0];
      if (stall && !this.held && this.sentFrames * 20 >= stall.audioMs) {
        this.stalls.shift();
        this.beginStall(stall.ms, stall.delivered);
      }
      const queued = this.queue.shift();
      const frame = queued?.frame ?? new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
      this.sendJson(this.mediaFrame(this.sentFrames++, Buffer.from(frame).toString("base64")));
      queued?.onSent?.();
    }
  }

  private onFrame(frame: CoreToEdge): void {
    this.received.push(frame);
    const now = performance.now();
    this.arrivals.push(now);
    if (frame.event === "media") {
      this.audioSinceMark.push(new Uint8Array(Buffer.from(frame.media.payload, "base64")));
      this.playbackEnd = Math.max(now, this.playbackEnd) + 20 / this.speed;
    } else if (frame.event === "mark") {
      const turn = Number(frame.mark.name.split(".")[0]);
      this.audioByTurn.set(turn, [...(this.audioByTurn.get(turn) ?? []), ...this.audioSinceMark]);
      this.audioSinceMark = [];
      if (this.echoMarks) this.echoAt(frame.mark.name, Math.max(0, this.playbackEnd - now));
    } else if (frame.event === "clear") {
      // Buffered audio is dropped, pending marks come back at once (as Twilio does).
      this.playbackEnd = now;
      for (const [timer, name] of this.pendingEchoes) {
        clearTimeout(timer);
        this.released.push(name);
        this.echo(name);
      }
      this.pendingEchoes.clear();
    } else if (frame.event === "core.state") {
      this.states.push(frame.state);
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

  /** Resolves with the core's `core.end` (how it ended the call) once it came. */
  async coreEnd(): Promise<CoreEnd> {
    const frame = await this.next((f) => f.event === "core.end");
    if (frame.event !== "core.end") throw new Error("not a core.end");
    return frame;
  }

  mark(name: string): Promise<CoreToEdge> {
    return this.next((f) => f.event === "mark" && f.mark.name === name);
  }

  /** The first mark whose name starts with `prefix`, e.g. "1.1:" for the first sentence of turn 1. */
  async markStarting(prefix: string): Promise<string> {
    const frame = await this.next((f) => f.event === "mark" && f.mark.name.startsWith(prefix));
    return frame.event === "mark" ? frame.mark.name : "";
  }

  marks(): string[] {
    return this.received.flatMap((f) => (f.event === "mark" ? [f.mark.name] : []));
  }

  clears(): number {
    return this.received.filter((f) => f.event === "clear").length;
  }

  async hangUp(): Promise<void> {
    this.hangingUp = true;
    clearInterval(this.lineTimer);
    for (const timer of this.pendingEchoes.keys()) clearTimeout(timer);
    this.pendingEchoes.clear();
    this.sendJson({ event: "stop", sequenceNumber: "9999", streamSid: this.streamSid, stop: { accountSid: "AC1", callSid: this.callSid } });
    if (this.ws.readyState !== WebSocket.CLOSED) await new Promise((resolve) => this.ws.once("close", resolve));
  }
}

/**
 * The caller says each line after `silenceMs` of silence, as a turn-taking caller does: the next line
 * only once the answer to the last one was sent and played (its end mark echoed). Turn k answers line k.
 */
export async function converse(call: EdgeLink, speech: Uint8Array[], silenceMs = 600): Promise<void> {
  for (const [i, audio] of speech.entries()) {
    await call.say(audio, silenceMs);
    const end = `${i + 1}.end`;
    await call.mark(end);
    if (i < speech.length - 1) await call.echoOf(end);
  }
}
