// One Media Stream as Twilio runs it: after `start`, a caller frame goes out on every 20 ms tick
// (silence unless the caller is speaking, with a dtmf frame on a tick a key is pressed) and one frame
// of buffered agent audio is heard; marks are echoed once the audio before them has played, or at
// once on `clear`. The audio clock is the caller audio sent so far: tick n's frame has timestamp 20n.
import { FRAME_BYTES, FRAME_MS, MULAW_SILENCE } from "@voice/protocol";
import { WebSocket, type RawData } from "ws";
import type { CallerTick } from "./caller-audio.js";
import { startFrameClock, type FrameClock } from "./clock.js";
import { Conversation, answerAllowed, type LineInfo, type Segment } from "./conversation.js";
import { connectedMessage, dtmfMessage, markMessage, mediaMessage, startMessage, stopMessage, type StreamIds } from "../twilio/media-stream-frames.js";
import { PlayoutBuffer } from "./playout.js";
import { CallRecorder, concat } from "./recording.js";
import { audioMs, type ErrorLog, type StreamReport, type TurnReport } from "./report.js";
import { readEdgeFrame } from "./twilio-client.js";

export type WaitOutcome = "done" | "timeout" | "closed";

/** A line on its way out: its ticks go one per clock tick. */
interface Speaking {
  line: LineInfo;
  ticks: CallerTick[];
  next: number;
  stall?: NetworkStall;
}

/** The network holds every frame the caller sends from tick `atTick` of a line on, for `ms`, then delivers the backlog at once (TCP after a stall). */
export interface NetworkStall {
  atTick: number;
  ms: number;
}

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
  private readonly playout = new PlayoutBuffer<Segment>();
  private readonly recorder = new CallRecorder();
  private speaking: Speaking | undefined;
  private readonly waiters = new Set<Waiter>();
  private clock: FrameClock | undefined;
  private sequence = 0;
  private ticks = 0;
  private ended = false;
  private hangingUp = false;
  private startSentAt = 0;
  private greetingMs: number | null = null;
  /** Frames held by a network stall, in order, until it ends. */
  private held: string[] | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  /** performance.now() when the last agent frame heard finished playing; null before any. */
  lastAgentAudioEndAt: number | null = null;
  /** Set when the edge closed the stream: its close code and reason, as one phrase. */
  closedByEdge: string | null = null;

  /**
   * `edgeMayEnd`: the stream has a <Connect action>, so the edge closing it is how a call ends or
   * moves (Twilio then asks the action what next), not an error.
   */
  constructor(
    private readonly socket: WebSocket,
    private readonly ids: StreamIds,
    private readonly customParameters: Record<string, string>,
    private readonly errors: ErrorLog,
    private readonly edgeMayEnd = false,
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

  /** Nothing of the agent's is arriving or waiting to be heard. */
  get agentIdle(): boolean {
    return !this.conversation.answerOpen && this.playout.isEmpty;
  }

  /** Caller audio sent so far, in ms: the timestamp the next media frame will carry. */
  get audioClockMs(): number {
    return this.ticks * FRAME_MS;
  }

  /**
   * Starts a line: its ticks go out from the next tick on (which opens its segment); resolves once the
   * last one was sent (into a stall's backlog, if the network holds it then). `stall`: the network
   * stalls at that tick of the line.
   */
  speak(line: LineInfo, ticks: CallerTick[], stall?: NetworkStall): Promise<WaitOutcome> {
    if (ticks.length === 0) return Promise.resolve("done");
    const speaking: Speaking = { line, ticks, next: 0, stall };
    this.speaking = speaking;
    return this.until(() => this.speaking !== speaking, Infinity);
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
    this.endStall();
    this.send(stopMessage(++this.sequence, this.ids));
    const closed = new Promise<void>((resolve) => this.socket.once("close", () => resolve()));
    this.socket.close(1000, "call ended");
    const timer = setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS);
    await closed;
    clearTimeout(timer);
  }

  /** The stream has ended, either side having closed it. */
  get closed(): boolean {
    return this.ended;
  }

  report(): StreamReport {
    const { greeting, turns } = this.conversation;
    return {
      greeting_ms: this.greetingMs === null ? null : Math.round(this.greetingMs),
      greeting_text: greeting.sentences.join(" "),
      greeting_audio: concat(greeting.audio),
      turns: turns.map(turnReport),
      clears: this.conversation.clears.map((clear) => ({ audio_ms: clear.audioMs, at: clear.at })),
      recording: this.recorder.finish(),
    };
  }

  private onTick(tick: number): void {
    const now = performance.now();
    const clockMs = tick * FRAME_MS;
    const speaking = this.speaking;
    if (speaking?.next === 0) this.conversation.startTurn(speaking.line, clockMs);
    if (speaking?.stall && speaking.next === speaking.stall.atTick) this.stallNetwork(speaking.stall.ms);
    const step = speaking?.ticks[speaking.next++];
    const callerFrame = step?.audio ?? SILENT_FRAME;
    this.send(mediaMessage(++this.sequence, this.ids.streamSid, tick, callerFrame));
    if (step?.dtmf) this.send(dtmfMessage(++this.sequence, this.ids.streamSid, step.dtmf));
    if (speaking && speaking.next === speaking.ticks.length) {
      this.conversation.callerFinished(now, clockMs + FRAME_MS);
      this.speaking = undefined;
    }

    const heard = this.playout.tick();
    for (const mark of heard.finishedMarks) this.echoMark(mark.owner, mark.name, true);
    if (heard.frame && heard.owner) {
      this.conversation.agentPlayed(heard.owner, heard.frame.subarray(0, heard.audioBytes), now, clockMs);
      this.lastAgentAudioEndAt = now + FRAME_MS;
    }
    this.recorder.addTick(callerFrame, heard.frame);
    this.ticks = tick + 1;
    this.settleWaiters();
  }

  private receive(data: RawData, isBinary: boolean): void {
    const read = readEdgeFrame(data, isBinary, this.ids.streamSid);
    if (!read.ok) {
      this.errors.add(read.problem);
      return;
    }
    const { frame } = read;
    if (frame.event === "media") {
      if (this.greetingMs === null && this.conversation.turns.length === 0) {
        this.greetingMs = performance.now() - this.startSentAt;
      }
      const { owner, began } = this.conversation.audioReceived(performance.now());
      if (began) this.checkAnswerWanted(owner);
      this.playout.pushAudio(Buffer.from(frame.media.payload, "base64"), owner);
    } else if (frame.event === "mark") {
      const { owner, began } = this.conversation.markReceived(frame.mark.name);
      if (began) this.checkAnswerWanted(owner);
      this.playout.pushMark(frame.mark.name, owner);
    } else {
      this.conversation.clearReceived(this.audioClockMs, performance.now());
      for (const mark of this.playout.clear()) this.echoMark(mark.owner, mark.name, false);
    }
    this.settleWaiters();
  }

  /** An answer began for `owner`: an error when its line asked for none (a backchannel, a cough). */
  private checkAnswerWanted(owner: Segment): void {
    if (owner !== this.conversation.greeting && !answerAllowed(owner.line)) {
      this.errors.add(`turn ${owner.index} expects no answer, but the agent answered it`);
    }
  }

  private echoMark(owner: Segment, name: string, heard: boolean): void {
    this.conversation.markEchoed(owner, name, heard);
    this.send(markMessage(++this.sequence, this.ids.streamSid, name));
  }

  private send(frame: object): void {
    if (this.held) this.held.push(JSON.stringify(frame));
    else if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  /** From now on the network holds what the caller sends (the line goes on at real time); after `ms` it delivers it all at once. */
  private stallNetwork(ms: number): void {
    if (this.held) return;
    this.held = [];
    this.stallTimer = setTimeout(() => this.endStall(), ms);
  }

  private endStall(): void {
    clearTimeout(this.stallTimer);
    const backlog = this.held ?? [];
    this.held = undefined;
    if (this.socket.readyState === WebSocket.OPEN) for (const frame of backlog) this.socket.send(frame);
  }

  private onClose(code: number, reason: string): void {
    if (!this.hangingUp) {
      this.closedByEdge = `code ${code}${reason ? `: ${reason}` : ""}`;
      if (!this.edgeMayEnd) this.errors.add(`the edge closed the media stream (${this.closedByEdge})`);
    }
    this.ended = true;
    this.clock?.stop();
    clearTimeout(this.stallTimer);
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
    caller_text: segment.line.text,
    caller_kind: segment.line.kind,
    expect_answer: segment.line.expectAnswer,
    agent_text: segment.sentences.join(" "),
    caller_latency_ms: latency,
    agent_audio_ms: audioMs(segment.audioBytes),
    agent_audio: concat(segment.audio),
    speech_start_audio_ms: segment.callerStartAudioMs,
    speech_end_audio_ms: segment.callerEndAudioMs,
    first_answer_audio_ms: segment.firstPlayAudioMs,
    first_answer_at: segment.firstPlayAt,
    first_answer_received_at: segment.firstReceivedAt,
    interrupted_previous: segment.clearAudioMs !== null,
    clear_audio_ms: segment.clearAudioMs,
  };
}
