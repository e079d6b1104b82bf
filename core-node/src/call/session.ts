// One call's shell: the link to the edge, the call's timers and its life (phase.ts). It composes the
// caller's side (hearing.ts, running listening.ts's decisions), the agent's side (answering.ts) and
// the conversation as heard (conversation.ts); ARCHITECTURE.md maps them. A frame's path: flood
// check -> parse -> phase check -> hearing. Everything slower runs off the frame path.
//
// Bad input is dropped with one logged reason and never ends the call. Limits (config.ts): media
// over MAX_AUDIO_BACKLOG_MS ahead of real time on the caller's audio clock, and other frames over
// MAX_FRAMES_PER_SECOND, are dropped unread; a flood that lasts FLOOD_CLOSE_AFTER_S closes the call
// (1008); a frame over MAX_FRAME_BYTES makes ws close it (1009); at MAX_CALL_MS, or when a budget is
// spent, the call is wrapped up: CALL_LIMIT_TEXT, then close 1000. The agent ends calls too (end_call,
// transfer_to_staff, a silent caller: ending.ts). Every end goes through `finish`, which hands the
// conversation over for the call's record.
import {
  CALL_ID_LABEL,
  CLOSE_CORE_MOVING,
  CLOSE_POLICY_VIOLATION,
  type CoreEnd,
  type CoreMove,
  type EdgeGreeting,
  type EdgeResume,
  type StartFrame,
} from "@voice/protocol";
import type { RawData, WebSocket } from "ws";
import { OutboundFrames } from "../audio/frames.js";
import type { Logger } from "../metrics/log.js";
import type { TraceLogFields } from "../metrics/trace.js";
import type { Answer } from "./answer.js";
import { Answering } from "./answering.js";
import { CallBudget, type BudgetName } from "./budget.js";
import { CallStats, type CallEndReason } from "./call-stats.js";
import { Conversation } from "./conversation.js";
import { coreEndOf, endAfterLastWords, handOverRecord } from "./ending.js";
import type { IdleAction } from "./idle.js";
import { parseInbound } from "./inbound.js";
import { FrameIntake } from "./intake.js";
import type { CallContext, CallServices } from "./ports.js";
import { Hearing } from "./hearing.js";
import { AWAITING_START, answers, listens, nextPhase, type CallPhase, type WrapUpReason } from "./phase.js";
import { Timers, Waits } from "./timers.js";
import { withinBusinessHours } from "../tools/business-hours.js";

export { WRAP_UP_MAX_MS } from "./ending.js";

export interface SessionOptions {
  /** The call the edge's token was issued for; the start frame must name the same call. */
  tokenCallSid: string;
  /** The trace of the request that opened the call (metrics/trace.ts): on every line of the call. */
  trace?: TraceLogFields;
  onEnded(session: CallSession): void;
}

/** The stream, once the caller's `start` was accepted: frames towards the caller, and the caller's side. */
interface StartedCall {
  frames: OutboundFrames;
  hearing: Hearing;
}

export class CallSession {
  private phase: CallPhase = AWAITING_START;
  private call: StartedCall | undefined;
  private readonly callId: string;
  /** Logger whose every line carries the call id (and its Cloud Logging label), and the call's trace. */
  private readonly log: Logger;
  /** The TURN, BARGE_IN and CALL lines' logger: they name their call themselves; the trace is added. */
  private readonly lines: Logger;
  /** What the call's two sides share. */
  private readonly context: CallContext;
  private readonly conversation = new Conversation();
  private readonly answering: Answering;
  private readonly timers = new Timers();
  private readonly waits = new Waits();
  private readonly stats = new CallStats();
  private readonly intake: FrameIntake;
  private readonly budget: CallBudget;
  private readonly startedAt = performance.now();
  private readonly closed: Promise<void>;
  /** The caller's and the called numbers, from the `start` (the webhook passes them on). */
  private numbers: { from?: string; to?: string } = {};
  /** Where the edge takes the call's record (edge.greeting, edge.resume). */
  private recordUrl: string | undefined;
  /** Settles once the call's record was handed over (at once until the call ended). */
  recordSent: Promise<void> = Promise.resolve();

  constructor(
    private readonly services: CallServices,
    private readonly socket: WebSocket,
    private readonly options: SessionOptions,
  ) {
    const c = services.config;
    this.callId = options.tokenCallSid;
    this.log = services.log.child({ [CALL_ID_LABEL]: { call_id: this.callId }, call_id: this.callId, ...options.trace });
    this.lines = services.log.child({ ...options.trace });
    this.intake = new FrameIntake(c, this.log, this.stats);
    // The refused request is still on the stack: the wrap-up runs right after it, not inside it.
    this.budget = new CallBudget({ llmRequests: c.LLM_MAX_REQUESTS_PER_CALL, ttsChars: c.TTS_MAX_CHARS_PER_CALL }, (budget, limit) =>
      queueMicrotask(() => this.guard("budget wrap-up", () => this.budgetSpent(budget, limit))),
    );
    this.context = {
      callId: this.callId,
      config: c,
      log: this.log,
      lines: this.lines,
      debug: services.log.isLevelEnabled("debug"),
      stats: this.stats,
      conversation: this.conversation,
      send: (frame) => this.send(frame),
      sendState: () => this.sendState(),
      answers: () => answers(this.phase),
      listens: () => listens(this.phase),
      ended: () => this.isEnded(),
    };
    this.answering = new Answering({
      ...this.context,
      llm: this.budget.chat(services.llm),
      tts: this.budget.synthesis(services.tts, (text) => services.ttsCached(text)),
      farewellTts: services.tts,
      transcriber: services.transcriber,
      frames: () => this.call!.frames,
      toolCaller: services.tools,
      numbers: () => this.numbers,
      speculationStopped: () => this.call?.hearing.speculationStopped(),
      controls: () => {
        const transfer = c.agent?.transfer;
        return { transfer: transfer !== undefined && withinBusinessHours(transfer, Date.now()), messages: this.recordUrl !== undefined };
      },
      endAfter: (answer, end) => this.endAfter(answer, end),
    });
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    this.timers.arm("call limit", c.MAX_CALL_MS, () => this.guard("call time limit", () => this.timeUp()));
    socket.on("message", (data, isBinary) => this.guard("frame handler", () => this.onMessage(data, isBinary)));
    socket.on("close", () => this.finish("socket closed"));
    socket.on("error", (error) => this.onSocketError(error));
  }

  // ---- frames from the edge ----------------------------------------------------------------------

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.phase.name === "ended") return;
    const at = performance.now();
    // Before any work on the frame: a flood costs its first bytes and a counter per frame, nothing
    // more. Media on the caller's audio clock (a stall's backlog passes), anything else on a rate.
    const verdict = this.intake.admit(data, isBinary, at);
    if (verdict === "close") return this.finish("flood", { code: CLOSE_POLICY_VIOLATION, why: "frame flood" });
    if (verdict === "drop") return;
    const parsed = parseInbound(data, isBinary);
    if (!parsed.ok) return this.drop(parsed.reason, parsed.event);
    const { frame } = parsed;
    // A call being wrapped up listens no more: only mark echoes (its last words playing) and `stop` count.
    if (!listens(this.phase) && frame.event !== "mark" && frame.event !== "stop") return;
    switch (frame.event) {
      case "media":
      case "dtmf":
        if (!this.call) return this.drop(`${frame.event} before start`, frame.event);
        return frame.event === "media" ? this.call.hearing.media(frame, at) : this.call.hearing.key(frame.dtmf.digit, at);
      case "mark":
        return this.onMarkEcho(frame.mark.name);
      case "start":
        return this.onStart(frame);
      case "edge.greeting":
      case "edge.resume":
        return this.onOpening(frame);
      case "stop":
        return this.finish("stop", { code: 1000, why: "call stopped" });
      case "connected":
        return;
    }
  }

  private onStart(frame: StartFrame): void {
    if (this.call) return this.drop("second start frame", "start");
    if (frame.start.callSid !== this.options.tokenCallSid) {
      this.log.warn({ start_call_sid: frame.start.callSid }, "start frame names another call than the token; closing");
      return this.finish("call mismatch", { code: CLOSE_POLICY_VIOLATION, why: "callSid does not match the token" });
    }
    const next = nextPhase(this.phase, { type: "start" });
    if (!next) return this.drop(`start frame while ${this.phase.name}`, "start");
    this.phase = next;
    const { from, to } = frame.start.customParameters;
    this.numbers = { from, to };
    const frames = new OutboundFrames(frame.streamSid);
    const port = { ...this.context, answering: this.answering, frames, changed: () => this.waits.check(), idle: (action: IdleAction) => this.idle(action) };
    this.call = { frames, hearing: new Hearing(port, this.services, (what, work) => this.guard(what, work)) };
    this.log.info({ stream_sid: frame.streamSid }, "CALL_START");
  }

  /** The edge's opening: the greeting (played from KV, or for the core to say), or a call moved here from another core. */
  private onOpening(opening: EdgeGreeting | EdgeResume): void {
    if (!this.call) return this.drop(`${opening.event} before start`, opening.event);
    const next = nextPhase(this.phase, { type: "opening" });
    if (!next) return this.drop("second opening (edge.greeting or edge.resume)", opening.event);
    this.phase = next;
    this.recordUrl = opening.recordUrl;
    if (opening.event === "edge.greeting") {
      const entry = this.conversation.greeted(opening.text, opening.played ? opening.mark : undefined);
      this.sendState();
      if (!opening.played) this.answering.greet(opening.text, entry);
      return;
    }
    // No greeting: the conversation goes on from the state handed over, and a caller's message the
    // previous core did not answer is answered now. Back from a transfer nobody took: the agent
    // speaks first, with the transfer's outcome as its tool's result.
    const resumed = this.conversation.resumed(opening.state);
    const { turns, messages } = resumed;
    let { answerPending, unfinishedToolCalls } = resumed;
    const returned = opening.transfer && this.conversation.transferReturned(opening.transfer);
    if (returned) {
      unfinishedToolCalls = unfinishedToolCalls.filter((call) => call.id !== returned.id);
      answerPending = true;
    } else if (opening.transfer) this.log.warn({ outcome: opening.transfer.outcome }, "back from a transfer the state does not hold; waiting for the caller");
    const transfer = opening.transfer?.outcome;
    this.log.info({ attempt: opening.attempt, turns, messages, answer_pending: answerPending, unfinished_tool_calls: unfinishedToolCalls.length, transfer }, "call resumed");
    this.sendState();
    if (answerPending) this.answering.answerResumed(this.conversation.takeTurn(), unfinishedToolCalls);
  }

  /** Twilio echoes marks in order as the audio before each finishes playing. */
  private onMarkEcho(name: string): void {
    const finished = this.conversation.markEchoed(name);
    if (finished) this.answering.finished(finished);
    this.waits.check();
  }

  // ---- frames to the edge ------------------------------------------------------------------------

  private send(frame: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(frame);
    this.stats.framesOut++;
  }

  /** Tells the edge the conversation as it stands, when it changed since the last time. */
  private sendState(): void {
    const frame = this.conversation.stateFrame();
    if (frame) this.send(frame);
  }

  // ---- bad input ---------------------------------------------------------------------------------

  /** A bug in one call's handling is logged and contained: it must not take the process down. */
  private guard(what: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.log.error({ error }, `${what} failed`);
    }
  }

  /** A bad frame: counted, and one line per reason and minute. */
  private drop(reason: string, event?: string): void {
    this.intake.drop(reason, event);
  }

  /** ws reports a frame over MAX_FRAME_BYTES as an error and closes the socket with 1009 itself. */
  private onSocketError(error: Error & { code?: string }): void {
    if (error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
      this.log.warn({ max_frame_bytes: this.services.config.MAX_FRAME_BYTES }, "frame over the size limit; call closed");
      return this.finish("frame too big");
    }
    this.log.warn({ error: error.message }, "call socket error");
    this.finish("socket error");
  }

  // ---- the end -----------------------------------------------------------------------------------

  /**
   * The process is stopping (SIGTERM): the call moves to another core. Nothing new is generated;
   * the sentence playing now finishes (its mark echoed), the rest is cleared, and an utterance the
   * caller is in the middle of is let finish: it goes into the state unanswered, for the next core
   * to answer. Both waits together take at most `maxMs`. Then the edge gets the conversation as
   * heard, `core.move`, and close 1012. Resolves once the link is closed and the record handed over.
   */
  async drain(maxMs: number): Promise<void> {
    // Saying its last words: it closes within WRAP_UP_MAX_MS, well within the drain's budget.
    if (this.phase.name === "wrapping up") return this.closed.then(() => this.recordSent);
    const next = nextPhase(this.phase, { type: "drain" });
    if (!next) return;
    this.phase = next;
    const deadline = performance.now() + maxMs;
    const { conversation } = this;
    const hearing = this.call?.hearing;
    // The LLM and every synthesis stop; what was sent keeps playing until cleared below.
    this.answering.stopGenerating();
    this.answering.dropSpeculation("the core is draining");
    const playing = conversation.playingMark;
    if (playing !== undefined && !(await this.waits.until(() => !conversation.outstanding(playing), maxMs))) {
      this.log.warn({ mark: playing, waited_ms: maxMs }, "drain: the audio playing did not finish in time");
    }
    if (this.isEnded()) return; // the caller hung up meanwhile
    if (this.call && conversation.audioPending) this.send(this.call.frames.clear());
    const answer = this.answering.cut();
    if (answer) this.answering.settle(answer);
    if (hearing?.inUtterance && !(await this.waits.until(() => !hearing.inUtterance, deadline - performance.now()))) {
      this.log.warn({ speech_start_audio_ms: hearing.utteranceStartMs }, "drain: the caller was still speaking; the utterance is cut");
    }
    if (this.isEnded()) return;
    const move: CoreMove = { event: "core.move", reason: "draining" };
    this.send(JSON.stringify(move));
    this.finish("moved", { code: CLOSE_CORE_MOVING, why: "core draining" });
    await this.closed;
    await this.recordSent;
  }

  private isEnded(): boolean {
    return this.phase.name === "ended";
  }

  private timeUp(): void {
    if (this.isEnded() || this.phase.name === "wrapping up") return;
    this.log.warn({ max_call_ms: this.services.config.MAX_CALL_MS }, "call time limit reached; ending the call");
    this.wrapUp("time limit");
  }

  private budgetSpent(budget: BudgetName, limit: number): void {
    if (this.isEnded() || this.phase.name === "wrapping up") return;
    const used = budget === "LLM_MAX_REQUESTS_PER_CALL" ? this.budget.llmRequests : this.budget.ttsChars;
    this.log.warn({ budget, limit, used }, "call budget spent; ending the call");
    this.wrapUp("budget");
  }

  /** The agent ended the call (end_call, transfer_to_staff): `answer`, its last words, plays to its end first. */
  private endAfter(answer: Answer, end: CoreEnd): void {
    const reason = end.reason === "transfer" ? "transfer" : "agent";
    this.log.info({ reason, turn: answer.turn }, "the agent ends the call");
    this.wrapUp(reason, answer, end);
  }

  /** The caller stays silent (idle.ts): a reprompt, or after the last one the goodbye and the end. */
  private idle(action: IdleAction): void {
    if (!answers(this.phase)) return;
    // On the caller's clock: when the silence began (the agent's last words played) and when it was judged.
    const silence = { silent_from_audio_ms: action.silentFromMs, audio_ms: action.audioMs };
    if (action.type === "goodbye") {
      this.log.info({ ...silence, reprompts: this.services.config.IDLE_MAX_REPROMPTS }, "the caller stayed silent; ending the call");
      return this.wrapUp("idle");
    }
    this.log.info({ ...silence, reprompt: action.count }, "the caller is silent; reprompting");
    this.answering.prompt(this.services.config.FIXED_PHRASES.idle_reprompt);
  }

  /**
   * The core ends the call: it stops listening (no more turns; recognition, the LLM and every
   * synthesis stop) and its last words play: `lastWords`, the answer that ended the call (the agent's
   * farewell, the transfer announcement); else what was playing is cut and a farewell is said from
   * the cache (CALL_LIMIT_TEXT, never refused by the budget; the goodbye to a silent caller). Once its
   * end mark comes back (or after WRAP_UP_MAX_MS) the edge gets `core.end` and the link closes with
   * 1000 (ending.ts). A call moving to another core (draining) is left to the drain.
   */
  private wrapUp(reason: WrapUpReason, lastWords?: Answer, end = coreEndOf(reason)): void {
    const close = () => this.finish(reason, { code: 1000, why: reason });
    // Before `start` nothing can be said.
    if (this.phase.name === "awaiting start") return close();
    const next = nextPhase(this.phase, { type: "wrapUp", reason });
    if (!next) return;
    this.phase = next;
    this.timers.cancel("call limit");
    this.answering.dropSpeculation("the call is ending");
    const call = this.call!;
    call.hearing.stop();
    if (!lastWords) {
      if (this.conversation.audioPending) this.send(call.frames.clear());
      const cut = this.answering.cut();
      if (cut) this.answering.settle(cut);
      const { CALL_LIMIT_TEXT, FIXED_PHRASES } = this.services.config;
      lastWords = this.answering.farewell(reason === "idle" ? FIXED_PHRASES.goodbye : CALL_LIMIT_TEXT);
    }
    const { conversation, timers, waits, log } = this;
    endAfterLastWords({ conversation, timers, waits, log, send: (frame) => this.send(frame), ended: () => this.isEnded(), close }, lastWords, reason, end);
  }

  /**
   * Ends the call, once: every timer cleared, LLM and TTS aborted, the STT stream closed, one CALL
   * line, the conversation as heard handed over for the record; then the link is closed with `close`
   * when the core is the one ending it.
   */
  private finish(reason: CallEndReason, close?: { code: number; why: string }): void {
    const next = nextPhase(this.phase, { type: "end", reason });
    if (!next) return;
    this.phase = next;
    this.timers.cancelAll();
    // A drain waiting on this call stops waiting.
    this.waits.releaseAll();
    this.answering.end();
    this.call?.hearing.close();
    const durationMs = performance.now() - this.startedAt;
    const line = this.stats.callLine({ callId: this.callId, durationMs, turns: this.conversation.turnCount, stt: this.call?.hearing.stt.stats, endReason: reason });
    this.lines.info(line, "CALL");
    // What was still playing was not heard.
    this.conversation.cut();
    const record = { callSid: this.callId, endReason: reason, history: [...this.conversation.messages], recordUrl: this.recordUrl };
    this.recordSent = handOverRecord(this.services.sendRecord, record, this.log);
    this.options.onEnded(this);
    if (close) this.socket.close(close.code, close.why);
  }
}
