// The caller's side of a call, as a shell: from the caller's `start` it owns the VAD detector, the
// recognition stream and the timers the listening asks for, feeds the listening (listening.ts) every
// frame, result and key, and runs the actions it returns, in order: a barge-in cuts the agent, a
// turn goes to the answers (answering.ts), a timer is armed. The frame path is decode + VAD + STT
// write + one listening step; everything slower runs off it. It also watches for a silent caller
// (idle.ts): each frame on the caller's clock, each of their words or keys resetting it.
import { FRAME_BYTES, levelDbfs, mulawToPcm, type InboundMediaFrame } from "@voice/protocol";
import type { OutboundFrames } from "../audio/frames.js";
import { SpeechGate } from "../eou/speech-gate.js";
import type { VoiceActivityDetector } from "../eou/vad.js";
import { buildBargeInLine } from "../metrics/turn.js";
import type { SttEvent, SttResult, SttStream } from "../stt/types.js";
import type { Answering } from "./answering.js";
import { IdleWatch, type IdleAction } from "./idle.js";
import { Listening, listeningSettings, type Interruption, type ListeningAction, type ListeningEvent, type ListeningTimer } from "./listening.js";
import type { CallContext, CallServices } from "./ports.js";
import { Timers } from "./timers.js";
import type { TurnInput } from "./turn-report.js";

/** What the caller's side needs of its call, besides its shared parts. */
export interface HearingPort extends CallContext {
  answering: Answering;
  frames: OutboundFrames;
  /** The conversation or the utterance in progress changed (the session's waits look again). */
  changed(): void;
  /** The caller stayed silent: a reprompt is due, or the goodbye. */
  idle(action: IdleAction): void;
}

export class Hearing {
  private readonly listening: Listening;
  private readonly detector: VoiceActivityDetector;
  readonly stt: SttStream;
  private readonly timers = new Timers();
  private readonly idle: IdleWatch;
  private readonly gate = new SpeechGate();
  private readonly pcm = new Int16Array(FRAME_BYTES);
  private readonly agentAsked = () => this.port.conversation.lastAgentWords;
  private readonly retractableAnswer = () => this.port.answering.retractable();

  constructor(
    private readonly port: HearingPort,
    services: Pick<CallServices, "vad" | "stt">,
    /** Contains a failure of one handler to the call (see the session's guard). */
    private readonly guard: (what: string, work: () => void) => void,
  ) {
    this.listening = new Listening(listeningSettings(port.config, port.debug));
    this.idle = new IdleWatch({ repromptMs: port.config.IDLE_REPROMPT_MS, maxReprompts: port.config.IDLE_MAX_REPROMPTS });
    this.detector = services.vad.create(port.config.VAD_MODE);
    this.stt = services.stt.openStream(port.callId, {
      onResult: (result) => guard("STT result handler", () => this.result(result)),
      onEvent: (event) => guard("STT event handler", () => this.sttEvent(event)),
    });
  }

  /** The caller is in an utterance (speech started, no turn decided yet). */
  get inUtterance(): boolean {
    return this.listening.inUtterance;
  }

  get utteranceStartMs(): number | undefined {
    return this.listening.utteranceStartMs;
  }

  /** The caller stops being heard: recognition and pending decisions stop (the call is ending). */
  stop(): void {
    this.timers.cancelAll();
    this.stt.close();
  }

  /** The call ended: every resource released. */
  close(): void {
    this.stop();
    this.detector.close();
  }

  /** The speculative answer was dropped by the call: the listening may start another. */
  speculationStopped(): void {
    this.listening.speculationStopped();
  }

  media(frame: InboundMediaFrame, at: number): void {
    // parseInbound checked its size.
    const mulaw = Buffer.from(frame.media.payload, "base64");
    this.port.stats.framesIn++;
    const audioMs = Number(frame.media.timestamp);
    const pcm = mulawToPcm(mulaw, this.pcm);
    const voiced = this.gate.isSpeech(this.detector.isVoiced(pcm), levelDbfs(pcm));
    this.stt.write(mulaw, audioMs, this.listening.utteranceStartMs);
    this.hear({ type: "frame", voiced, audioMs, at });
    this.watchSilence(audioMs);
  }

  key(digit: string, at: number): void {
    this.idle.handle({ type: "callerActive" });
    this.hear({ type: "key", key: digit, at });
  }

  /** One frame of the silence watch: the agent holding the floor (a tool still running too) and the caller mid-utterance or mid-entry pause it. */
  private watchSilence(audioMs: number): void {
    const { port, listening } = this;
    if (!port.answers()) return;
    const agentHolds = port.conversation.agentHolds || port.answering.toolsRunning;
    const action = this.idle.handle({ type: "frame", audioMs, agentHolds, callerBusy: listening.speakingWords || listening.keysPending });
    if (action) port.idle(action);
  }

  private result(result: SttResult): void {
    if (!this.port.listens()) return;
    this.hear({ type: "result", text: result.transcript, isFinal: result.isFinal, audioEndMs: result.audioEndMs, at: performance.now() });
  }

  private sttEvent(event: SttEvent): void {
    if (this.port.ended()) return;
    const { log } = this.port;
    switch (event.type) {
      case "retry":
        return log.warn({ code: event.code, error: event.error, attempt: event.attempt, delay_ms: event.delayMs }, "STT stream failed; retrying");
      case "down":
        log.error({ code: event.code, error: event.error, attempts: event.attempts, retryable: event.retryable }, "STT down; utterances go to the fallback transcription");
        return this.hear({ type: "sttDown" });
      case "recovered":
        return log.info({ attempts: event.attempts }, "STT stream recovered");
      case "rotated":
        return log.info({ reason: event.reason, stream_audio_ms: Math.round(event.streamAudioMs), replay_ms: Math.round(event.replayMs) }, "STT stream rotated");
      case "duplicateFinal":
        if (this.port.debug) log.debug({ audio_end_ms: Math.round(event.audioEndMs), transcript: event.transcript }, "duplicate final dropped");
        return;
      case "resultIgnored":
        // Already thinned to one a second by the stream.
        return log.warn({ reason: event.reason, ignored: event.ignored }, "STT result ignored");
    }
  }

  /** One listening step, its actions run in order. */
  private hear(event: ListeningEvent): void {
    const { port } = this;
    const context = { agentHolds: port.conversation.agentHolds, answers: port.answers(), stt: this.stt, agentAsked: this.agentAsked, retractableAnswer: this.retractableAnswer };
    const actions = this.listening.handle(event, context);
    for (const action of actions) this.run(action);
    if (actions.length > 0) port.changed();
  }

  private run(action: ListeningAction): void {
    const { port } = this;
    switch (action.type) {
      case "bargeIn":
      case "retractTurn":
        return this.interrupt(action.interruption);
      case "turn":
        this.idle.handle({ type: "callerActive" });
        if (action.input.input === "dtmf") port.stats.dtmfTurns++;
        return this.startTurn(action.input, action.voicedMs, action.speculations);
      case "fallbackTurn":
        this.idle.handle({ type: "callerActive" });
        if (!port.answers()) {
          port.log.warn({ audio_ms: Math.round(action.utterance.endMs - action.utterance.startMs) }, "utterance without transcript during the drain; not answered");
          return;
        }
        this.yieldToNewTurn(action.voicedMs, action.input);
        return port.answering.answerUntranscribed(port.conversation.takeTurn(), action.input, action.speculation, this.stt);
      case "turnStands":
        return port.answering.turnStands();
      case "resumeAnswer": {
        const sentences = port.answering.resumeCut();
        port.log.info({ why: action.why, sentences }, sentences > 0 ? "barge-in came to no words; the answer goes on" : "barge-in came to no words; nothing left to say");
        return;
      }
      case "backchannel":
        this.idle.handle({ type: "callerActive" });
        port.stats.backchannels++;
        if (port.debug) port.log.debug({ transcript: action.transcript }, "backchannel");
        return;
      case "speculate":
        return port.answering.speculate(action.text);
      case "dropSpeculation":
        return port.answering.dropSpeculation(action.reason);
      case "armTimer":
        return this.timers.arm(action.timer, action.ms, () => this.timerFired(action.timer, action.id));
      case "cancelTimer":
        return this.timers.cancel(action.timer);
      case "restartStt":
        port.log.info({ audio_ms: action.audioMs }, "STT retried for a new utterance");
        return this.stt.restart();
      case "replaceStream":
        return this.stt.reportStall(action.reason);
      case "trace":
        return port.log.debug(action.fields, action.message);
    }
  }

  private timerFired(timer: ListeningTimer, id: number): void {
    if (this.port.ended()) return;
    this.guard(`${timer} timer`, () => {
      const at = performance.now();
      if (timer === "keys") return this.hear({ type: "timer", timer, id, at });
      this.hear({ type: "timer", timer, id, at, lateFinalPossible: this.stt.expectsLateFinal() });
    });
  }

  /** The caller's turn: the agent yields the floor, and the turn is answered (or, when moving, left in the state for the next core). */
  private startTurn(input: TurnInput, voicedMs: number, speculations: number): void {
    const { port } = this;
    const { conversation, answering } = port;
    this.yieldToNewTurn(voicedMs, input);
    const taken =
      input.input === "speech"
        ? answering.takeSpeculation(input.transcript, speculations)
        : (answering.dropSpeculation("a keypad turn"), { outcome: "none" as const });
    if (!port.answers()) {
      // The state handed over ends with this message: the next core answers it.
      conversation.callerSaid(input.transcript);
      port.sendState();
      port.log.info({ input: input.input, transcript: input.transcript }, "caller turn left to the next core");
      return;
    }
    const turn = conversation.takeTurn();
    conversation.callerSaid(input.transcript);
    port.sendState();
    answering.answerTurn(turn, input, taken);
  }

  /** An answer still in progress is interrupted by the caller's new turn. */
  private yieldToNewTurn(voicedMs: number, input: TurnInput): void {
    if (!this.port.conversation.agentHolds) return;
    const { timeline } = input;
    this.interrupt({
      reason: "new_turn",
      decidedAt: Math.max(timeline.eouAt, timeline.transcriptAt ?? 0),
      voicedMs,
      speechStartAudioMs: input.input === "speech" ? input.speechStartAudioMs : undefined,
      transcript: input.transcript,
      audioMs: this.listening.audioMs,
    });
  }

  /** The caller talks over the agent: stop the audio at once, then the LLM and TTS; keep only what was heard. */
  private interrupt(cause: Interruption): void {
    const { port } = this;
    port.send(port.frames.clear());
    const clearedAt = performance.now();
    port.answering.dropSpeculation(`barge-in (${cause.reason})`);
    // "resumed": the turn was taken too early; its answer goes with it (listening.ts, recoverCutoff).
    const answer = cause.reason === "resumed" ? port.answering.retract() : port.answering.cut();
    if (cause.reason === "resumed") port.stats.recoveredCutoffs++;
    port.stats.bargeIns++;
    const { reason, voicedMs, audioMs, speechStartAudioMs, decidedAt, transcript } = cause;
    const heardSentences = answer?.speech?.heard.length ?? 0;
    const line = buildBargeInLine({ callId: port.callId, turn: answer?.turn ?? 0, reason, heardSentences, voicedMs, audioMs, speechStartAudioMs, decidedAt, clearedAt, transcript });
    port.lines.info(line, "BARGE_IN");
    if (answer) port.answering.settle(answer);
  }
}
