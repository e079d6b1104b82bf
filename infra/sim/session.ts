// One Media Stream as Twilio runs it: after `start`, a caller frame goes out on every 20 ms tick
// (silence unless the caller is speaking) and one frame of buffered agent audio is heard; marks are
// echoed once the audio before them has played, or at once on `clear`.
import { FRAME_BYTES, MULAW_SILENCE, twilioOutboundFrame } from "@voice/protocol";
import { WebSocket, type RawData } from "ws";
import { startFrameClock, type FrameClock } from "./clock.js";
import { Conversation, type Segment } from "./conversation.js";
import { connectedMessage, markMessage, mediaMessage, startMessage, stopMessage, type StreamIds } from "./frames.js";
import { PlayoutBuffer } from "./playout.js";
import { CallRecorder, concat } from "./recording.js";
import { audioMs, type CallReport, type ErrorLog, type TurnReport } from "./report.js";

export type WaitOutcome = "done" | "timeout" | "closed";

interface Waiter {
  condition: () => boolean;
  deadline: number;
  resolve: (outcome: WaitOutcome) => void;
}

const SILENT_FRAME = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
/** How long to wait for the edge to acknowledge our close before dropping the connection. */
const CLOSE_GRACE_MS = 2000;

export class MediaStreamSession {
  readonly conversation = new Conversation();
  private readonly playout = new PlayoutBuffer();
  private readonly recorder = new CallRecorder();
  /** Caller frames still to be sent, one per tick. */
  private readonly speech: Uint8Array[] = [];
  private readonly waiters = new Set<Waiter>();
  private clock: FrameClock | undefined;
  private sequence = 0;
  private ticks = 0;
  private ended = false;
  private hangingUp = false;
  private startSentAt = 0;
  private greetingMs: number | null = null;

  constructor(
    private readonly socket: WebSocket,
    private readonly ids: StreamIds,
    private readonly customParameters: Record<string, string>,
    private readonly errors: ErrorLog,
  ) {}

  /** Sends `connected` and `start`, then starts the 20 ms clock. */
  begin(): void {
    this.socket.on("message", (data, isBinary) => this.receive(data, isBinary));
    this.socket.on("close", (code, reason) => this.onClose(code, reason.toString()));
    this.socket.on("error", (error) => this.errors.add(`media stream error: ${error.message}`));
    this.send(connectedMessage());
    this.send(startMessage(++this.sequence, this.ids, this.customParameters));
    this.startSentAt = performance.now();
    this.clock = startFrameClock((tick) => this.onTick(tick));
  }

  /** The greeting's last mark has been echoed and nothing is left to hear. */
  get greetingFinished(): boolean {
    return this.conversation.greeting.finished && this.playout.isEmpty;
  }

  /** The answer to the line being spoken has ended (its end mark was echoed). */
  get answerFinished(): boolean {
    return this.conversation.current.finished;
  }

  /** Starts a turn: the frames go out on the next ticks; resolves once the last one was sent. */
  speak(text: string, frames: Uint8Array[]): Promise<WaitOutcome> {
    this.conversation.startTurn(text);
    this.speech.push(...frames);
    return this.until(() => this.speech.length === 0, Infinity);
  }

  /** Resolves after `count` more ticks (time measured on the audio clock). */
  waitTicks(count: number): Promise<WaitOutcome> {
    const target = this.ticks + count;
    return this.until(() => this.ticks >= target, Infinity);
  }

  /** Resolves when `condition` holds (checked after every tick and every frame received). */
  until(condition: () => boolean, timeoutMs: number): Promise<WaitOutcome> {
    if (condition()) return Promise.resolve("done");
    if (this.ended) return Promise.resolve("closed");
    return new Promise((resolve) => this.waiters.add({ condition, deadline: performance.now() + timeoutMs, resolve }));
  }

  /** Sends `stop` and closes the socket, which is how Twilio hangs up. */
  async hangUp(): Promise<void> {
    if (this.ended) return;
    this.hangingUp = true;
    this.clock?.stop();
    this.send(stopMessage(++this.sequence, this.ids));
    const closed = new Promise<void>((resolve) => this.socket.once("close", () => resolve()));
    this.socket.close(1000, "call ended");
    const timer = setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS);
    await closed;
    clearTimeout(timer);
  }

  report(): CallReport {
    const { greeting, turns } = this.conversation;
    return {
      call_sid: this.ids.callSid,
      greeting_ms: this.greetingMs === null ? null : Math.round(this.greetingMs),
      greeting_text: greeting.sentences.join(" "),
      greeting_audio: concat(greeting.audio),
      turns: turns.map(turnReport),
      errors: this.errors.messages,
      recording: this.recorder.finish(),
    };
  }

  private onTick(tick: number): void {
    const now = performance.now();
    const spoken = this.speech.shift();
    const callerFrame = spoken ?? SILENT_FRAME;
    this.send(mediaMessage(++this.sequence, this.ids.streamSid, tick, callerFrame));
    if (spoken && this.speech.length === 0) this.conversation.callerFinished(now);

    const heard = this.playout.tick();
    for (const name of heard.finishedMarks) this.echoMark(name, true);
    if (heard.frame) this.conversation.agentPlayed(heard.frame.subarray(0, heard.audioBytes), now);
    this.recorder.addTick(callerFrame, heard.frame);
    this.ticks = tick + 1;
    this.settleWaiters();
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.errors.add("the edge sent a binary frame (Twilio accepts JSON text frames only)");
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      this.errors.add("the edge sent a text frame that is not JSON");
      return;
    }
    const parsed = twilioOutboundFrame.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.errors.add(`the edge sent a malformed frame: ${issue?.path.join(".") || "frame"}: ${issue?.message}`);
      return;
    }
    const frame = parsed.data;
    if (frame.streamSid !== this.ids.streamSid) {
      this.errors.add(`the edge sent a ${frame.event} frame for another stream (${frame.streamSid})`);
      return;
    }
    if (frame.event === "media") {
      if (this.greetingMs === null && this.conversation.turns.length === 0) {
        this.greetingMs = performance.now() - this.startSentAt;
      }
      this.playout.pushAudio(Buffer.from(frame.media.payload, "base64"));
    } else if (frame.event === "mark") {
      this.playout.pushMark(frame.mark.name);
    } else {
      for (const name of this.playout.clear()) this.echoMark(name, false);
    }
    this.settleWaiters();
  }

  private echoMark(name: string, heard: boolean): void {
    this.conversation.markEchoed(name, heard);
    this.send(markMessage(++this.sequence, this.ids.streamSid, name));
  }

  private send(frame: object): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  private onClose(code: number, reason: string): void {
    if (!this.hangingUp) this.errors.add(`the edge closed the media stream (code ${code}${reason ? `: ${reason}` : ""})`);
    this.ended = true;
    this.clock?.stop();
    this.settleWaiters();
  }

  private settleWaiters(): void {
    const now = performance.now();
    for (const waiter of this.waiters) {
      const outcome = waiter.condition() ? "done" : this.ended ? "closed" : now >= waiter.deadline ? "timeout" : null;
      if (!outcome) continue;
      this.waiters.delete(waiter);
      waiter.resolve(outcome);
    }
  }
}

function turnReport(segment: Segment): TurnReport {
  const latency =
    segment.firstPlayAt === null || segment.callerEndAt === null ? null : Math.round(segment.firstPlayAt - segment.callerEndAt);
  return {
    caller_text: segment.callerText,
    agent_text: segment.sentences.join(" "),
    caller_latency_ms: latency,
    agent_audio_ms: audioMs(segment.audioBytes),
    agent_audio: concat(segment.audio),
  };
}
