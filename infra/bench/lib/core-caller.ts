// Calls placed straight on the core's /call WebSocket (no edge), as cheaply as the load allows, with
// Twilio's behaviour folded in: one shared drift-free 20 ms clock sends every call's caller frame
// (a script line, or silence), agent audio is "played" at real time, and each mark is echoed once
// the audio before it has played. A call says its next line a pause after the last answer was heard.
//
// What it measures, per answer: the latency (caller's last frame sent -> first answer frame
// received), how late each answer frame arrives against real-time playout from the answer's first
// frame (a positive lateness is a gap the caller hears), and how long each mark trails the frame
// before it.
import { FRAME_MS, signCoreToken } from "@voice/protocol";
import { WebSocket } from "ws";

export interface CallerLine {
  /** The line's 20 ms mu-law frames, already base64 (shared by every call). */
  payloads: string[];
}

export interface CoreCallOptions {
  /** ws://host:port of the core. */
  coreWsUrl: string;
  secret: string;
  callSid: string;
  lines: CallerLine[];
  greetingText: string;
  /** Silence before the first line. */
  firstLineAfterMs: number;
  /** Silence after an answer was heard, before the next line. */
  pauseMs: number;
  /** An answer not begun this long after the line ended counts as missing; the caller goes on. */
  answerTimeoutMs: number;
}

/** What the calls saw, since the last reset (one measurement window). */
export class CallerStats {
  latenciesMs: number[] = [];
  /** max(0, arrival − due at real-time playout), per answer frame after the first. */
  frameGapsMs: number[] = [];
  /** Mark arrival − arrival of the media frame before it. */
  markDelaysMs: number[] = [];
  answersMissing = 0;
  callsDropped = 0;
  /** How late the shared clock ran each tick (the load generator's own health). */
  tickLatenessMs: number[] = [];

  reset(): void {
    this.latenciesMs = [];
    this.frameGapsMs = [];
    this.markDelaysMs = [];
    this.answersMissing = 0;
    this.callsDropped = 0;
    this.tickLatenessMs = [];
  }
}

const SILENCE_PAYLOAD = Buffer.alloc(160, 0xff).toString("base64");
const MEDIA_PREFIX = '{"event":"media"';

/** One call on the core. */
class CoreCall {
  private sequence = 0;
  private chunk = 0;
  private line = 0;
  /** The line being spoken and its next frame, or undefined between lines. */
  private speaking: { payloads: string[]; next: number } | undefined;
  private nextLineAt: number;
  private awaitingSince: number | undefined;
  private answer: { startedAt: number; frames: number; lastFrameAt: number } | undefined;
  private playbackEnd = 0;
  private readonly echoes: { name: string; dueAt: number }[] = [];
  private hangingUp = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly options: CoreCallOptions,
    private readonly stats: CallerStats,
    now: number,
  ) {
    this.nextLineAt = now + options.firstLineAfterMs;
    socket.on("message", (data) => this.receive(String(data), performance.now()));
    socket.on("close", () => {
      if (!this.hangingUp) stats.callsDropped++;
    });
  }

  private get streamSid(): string {
    return `MZ${this.options.callSid}`;
  }

  begin(): void {
    const { callSid, greetingText } = this.options;
    this.send({
      event: "start",
      sequenceNumber: String(++this.sequence),
      streamSid: this.streamSid,
      start: {
        accountSid: "ACbench",
        streamSid: this.streamSid,
        callSid,
        tracks: ["inbound"],
        customParameters: { callSid },
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
      },
    });
    // The edge played the greeting; it was short, so its mark comes back at once.
    this.send({ event: "edge.greeting", played: true, text: greetingText, mark: "greeting" });
    this.echo("greeting");
  }

  /** One 20 ms tick of the shared clock. */
  tick(now: number): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    while (this.echoes[0] && this.echoes[0].dueAt <= now) this.echo(this.echoes.shift()!.name);
    if (!this.speaking && this.awaitingSince === undefined && now >= this.nextLineAt) {
      const line = this.options.lines[this.line++ % this.options.lines.length]!;
      this.speaking = { payloads: line.payloads, next: 0 };
    }
    const payload = this.speaking ? this.speaking.payloads[this.speaking.next++]! : SILENCE_PAYLOAD;
    const n = this.chunk++;
    this.socket.send(
      `{"event":"media","sequenceNumber":"${++this.sequence}","streamSid":"${this.streamSid}","media":{"track":"inbound","chunk":"${n + 1}","timestamp":"${n * FRAME_MS}","payload":"${payload}"}}`,
    );
    if (this.speaking && this.speaking.next === this.speaking.payloads.length) {
      this.speaking = undefined;
      this.awaitingSince = now;
    }
    if (this.awaitingSince !== undefined && now - this.awaitingSince > this.options.answerTimeoutMs) {
      this.stats.answersMissing++;
      this.awaitingSince = undefined;
      this.nextLineAt = now + this.options.pauseMs;
    }
  }

  hangUp(): Promise<void> {
    this.hangingUp = true;
    if (this.socket.readyState !== WebSocket.OPEN) return Promise.resolve();
    this.send({ event: "stop", sequenceNumber: String(++this.sequence), streamSid: this.streamSid, stop: { accountSid: "ACbench", callSid: this.options.callSid } });
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.close(1000);
    });
  }

  private receive(text: string, at: number): void {
    if (text.startsWith(MEDIA_PREFIX)) return this.mediaArrived(at);
    let frame: { event?: string; mark?: { name?: string } };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      return;
    }
    if (frame.event === "mark" && typeof frame.mark?.name === "string") this.markArrived(frame.mark.name, at);
    else if (frame.event === "clear") this.cleared(at);
  }

  private mediaArrived(at: number): void {
    if (this.awaitingSince !== undefined) {
      this.stats.latenciesMs.push(at - this.awaitingSince);
      this.awaitingSince = undefined;
    }
    if (!this.answer) this.answer = { startedAt: at, frames: 0, lastFrameAt: at };
    else this.stats.frameGapsMs.push(Math.max(0, at - (this.answer.startedAt + this.answer.frames * FRAME_MS)));
    this.answer.frames++;
    this.answer.lastFrameAt = at;
    this.playbackEnd = Math.max(at, this.playbackEnd) + FRAME_MS;
  }

  private markArrived(name: string, at: number): void {
    if (this.answer) this.stats.markDelaysMs.push(at - this.answer.lastFrameAt);
    this.echoes.push({ name, dueAt: Math.max(at, this.playbackEnd) });
    if (name.endsWith(".end")) {
      this.answer = undefined;
      this.nextLineAt = Math.max(at, this.playbackEnd) + this.options.pauseMs;
    }
  }

  /** Twilio drops the buffered audio and returns the pending marks at once. */
  private cleared(at: number): void {
    this.playbackEnd = at;
    this.answer = undefined;
    for (const { name } of this.echoes.splice(0)) this.echo(name);
  }

  private echo(name: string): void {
    this.send({ event: "mark", sequenceNumber: String(++this.sequence), streamSid: this.streamSid, mark: { name } });
  }

  private send(frame: object): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }
}

/** Calls on one shared 20 ms clock; add more at any time. */
export class CoreCallers {
  readonly stats = new CallerStats();
  private readonly calls: CoreCall[] = [];
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = performance.now();
  private nextTick = 1;

  constructor() {
    this.schedule();
  }

  get count(): number {
    return this.calls.length;
  }

  /** Opens a call (resolves once its socket is open and `start` is sent); its frames go out from the next tick. */
  async add(options: CoreCallOptions): Promise<void> {
    const token = await signCoreToken(options.secret, "call", options.callSid, Date.now());
    const socket = new WebSocket(`${options.coreWsUrl}/call`, { headers: { Authorization: `Bearer ${token}` }, perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => socket.once("open", () => resolve()).once("error", reject));
    const call = new CoreCall(socket, options, this.stats, performance.now());
    call.begin();
    this.calls.push(call);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.all(this.calls.map((call) => call.hangUp()));
  }

  /** Tick n is due at startedAt + 20 n; after a stall the missed ticks run at once, as a live line would. */
  private schedule(): void {
    const run = () => {
      if (this.stopped) return;
      const now = performance.now();
      this.stats.tickLatenessMs.push(now - (this.startedAt + this.nextTick * FRAME_MS));
      for (const due = Math.floor((now - this.startedAt) / FRAME_MS); this.nextTick <= due; this.nextTick++) {
        for (const call of this.calls) call.tick(now);
      }
      this.timer = setTimeout(run, Math.max(0, this.startedAt + this.nextTick * FRAME_MS - performance.now()));
    };
    this.timer = setTimeout(run, FRAME_MS);
  }
}
