// One call: composes the stages around the app's shared services.
//   media -> mu-law decode -> VAD -> turn machine -> (transcript) -> LLM stream -> sentences -> TTS -> frames
// The frame handler does only decode + VAD (trimmed by the speech gate) + STT write + one machine
// step + a numeric barge-in check; everything slower runs off the frame path. Bad input is dropped with one logged reason and
// never ends the call.
//
// When a service fails the caller never waits on silence: recognition streams recover on their own
// (stt/stream.ts) and, when they cannot, an utterance is transcribed whole in the background while
// the caller hears FIXED_PHRASES.stt_trouble; an LLM request that fails or stalls is retried once
// while nothing was spoken, a sentence whose synthesis fails once more; then a fixed phrase from
// the cache takes their place. Each event is one log line and counts in the TURN and CALL lines.
//
// Limits (see config.ts): frames over MAX_FRAMES_PER_SECOND are dropped before anything else is
// done with them, and a flood that lasts FLOOD_CLOSE_AFTER_S closes the call (1008); a frame over
// MAX_FRAME_BYTES makes ws close it (1009); at MAX_CALL_MS, or when a per-call budget is spent, the
// call is wrapped up: the core stops listening, says CALL_LIMIT_TEXT and closes with 1000.
import {
  CALL_ID_LABEL,
  CLOSE_CORE_MOVING,
  CLOSE_POLICY_VIOLATION,
  FRAME_BYTES,
  FRAME_MS,
  FrameRateLimit,
  levelDbfs,
  mulawToPcm,
  type BargeInLineFields,
  type CoreMove,
  type EdgeGreeting,
  type EdgeResume,
  type InboundMediaFrame,
  type StartFrame,
} from "@voice/protocol";
import type { RawData, WebSocket } from "ws";
import { errorText, type App } from "../app.js";
import { OutboundFrames } from "../audio/frames.js";
import { BackchannelLexicon } from "../eou/backchannel.js";
import { BargeInJudge } from "../eou/barge-in.js";
import { TurnMachine, type TurnAction } from "../eou/turn-machine.js";
import { SpeechGate } from "../eou/speech-gate.js";
import type { VoiceActivityDetector } from "../eou/vad.js";
import { ConversationHistory } from "../llm/history.js";
import type { ChatMessage } from "../llm/types.js";
import { AudioClock } from "../metrics/clock.js";
import { LineThrottle } from "../metrics/line-throttle.js";
import type { Logger } from "../metrics/log.js";
import { buildBargeInLine, type TurnTimeline } from "../metrics/turn.js";
import type { SttEvent, SttResult, SttStream } from "../stt/types.js";
import type { Synthesis } from "../tts/cache.js";
import { adoptReport, makeAnswer, unmeasuredSpeechReport, turnLineOf, type Answer, type TurnReport } from "./answer.js";
import { CallBudget, type BudgetName } from "./budget.js";
import { CallStats, type CallEndReason } from "./call-stats.js";
import { DtmfCollector, keypadMessage, type DtmfAction, type KeypadEntry } from "./dtmf.js";
import { StateReports, resumption } from "./handover.js";
import { parseInbound } from "./inbound.js";
import { OutstandingMarks } from "./marks.js";
import { produceAnswer, type AnsweringContext } from "./produce.js";
import { RecognitionWatch } from "./recognition-watch.js";
import { Speculator, type SpeculativeAnswer } from "./speculation.js";

/** Consecutive voiced 20 ms frames that start speech. */
const SPEECH_START_FRAMES = 3;

/** The fallback transcription gets this much audio before the utterance's VAD start and after its end. */
const FALLBACK_LEAD_MS = 200;
const FALLBACK_TAIL_MS = 100;

/** While a reopened recognition stream may still deliver a final, the wait for it is re-armed this often (at least). */
const LATE_FINAL_POLL_MS = 50;

/** A wrapped-up call closes this long after the wrap-up began at the latest, even if its last mark never comes back. */
export const WRAP_UP_MAX_MS = 10_000;

/** Why the core ends a call itself, saying CALL_LIMIT_TEXT first. */
type WrapUpReason = Extract<CallEndReason, "time limit" | "budget">;

export interface SessionOptions {
  /** The call the edge's token was issued for; the start frame must name the same call. */
  tokenCallSid: string;
  onEnded(session: CallSession): void;
}

/** Why and when the agent is stopped for the caller. */
interface Interruption {
  reason: BargeInLineFields["reason"];
  /** Wall time of the frame, transcript or key that decided it. */
  decidedAt: number;
  voicedMs: number;
  speechStartAudioMs?: number;
  transcript: string;
}

/** A turn about to be answered: what the caller said or keyed, and when. */
type TurnInput = Omit<TurnReport, "fallbacks" | "sttFallback" | "speculation">;

export class CallSession {
  private readonly callId: string;
  /** Logger whose every line carries the call id (and its Cloud Logging label). */
  private readonly log: Logger;
  private readonly debug: boolean;
  private streamSid: string | undefined;
  private frames: OutboundFrames | undefined;
  private detector: VoiceActivityDetector | undefined;
  private readonly gate = new SpeechGate();
  private stt: SttStream | undefined;
  private readonly machine: TurnMachine;
  private readonly judge: BargeInJudge;
  private readonly backchannels: BackchannelLexicon;
  private readonly keypad: DtmfCollector;
  private readonly clock = new AudioClock(FRAME_MS);
  private readonly pcm = new Int16Array(FRAME_BYTES);
  private readonly history = new ConversationHistory();
  /** What the edge hands over to the next core if this one goes (see handover.ts). */
  private readonly stateReports = new StateReports();
  /** The call's opening came: edge.greeting, or edge.resume on a call moved from another core. */
  private opened = false;
  /** The greeting the edge plays, until its mark comes back: its mark and history entry. */
  private edgeGreeting: { mark: string; entry: ChatMessage } | undefined;
  private answer: Answer | undefined;
  /** Marks sent towards the caller (the edge's greeting mark too) whose echo has not come back. */
  private readonly marks = new OutstandingMarks();
  private sttTimer: NodeJS.Timeout | undefined;
  private keypadTimer: NodeJS.Timeout | undefined;
  /** End of the latest caller audio received, on the caller's clock. */
  private audioNowMs = 0;
  private turnCount = 0;
  /** The core is stopping: no new answer; the call moves to another core (see drain). */
  private draining = false;
  /** While a drain waits for the caller to finish an utterance: called once it became a turn (or noise). */
  private utteranceSettled: (() => void) | undefined;
  private ended = false;
  private readonly startedAt = performance.now();
  private readonly watch: RecognitionWatch;
  private readonly answering: AnsweringContext;
  private readonly stats = new CallStats();
  private readonly speculator: Speculator;
  private readonly frameRate: FrameRateLimit;
  private readonly dropLines = new LineThrottle();
  private readonly budget: CallBudget;
  /** Synthesis for the call's answers, within its budget. */
  private readonly tts: Synthesis;
  private readonly timeLimit: NodeJS.Timeout;
  private wrapUpTimer: NodeJS.Timeout | undefined;
  /** The core is ending the call (see wrapUp): it listens no more. */
  private wrappingUp: WrapUpReason | undefined;

  constructor(
    private readonly app: App,
    private readonly socket: WebSocket,
    private readonly options: SessionOptions,
  ) {
    this.callId = options.tokenCallSid;
    this.log = app.log.child({ [CALL_ID_LABEL]: { call_id: this.callId }, call_id: this.callId });
    this.debug = app.log.isLevelEnabled("debug");
    const c = app.config;
    this.machine = new TurnMachine({
      frameMs: FRAME_MS,
      speechStartFrames: SPEECH_START_FRAMES,
      hangoverMs: c.VAD_HANGOVER_MS,
      minUtteranceMs: c.MIN_UTT_SEC * 1000,
      partialDebounceMs: c.STT_PARTIAL_DEBOUNCE_MS,
      sttTimeoutMs: c.STT_TIMEOUT_MS,
    });
    this.backchannels = BackchannelLexicon.forLanguage(c.LANGUAGE, c.BACKCHANNEL_WORDS);
    this.judge = new BargeInJudge({ minMs: c.BARGE_IN_MIN_MS, backchannelMaxMs: c.BACKCHANNEL_MAX_MS }, this.backchannels);
    this.keypad = new DtmfCollector(c.DTMF_TIMEOUT_MS);
    this.watch = new RecognitionWatch(c.BACKCHANNEL_MAX_MS);
    this.frameRate = new FrameRateLimit({ maxPerSecond: c.MAX_FRAMES_PER_SECOND, floodCloseAfterS: c.FLOOD_CLOSE_AFTER_S });
    // The refused request is still on the stack: the wrap-up runs right after it, not inside it.
    this.budget = new CallBudget({ llmRequests: c.LLM_MAX_REQUESTS_PER_CALL, ttsChars: c.TTS_MAX_CHARS_PER_CALL }, (budget, limit) =>
      queueMicrotask(() => this.guard("budget wrap-up", () => this.budgetSpent(budget, limit))),
    );
    this.tts = this.budget.synthesis(app.tts, (text) => app.ttsCached(text));
    this.answering = { config: c, llm: this.budget.chat(app.llm), callId: this.callId, log: this.log, onRetry: () => this.stats.retries++ };
    this.speculator = new Speculator(
      { enabled: c.LLM_SPECULATE, stableMs: c.SPECULATE_STABLE_MS, stableVoicedMs: c.SPECULATE_STABLE_VOICED_MS, maxPerUtterance: c.SPECULATE_MAX_PER_UTTERANCE },
      {
        mayStart: () => !this.ended && !this.draining && !this.answerInProgress(),
        start: (text) => this.speculate(text),
        discarded: (speculative, reason) => {
          if (this.debug) this.log.debug({ transcript: speculative.text, reason }, "speculative answer discarded");
        },
      },
    );
    this.timeLimit = setTimeout(() => this.guard("call time limit", () => this.timeUp()), c.MAX_CALL_MS);
    socket.on("message", (data, isBinary) => this.guard("frame handler", () => this.onMessage(data, isBinary)));
    socket.on("close", () => this.end("socket closed"));
    socket.on("error", (error) => this.onSocketError(error));
  }

  // ---- incoming frames -------------------------------------------------------------------------

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.ended) return;
    const at = performance.now();
    // Before any work on the frame: a flood costs a counter per frame, nothing more.
    const verdict = this.frameRate.admit(at);
    if (verdict !== "pass") return this.overRate(verdict);
    const parsed = parseInbound(data, isBinary);
    if (!parsed.ok) return this.drop(parsed.reason, parsed.event);
    const { frame } = parsed;
    // A call being wrapped up listens no more: only mark echoes (its last words playing) and `stop` count.
    if (this.wrappingUp && frame.event !== "mark" && frame.event !== "stop") return;
    switch (frame.event) {
      case "media":
        return this.onMedia(frame, at);
      case "mark":
        return this.onMarkEcho(frame.mark.name);
      case "start":
        return this.onStart(frame);
      case "edge.greeting":
        return this.onGreeting(frame);
      case "edge.resume":
        return this.onResume(frame);
      case "stop":
        this.end("stop");
        this.socket.close(1000, "call stopped");
        return;
      case "dtmf":
        return this.onKey(frame.dtmf.digit, at);
      case "connected":
        return;
    }
  }

  /** A bug in one call's handling is logged and contained: it must not take the process down. */
  private guard(what: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.log.error({ error: error instanceof Error ? error.stack : String(error) }, `${what} failed`);
    }
  }

  /** A bad frame: counted, and one line per reason and minute (see LineThrottle). */
  private drop(reason: string, event?: string): void {
    this.stats.droppedFrames++;
    if (this.dropLines.admit(reason, performance.now())) this.log.warn({ event, reason }, "frame dropped");
  }

  /** A frame past MAX_FRAMES_PER_SECOND: dropped unread (one line per second of flood), or the flood has lasted and the call is closed. */
  private overRate(verdict: "drop" | "close"): void {
    this.stats.droppedFrames++;
    const { MAX_FRAMES_PER_SECOND: maxPerSecond, FLOOD_CLOSE_AFTER_S: closeAfterS } = this.app.config;
    if (verdict === "close") {
      this.log.warn({ max_frames_per_second: maxPerSecond, flood_close_after_s: closeAfterS, dropped: this.frameRate.droppedTotal }, "frame flood; call closed");
      this.end("flood");
      this.socket.close(CLOSE_POLICY_VIOLATION, "frame flood");
      return;
    }
    if (this.frameRate.droppedInWindow === 1) this.log.warn({ max_frames_per_second: maxPerSecond }, "frames over the rate limit; dropping the rest of this second");
  }

  /** ws reports a frame over MAX_FRAME_BYTES as an error and closes the socket with 1009 itself. */
  private onSocketError(error: Error & { code?: string }): void {
    if (error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
      this.log.warn({ max_frame_bytes: this.app.config.MAX_FRAME_BYTES }, "frame over the size limit; call closed");
      this.end("frame too big");
      return;
    }
    this.log.warn({ error: error.message }, "call socket error");
    this.end("socket error");
  }

  private onStart(frame: StartFrame): void {
    if (this.streamSid) return this.drop("second start frame", "start");
    if (frame.start.callSid !== this.options.tokenCallSid) {
      this.log.warn(
        { start_call_sid: frame.start.callSid },
        "start frame names another call than the token; closing",
      );
      this.end("call mismatch");
      this.socket.close(1008, "callSid does not match the token");
      return;
    }
    this.streamSid = frame.streamSid;
    this.frames = new OutboundFrames(frame.streamSid);
    this.detector = this.app.vad.create(this.app.config.VAD_MODE);
    this.stt = this.app.stt.openStream(this.callId, {
      onResult: (result) => this.guard("STT result handler", () => this.onSttResult(result)),
      onEvent: (event) => this.guard("STT event handler", () => this.onSttEvent(event)),
    });
    this.log.info({ stream_sid: this.streamSid }, "CALL_START");
  }

  private onGreeting(greeting: EdgeGreeting): void {
    if (!this.frames) return this.drop("edge.greeting before start", greeting.event);
    if (this.opened) return this.drop("second opening (edge.greeting or edge.resume)", greeting.event);
    this.opened = true;
    // The caller hears the greeting either way; the model should know it was said.
    const entry = this.history.add("assistant", greeting.text);
    this.reportState();
    if (greeting.played) {
      // While the edge's greeting plays, caller speech interrupts it like any answer.
      if (greeting.mark) {
        this.marks.add(greeting.mark);
        this.edgeGreeting = { mark: greeting.mark, entry };
      }
      return;
    }
    const answer = this.newAnswer(0, true, undefined);
    answer.entry = entry;
    answer.speaker.say(greeting.text);
    void answer.speaker.finish().then(() => this.settle(answer));
  }

  /**
   * The call comes from another core (it crashed, or drained): no greeting; the conversation goes on
   * from the state it handed over, and a caller's message it did not answer is answered now.
   */
  private onResume(resume: EdgeResume): void {
    if (!this.frames) return this.drop("edge.resume before start", resume.event);
    if (this.opened) return this.drop("second opening (edge.greeting or edge.resume)", resume.event);
    this.opened = true;
    const { history, turns, answerPending } = resumption(resume.state);
    for (const message of history) this.history.add(message.role, message.content);
    this.turnCount = turns;
    this.log.info({ attempt: resume.attempt, turns, messages: history.length, answer_pending: answerPending }, "call resumed");
    this.reportState();
    if (answerPending) this.answerResumedTurn(history.at(-1)!.content);
  }

  private onMedia(frame: InboundMediaFrame, at: number): void {
    if (!this.frames) return this.drop("media before start", "media");
    // parseInbound checked its size.
    const mulaw = Buffer.from(frame.media.payload, "base64");
    this.stats.framesIn++;
    const audioMs = Number(frame.media.timestamp);
    this.clock.observe(audioMs, at);
    this.audioNowMs = audioMs + FRAME_MS;
    const pcm = mulawToPcm(mulaw, this.pcm);
    const voiced = this.gate.isSpeech(this.detector!.isVoiced(pcm), levelDbfs(pcm));
    this.stt!.write(mulaw, audioMs, this.machine.utteranceStartMs);
    const actions = this.machine.handle({ type: "frame", voiced, audioMs, at });
    if (actions.length > 0) this.apply(actions);
    if (voiced) this.considerBargeIn(at);
    const { utteranceEndMs } = this.machine;
    if (utteranceEndMs !== undefined) this.speculator.frame(this.audioNowMs, this.audioNowMs - utteranceEndMs);
  }

  /** Twilio echoes marks in order as the audio before each finishes playing. */
  private onMarkEcho(name: string): void {
    // Nothing settles for a mark of an interrupted answer that Twilio returned on `clear`, or one of another core's.
    for (const mark of this.marks.echo(name)) {
      if (mark === this.edgeGreeting?.mark) this.edgeGreeting = undefined;
      if (this.answer?.markEchoed(mark)) this.answer = undefined;
    }
  }

  // ---- speech recognition ----------------------------------------------------------------------

  private onSttResult(result: SttResult): void {
    if (this.ended || this.wrappingUp) return;
    const at = performance.now();
    const event = { text: result.transcript, audioEndMs: result.audioEndMs, at };
    const actions = this.machine.handle(result.isFinal ? { type: "final", ...event } : { type: "partial", ...event });
    if (this.machine.inUtterance) {
      this.judge.hear(this.machine.transcriptSoFar);
      this.speculator.heard(this.machine.transcriptSoFar, this.audioNowMs);
      this.considerBargeIn(at);
    }
    if (actions.length > 0) this.apply(actions);
  }

  private onSttEvent(event: SttEvent): void {
    if (this.ended) return;
    switch (event.type) {
      case "retry":
        this.log.warn({ code: event.code, error: event.error, attempt: event.attempt, delay_ms: event.delayMs }, "STT stream failed; retrying");
        return;
      case "down":
        this.log.error(
          { code: event.code, error: event.error, attempts: event.attempts, retryable: event.retryable },
          "STT down; utterances go to the fallback transcription",
        );
        // The next utterance goes to the fallback transcription (the one waiting for its final, at once);
        // the one after it tries the recognizer again.
        this.watch.wentDown();
        this.apply(this.machine.handle({ type: "sttDown" }));
        return;
      case "recovered":
        this.log.info({ attempts: event.attempts }, "STT stream recovered");
        return;
      case "rotated":
        this.log.info({ reason: event.reason, stream_audio_ms: Math.round(event.streamAudioMs), replay_ms: Math.round(event.replayMs) }, "STT stream rotated");
        return;
      case "duplicateFinal":
        if (this.debug) this.log.debug({ audio_end_ms: Math.round(event.audioEndMs), transcript: event.transcript }, "duplicate final dropped");
        return;
      case "resultIgnored":
        // Already thinned to one a second by the stream.
        this.log.warn({ reason: event.reason, ignored: event.ignored }, "STT result ignored");
        return;
    }
  }

  private apply(actions: TurnAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case "speechStart":
          this.judge.reset();
          this.speculator.utteranceStarted();
          if (this.watch.speechStarted(this.stt!)) {
            // An utterance after the fallback one is a new chance for the recognizer (one episode, not a loop).
            this.log.info({ audio_ms: action.startMs }, "STT retried for a new utterance");
            this.stt!.restart();
          }
          if (this.debug) this.log.debug({ audio_ms: action.startMs }, "speech start");
          break;
        case "partial":
          if (this.debug) this.log.debug({ text: action.text }, "partial");
          break;
        case "utteranceDiscarded":
          this.speculator.abandon("the utterance was too short");
          if (this.debug) this.log.debug({ duration_ms: action.durationMs }, "utterance too short");
          break;
        case "endOfUtterance":
          if (this.debug) this.log.debug({ audio_ms: action.utterance.endMs }, "end of utterance");
          break;
        case "awaitTranscript":
          // Recognition is down: no final will come, so no waiting for one.
          if (this.stt!.health === "down") this.apply(this.machine.handle({ type: "sttDown" }));
          else this.awaitTranscript(action.id, action.timeoutMs);
          break;
        case "turn":
          clearTimeout(this.sttTimer);
          this.onTranscript(action);
          break;
        case "noTranscript":
          clearTimeout(this.sttTimer);
          this.onNoTranscript(action);
          break;
      }
    }
    if (!this.machine.inUtterance) this.utteranceSettled?.();
  }

  /** Waits `ms` for the final; while a reopened stream may still deliver it, the wait goes on. */
  private awaitTranscript(id: number, ms: number): void {
    clearTimeout(this.sttTimer);
    this.sttTimer = setTimeout(() => {
      if (this.ended) return;
      this.guard("STT timeout", () => {
        const again = () => this.awaitTranscript(id, Math.max(LATE_FINAL_POLL_MS, this.app.config.STT_TIMEOUT_MS));
        if (this.stt!.expectsLateFinal()) return again();
        if (this.replaceHungStream()) return again();
        this.apply(this.machine.handle({ type: "sttTimeout", id, at: performance.now() }));
      });
    }, ms);
  }

  /** See RecognitionWatch.hungStream. True when the stream was replaced. */
  private replaceHungStream(): boolean {
    const { machine } = this;
    const startMs = machine.utteranceStartMs;
    const endMs = machine.utteranceEndMs;
    if (startMs === undefined || endMs === undefined) return false;
    const reason = this.watch.hungStream({ startMs, endMs, voicedMs: machine.voicedMs, heardResult: machine.heardResult }, this.stt!);
    if (reason === undefined) return false;
    this.stt!.reportStall(reason);
    return true;
  }

  /** The utterance ended without a transcript: the fallback transcription, or nothing (noise). */
  private onNoTranscript(action: Extract<TurnAction, { type: "noTranscript" }>): void {
    const speculation = this.speculator.abandon("the utterance has no transcript");
    if (this.watch.needsFallback(action.utterance, this.stt!, this.answerInProgress())) return this.fallbackTurn(action, speculation);
    if (this.debug) this.log.debug({ suspected_hung_stream: this.watch.suspected }, "utterance without transcript");
  }

  private onTranscript(action: Extract<TurnAction, { type: "turn" }>): void {
    this.watch.transcribed();
    // "כן" while the agent talks is the caller listening, not a turn.
    if (this.answerInProgress() && this.backchannels.isBackchannelOnly(action.transcript)) {
      this.speculator.abandon("a backchannel");
      this.stats.backchannels++;
      if (this.debug) this.log.debug({ transcript: action.transcript }, "backchannel");
      return;
    }
    const { utterance } = action;
    this.startTurn(utterance.voicedMs, {
      input: "speech",
      transcript: action.transcript,
      usedPartial: action.usedPartial,
      speechStartAudioMs: utterance.startMs,
      speechEndAudioMs: utterance.endMs,
      retries: this.watch.retries(this.stt!),
      timeline: {
        speechStartAt: this.wallAt(utterance.startMs),
        speechEndAt: this.wallAt(utterance.endMs),
        firstResultAt: utterance.firstResultAt,
        eouAt: action.eouAt,
        transcriptAt: action.transcriptAt,
      },
    });
  }

  private wallAt(audioMs: number): number {
    // A turn implies frames were observed, so the clock is set.
    return this.clock.wallAt(audioMs)!;
  }

  // ---- keypad ----------------------------------------------------------------------------------

  private onKey(key: string, at: number): void {
    if (!this.frames) return this.drop("dtmf before start", "dtmf");
    if (this.debug) this.log.debug({ digit: key }, "dtmf");
    // A key pressed while the agent talks stops it, as on any phone menu.
    if (this.answerInProgress()) this.interrupt({ reason: "dtmf", decidedAt: at, voicedMs: 0, transcript: "" });
    this.applyKeypad(this.keypad.press(key, { at, audioMs: this.audioNowMs }));
  }

  private applyKeypad(action: DtmfAction | undefined): void {
    if (!action) return;
    clearTimeout(this.keypadTimer);
    if (action.type === "awaitKey") {
      this.keypadTimer = setTimeout(() => {
        if (this.ended) return;
        this.guard("keypad timeout", () => this.applyKeypad(this.keypad.timeout(action.id, performance.now())));
      }, action.timeoutMs);
      return;
    }
    this.startKeypadTurn(action.entry);
  }

  private startKeypadTurn(entry: KeypadEntry): void {
    this.stats.dtmfTurns++;
    this.startTurn(0, {
      input: "dtmf",
      transcript: keypadMessage(entry.keys),
      usedPartial: false,
      speechStartAudioMs: entry.first.audioMs,
      speechEndAudioMs: entry.last.audioMs,
      retries: 0,
      timeline: { speechStartAt: entry.first.at, speechEndAt: entry.last.at, eouAt: entry.completedAt },
    });
  }

  // ---- barge-in --------------------------------------------------------------------------------

  /** An answer (or the greeting) is being prepared or played, or its audio has not finished playing. */
  private answerInProgress(): boolean {
    return this.answer !== undefined || this.marks.size > 0;
  }

  /** Cheap enough for every voiced frame: numbers only, the transcript was classified on arrival. */
  private considerBargeIn(decidedAt: number): void {
    if (!this.machine.inUtterance || !this.answerInProgress()) return;
    const reason = this.judge.decide(this.machine.voicedMs);
    if (!reason) return;
    this.interrupt({
      reason,
      decidedAt,
      voicedMs: this.machine.voicedMs,
      speechStartAudioMs: this.machine.utteranceStartMs,
      transcript: this.machine.transcriptSoFar,
    });
  }

  /** The caller talks over the agent: stop the audio at once, then the LLM and TTS; keep only what was heard. */
  private interrupt(cause: Interruption): void {
    this.send(this.frames!.clear());
    const clearedAt = performance.now();
    this.speculator.discard(`barge-in (${cause.reason})`);
    const answer = this.dropUnplayed();
    this.stats.bargeIns++;
    this.app.log.info(
      buildBargeInLine({
        callId: this.callId,
        turn: answer?.turn ?? 0,
        reason: cause.reason,
        heardSentences: answer?.heard.length ?? 0,
        voicedMs: cause.voicedMs,
        audioMs: this.audioNowMs,
        speechStartAudioMs: cause.speechStartAudioMs,
        decidedAt: cause.decidedAt,
        clearedAt,
        transcript: cause.transcript,
      }),
      "BARGE_IN",
    );
    if (answer) this.settle(answer);
  }

  /**
   * After a `clear` (or with only end marks left): nothing sent will play any more. The answer stops,
   * and the history keeps only what the caller heard. Returns the answer that was in progress.
   */
  private dropUnplayed(): Answer | undefined {
    const answer = this.answer;
    this.answer = undefined;
    this.marks.clear();
    if (this.edgeGreeting) {
      // Its one mark did not come back: the caller did not hear it to the end.
      this.history.remove(this.edgeGreeting.entry);
      this.edgeGreeting = undefined;
    }
    answer?.stop();
    if (answer) this.keepOnlyHeard(answer);
    this.reportState();
    return answer;
  }

  /** The history keeps, of an interrupted answer, the sentences whose marks came back before `clear`. */
  private keepOnlyHeard(answer: Answer): void {
    const heard = answer.heard.join(" ");
    if (answer.entry) {
      answer.entry.content = heard;
      if (heard === "") this.history.remove(answer.entry);
    } else if (answer.recordsHistory && heard !== "") {
      answer.entry = this.history.add("assistant", heard);
    }
  }

  // ---- answers ---------------------------------------------------------------------------------

  /** The answer in progress from now on. */
  private newAnswer(turn: number, recordsHistory: boolean, report: TurnReport | undefined): Answer {
    this.answer = this.createAnswer(turn, recordsHistory, report, false);
    return this.answer;
  }

  /** `held`: its speaker sends nothing until released (a speculative answer). `tts`: the call's budgeted synthesis unless given. */
  private createAnswer(turn: number, recordsHistory: boolean, report: TurnReport | undefined, held: boolean, tts: Synthesis = this.tts): Answer {
    return makeAnswer(
      {
        frames: this.frames!,
        tts,
        send: (frame) => this.send(frame),
        onMark: (name) => this.marks.add(name),
        log: this.log,
        onRetry: () => this.stats.retries++,
        fallbackText: this.app.config.FIXED_PHRASES.answer_error,
      },
      { turn, recordsHistory, report, held },
    );
  }

  /** An answer still in progress is interrupted by the caller's new turn. */
  private yieldToNewTurn(voicedMs: number, input: Pick<TurnInput, "input" | "speechStartAudioMs" | "transcript" | "timeline">): void {
    if (!this.answerInProgress()) return;
    this.interrupt({
      reason: "new_turn",
      decidedAt: Math.max(input.timeline.eouAt, input.timeline.transcriptAt ?? 0),
      voicedMs,
      speechStartAudioMs: input.input === "speech" ? input.speechStartAudioMs : undefined,
      transcript: input.transcript,
    });
  }

  /** `voicedMs`: the caller's voiced audio in the utterance (0 for keys). */
  private startTurn(voicedMs: number, input: TurnInput): void {
    this.yieldToNewTurn(voicedMs, input);
    const { speculative, outcome } =
      input.input === "speech"
        ? this.speculator.take(input.transcript, this.history.messages, this.turnCount + 1)
        : (this.speculator.discard("a keypad turn"), { outcome: "none" as const });
    if (this.draining) {
      // The state handed over ends with this message: the next core answers it.
      this.history.add("user", input.transcript);
      this.reportState();
      this.log.info({ input: input.input, transcript: input.transcript }, "caller turn left to the next core");
      return;
    }
    const turn = ++this.turnCount;
    this.history.add("user", input.transcript);
    this.reportState();
    if (speculative) return this.playSpeculation(speculative, input);
    const answer = this.newAnswer(turn, true, { ...input, sttFallback: false, fallbacks: 0, speculation: outcome });
    this.runAnswer(answer, () => this.produceAnswer(answer));
  }

  /**
   * Prepares the answer to `text`, the caller's partial transcript, before their turn (see
   * speculation.ts): the LLM on the conversation plus `text`, its sentences synthesized but held.
   */
  private speculate(text: string): SpeculativeAnswer {
    this.history.bound(this.app.config.HISTORY_MAX_TOKENS);
    const history = this.history.messages.map((message) => ({ ...message }));
    const turn = this.turnCount + 1;
    const answer = this.createAnswer(turn, true, unmeasuredSpeechReport(text), true);
    const done = produceAnswer(answer, [...history, { role: "user", content: text }], this.answering);
    if (this.debug) this.log.debug({ turn, transcript: text }, "speculative answer started");
    return { text, history, turn, answer, done };
  }

  /** The speculative answer answers the turn: it becomes the answer and plays what it has ready at once. */
  private playSpeculation(speculative: SpeculativeAnswer, input: TurnInput): void {
    const { answer } = speculative;
    adoptReport(answer.report!, input);
    this.answer = answer;
    answer.speaker.release();
    this.runAnswer(answer, () => speculative.done);
  }

  /** The previous core did not answer the caller's last message: answered now, as the next turn. */
  private answerResumedTurn(transcript: string): void {
    const at = performance.now();
    const turn = ++this.turnCount;
    const answer = this.newAnswer(turn, true, { ...unmeasuredSpeechReport(transcript, at), resumed: true });
    this.runAnswer(answer, () => this.produceAnswer(answer));
  }

  /** Runs an answer off the frame path; when all of it is sent (or it was cut) it is recorded and settled. */
  private runAnswer(answer: Answer, produce: () => Promise<void>): void {
    void produce()
      .then(() => {
        this.answerSent(answer);
        this.settle(answer);
      })
      .catch((error: unknown) => this.log.error({ turn: answer.turn, error: errorText(error) }, "turn failed"));
  }

  /** The conversation, bounded to HISTORY_MAX_TOKENS, goes to the LLM; its answer to the speaker. Never throws. */
  private produceAnswer(answer: Answer): Promise<void> {
    const dropped = this.history.bound(this.app.config.HISTORY_MAX_TOKENS);
    if (dropped > 0 && this.debug) this.log.debug({ dropped_messages: dropped }, "history trimmed");
    return produceAnswer(answer, this.history.messages, this.answering);
  }

  /** Every sentence went out: the caller will hear it all unless they interrupt (then it is trimmed). */
  private answerSent(answer: Answer): void {
    const { spoken } = answer.speaker;
    if (answer.interrupted || this.ended || !answer.recordsHistory || answer.entry || spoken.length === 0) return;
    answer.entry = this.history.add("assistant", spoken.join(" "));
    this.reportState();
  }

  /**
   * Recognition failed for this utterance: the caller hears FIXED_PHRASES.stt_trouble at once (from
   * the cache) while the utterance's audio is transcribed whole in the background; the turn then
   * goes on with that transcript, or ends with FIXED_PHRASES.stt_failed. The frame loop never waits.
   */
  private fallbackTurn(action: Extract<TurnAction, { type: "noTranscript" }>, speculation: TurnReport["speculation"]): void {
    const { utterance } = action;
    if (this.draining) {
      this.log.warn({ audio_ms: Math.round(utterance.endMs - utterance.startMs) }, "utterance without transcript during the drain; not answered");
      return;
    }
    const stt = this.stt!;
    this.watch.fellBack();
    const audio = stt.audio(utterance.startMs - FALLBACK_LEAD_MS, utterance.endMs + FALLBACK_TAIL_MS);
    // Transcribed here: a recovered stream must neither replay this audio nor answer it again.
    stt.coverUpTo(utterance.endMs);
    const timeline: TurnTimeline = { speechStartAt: this.wallAt(utterance.startMs), speechEndAt: this.wallAt(utterance.endMs), eouAt: action.eouAt };
    const input = { input: "speech" as const, transcript: "", usedPartial: false, speechStartAudioMs: utterance.startMs, speechEndAudioMs: utterance.endMs, timeline };
    this.yieldToNewTurn(utterance.voicedMs, input);
    const turn = ++this.turnCount;
    const answer = this.newAnswer(turn, true, { ...input, retries: this.watch.retries(stt), sttFallback: true, fallbacks: 1, speculation });
    answer.speaker.say(this.app.config.FIXED_PHRASES.stt_trouble);
    this.log.warn({ turn, audio_ms: Math.round(audio.length / 8) }, "STT fallback: transcribing the utterance");
    this.runAnswer(answer, () => this.answerFromTranscription(answer, audio));
  }

  private async answerFromTranscription(answer: Answer, audio: Uint8Array): Promise<void> {
    const report = answer.report!;
    let transcript = "";
    let failure: unknown;
    try {
      transcript = await this.app.transcriber.transcribe(audio, { callId: this.callId, signal: answer.llm.signal });
    } catch (error) {
      failure = error;
    }
    if (answer.interrupted) return; // the caller spoke again; that turn goes on
    report.timeline.transcriptAt = performance.now();
    // The interim phrase could not be synthesized: the apology in its place already asked the caller to say it again.
    if (!answer.speaker.accepting) return answer.speaker.finish();
    if (transcript !== "") {
      report.transcript = transcript;
      this.history.add("user", transcript);
      this.reportState();
      return this.produceAnswer(answer);
    }
    this.log.warn({ turn: answer.turn, error: failure === undefined ? "empty transcript" : errorText(failure) }, "STT fallback failed; speaking the fallback phrase");
    answer.speaker.say(this.app.config.FIXED_PHRASES.stt_failed);
    report.fallbacks++;
    await answer.speaker.finish();
  }

  /**
   * The answer's audio is all sent, or it was cut (barge-in, hang-up): count it and write its TURN
   * line, once. Its metrics are complete by then; a barge-in during the playback that follows shows
   * in the BARGE_IN line.
   */
  private settle(answer: Answer): void {
    if (answer.settled) return;
    answer.settled = true;
    const { speaker, report } = answer;
    this.stats.cacheHits += speaker.cacheHits;
    this.stats.ttsSyntheses += speaker.syntheses;
    if (!report) return;
    this.stats.fallbacks += report.fallbacks;
    const line = turnLineOf(answer, report, this.callId);
    if (report.resumed) {
      // Not the caller's turn on this core: no speech to measure from, so no TURN line.
      const { turn, LLM_FIRST_TOKEN_MS, TTS_READY_MS, TOTAL_LATENCY_MS, answer_sentences, interrupted, retries, fallbacks } = line;
      this.log.info(
        { turn, LLM_FIRST_TOKEN_MS, TTS_READY_MS, first_audio_ms: TOTAL_LATENCY_MS, answer_sentences, interrupted, retries, fallbacks },
        "resumed turn answered",
      );
      return;
    }
    if (line.TOTAL_LATENCY_MS !== undefined) this.stats.totalLatenciesMs.push(line.TOTAL_LATENCY_MS);
    // TURN lines name the call themselves, so they go through the app's logger.
    this.app.log.info(line, "TURN");
  }

  private send(frame: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(frame);
    this.stats.framesOut++;
  }

  /** Tells the edge the conversation as it stands, when it changed since the last time. */
  private reportState(): void {
    const frame = this.stateReports.frame(this.history.messages, this.turnCount);
    if (frame) this.send(frame);
  }

  // ---- the end ---------------------------------------------------------------------------------

  /**
   * The process is stopping (SIGTERM): the call moves to another core. Nothing new is generated;
   * the sentence playing now finishes (its mark echoed), the rest is cleared, and an utterance the
   * caller is in the middle of is let finish: it goes into the state unanswered, for the next core
   * to answer. Both waits together take at most `maxMs`. Then the edge gets the conversation as
   * heard, `core.move`, and close 1012. Resolves once the link is closed.
   */
  async drain(maxMs: number): Promise<void> {
    if (this.ended || this.draining) return;
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.socket.once("close", () => resolve()));
    // Saying its last words: it closes within WRAP_UP_MAX_MS, well within the drain's budget.
    if (this.wrappingUp) return closed;
    const deadline = performance.now() + maxMs;
    // The LLM and every synthesis stop; what was sent keeps playing until cleared below.
    this.answer?.stop();
    this.speculator.discard("the core is draining");
    const playing = this.marks.playing;
    if (playing !== undefined && !(await this.marks.settled(playing, maxMs))) {
      this.log.warn({ mark: playing, waited_ms: maxMs }, "drain: the audio playing did not finish in time");
    }
    if (this.ended) return; // the caller hung up meanwhile
    if (this.frames && this.marks.audioPending) this.send(this.frames.clear());
    const answer = this.dropUnplayed();
    if (answer) this.settle(answer);
    if (this.machine.inUtterance && !(await this.utteranceEnd(deadline - performance.now()))) {
      this.log.warn({ speech_start_audio_ms: this.machine.utteranceStartMs }, "drain: the caller was still speaking; the utterance is cut");
    }
    if (this.ended) return;
    const move: CoreMove = { event: "core.move", reason: "draining" };
    this.send(JSON.stringify(move));
    this.end("moved");
    this.socket.close(CLOSE_CORE_MOVING, "core draining");
    await closed;
  }

  /** Resolves true once the caller's utterance in progress became a turn (or noise), or false after `ms`. */
  private utteranceEnd(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(false), Math.max(0, ms));
      const settle = (ended: boolean) => {
        clearTimeout(timer);
        this.utteranceSettled = undefined;
        resolve(ended);
      };
      this.utteranceSettled = () => settle(true);
    });
  }

  // ---- the core ends the call: time limit, budget ---------------------------------------------

  private timeUp(): void {
    if (this.ended || this.wrappingUp) return;
    this.log.warn({ max_call_ms: this.app.config.MAX_CALL_MS }, "call time limit reached; ending the call");
    this.wrapUp("time limit");
  }

  private budgetSpent(budget: BudgetName, limit: number): void {
    if (this.ended || this.wrappingUp) return;
    const used = budget === "LLM_MAX_REQUESTS_PER_CALL" ? this.budget.llmRequests : this.budget.ttsChars;
    this.log.warn({ budget, limit, used }, "call budget spent; ending the call");
    this.wrapUp("budget");
  }

  /**
   * The core ends the call: it stops listening (no more turns; recognition, the LLM and every
   * synthesis stop), cuts what is playing, says CALL_LIMIT_TEXT (from the cache, where warmup put
   * it; never refused by the budget) and closes with 1000 once its end mark comes back, or after
   * WRAP_UP_MAX_MS. A call moving to another core (draining) is left to the drain.
   */
  private wrapUp(reason: WrapUpReason): void {
    if (this.ended || this.wrappingUp || this.draining) return;
    this.wrappingUp = reason;
    clearTimeout(this.timeLimit);
    clearTimeout(this.sttTimer);
    clearTimeout(this.keypadTimer);
    this.speculator.discard("the call is ending");
    const close = () => {
      if (this.ended) return;
      this.end(reason);
      this.socket.close(1000, reason);
    };
    if (!this.frames) return close(); // before `start` nothing can be said
    if (this.marks.audioPending) this.send(this.frames.clear());
    const cut = this.dropUnplayed();
    if (cut) this.settle(cut);
    this.stt?.close();
    const farewell = this.createAnswer(this.turnCount + 1, false, undefined, false, this.app.tts);
    this.answer = farewell;
    this.wrapUpTimer = setTimeout(close, WRAP_UP_MAX_MS);
    farewell.speaker.say(this.app.config.CALL_LIMIT_TEXT);
    void farewell.speaker
      .finish()
      .then(() => this.marks.settled(farewell.endMark, WRAP_UP_MAX_MS))
      .then(close);
  }

  /** Ends the call once: every timer cleared, LLM and TTS aborted, the STT stream closed, one CALL line. */
  private end(reason: CallEndReason): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timeLimit);
    clearTimeout(this.wrapUpTimer);
    clearTimeout(this.sttTimer);
    clearTimeout(this.keypadTimer);
    // A drain waiting on this call stops waiting.
    this.marks.clear();
    this.utteranceSettled?.();
    const answer = this.answer;
    this.answer = undefined;
    if (answer) {
      answer.stop();
      this.settle(answer);
    }
    this.speculator.discard("the call ended");
    this.stt?.close();
    this.detector?.close();
    const durationMs = performance.now() - this.startedAt;
    const line = this.stats.callLine({ callId: this.callId, durationMs, turns: this.turnCount, stt: this.stt?.stats, endReason: reason });
    this.app.log.info(line, "CALL");
    this.options.onEnded(this);
  }
}
