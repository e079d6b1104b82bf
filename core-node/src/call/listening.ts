// The caller's side of a call, as one pure decision: what the caller's audio, the recognizer's
// results and the keypad mean for the call. Events in (a frame's VAD verdict, an STT result, a key,
// a timer that fired), actions out (a turn, a barge-in, a speculation to start or drop, a timer to
// arm, a recognition stream to restart). Time arrives inside the events; no clock, no I/O.
//
// It composes the pure parts that each decide one thing: the turn machine (end of utterance and
// the transcript, eou/turn-machine.ts), the barge-in judge (eou/barge-in.ts), the backchannel
// lexicon, the speculation trigger (speculation.ts), the recognition watch (recognition-watch.ts)
// and the keypad collector (dtmf.ts). The session runs the actions in order.
//
// Turn-taking on unfinished words: the turn machine holds the end of utterance while the words so
// far cannot end one (eou/unfinished.ts), and the speculation waits with it. When a turn was taken
// in a pause anyway and the caller speaks on within CUTOFF_RECOVERY_MS, before hearing any of the
// answer, the answer is taken back and the new utterance continues the turn's words (recoverCutoff).
import { FRAME_MS, type SpeculationOutcome } from "@voice/protocol";
import { BackchannelLexicon } from "../eou/backchannel.js";
import { BargeInJudge } from "../eou/barge-in.js";
import { TurnMachine, type TurnAction } from "../eou/turn-machine.js";
import { UnfinishedWords } from "../eou/unfinished.js";
import { AudioClock } from "../metrics/clock.js";
import { DtmfCollector, type DtmfAction } from "./dtmf.js";
import type { Interruption, ListeningAction, ListeningContext, ListeningEvent, ListeningSettings } from "./listening-contract.js";
import { RecognitionWatch, type SttView } from "./recognition-watch.js";
import { SpeculationTrigger } from "./speculation.js";
import { fallbackTurnInput, keypadTurnInput, speechTurnInput, type TurnInput } from "./turn-report.js";

export * from "./listening-contract.js";

/** Consecutive voiced 20 ms frames that start speech. */
const SPEECH_START_FRAMES = 3;

/** While a reopened recognition stream may still deliver a final, the wait for it is re-armed this often (at least). */
export const LATE_FINAL_POLL_MS = 50;

/** A speech turn just taken: it may turn out to have been taken too early (see recoverCutoff). */
interface TakenTurn {
  input: TurnInput;
  voicedMs: number;
  /** Its speech end on the caller's clock. */
  endMs: number;
}

/** One event's work: the actions so far, and whether the agent still holds the floor once they run. */
interface Step {
  actions: ListeningAction[];
  agentHolds: boolean;
  context: ListeningContext;
}

export class Listening {
  private readonly machine: TurnMachine;
  private readonly judge: BargeInJudge;
  private readonly backchannels: BackchannelLexicon;
  private readonly watch: RecognitionWatch;
  private readonly keypad: DtmfCollector;
  private readonly trigger: SpeculationTrigger;
  private readonly unfinished: UnfinishedWords;
  private readonly clock = new AudioClock(FRAME_MS);
  /** End of the latest caller audio received, on the caller's clock. */
  private audioNowMs = 0;
  /** The context of the event being handled (the hold judge reads the agent's question from it). */
  private context: ListeningContext | undefined;
  /**
   * The last speech turn, until it stands (turnStands) or is taken back: while its recovery window
   * is open ("window"), or while the utterance that began in it may still continue it with a word
   * (its answer was already audible: "words").
   */
  private pending: { turn: TakenTurn; awaiting: "window" | "words" } | undefined;
  /** The turn the current utterance continues, once it was taken back. */
  private continued: TakenTurn | undefined;
  /** The current utterance cut the agent on its sound or words (not a key, not a new turn). */
  private cutAgent = false;

  constructor(private readonly settings: ListeningSettings) {
    this.machine = new TurnMachine({
      frameMs: FRAME_MS,
      speechStartFrames: SPEECH_START_FRAMES,
      hangoverMs: settings.hangoverMs,
      minUtteranceMs: settings.minUtteranceMs,
      partialDebounceMs: settings.partialDebounceMs,
      sttTimeoutMs: settings.sttTimeoutMs,
      holdMaxMs: settings.holdMaxMs,
    }, this.holdReason);
    this.unfinished = UnfinishedWords.forLanguage(settings.language, settings.holdWords);
    this.backchannels = BackchannelLexicon.forLanguage(settings.language, settings.backchannelWords);
    this.judge = new BargeInJudge({ minMs: settings.bargeInMinMs, backchannelMaxMs: settings.backchannelMaxMs }, this.backchannels);
    this.watch = new RecognitionWatch(settings.backchannelMaxMs);
    this.keypad = new DtmfCollector(settings.dtmfTimeoutMs);
    this.trigger = new SpeculationTrigger(settings.speculation);
  }

  /** True while the caller is in an utterance (speech started, no turn decided yet). */
  get inUtterance(): boolean {
    return this.machine.inUtterance;
  }

  /** Start of the utterance in progress on the caller's clock (the recognition stream's replay reaches back to it). */
  get utteranceStartMs(): number | undefined {
    return this.machine.utteranceStartMs;
  }

  /** In an utterance that has words so far (sound alone, a tone or music, has none). */
  get speakingWords(): boolean {
    return this.machine.inUtterance && this.machine.transcriptSoFar.trim() !== "";
  }

  /** Keys are being typed: an entry started and not finished. */
  get keysPending(): boolean {
    return this.keypad.collecting;
  }

  /** End of the caller's audio received so far, on the caller's clock. */
  get audioMs(): number {
    return this.audioNowMs;
  }

  handle(event: ListeningEvent, context: ListeningContext): ListeningAction[] {
    const step: Step = { actions: [], agentHolds: context.agentHolds, context };
    this.context = context;
    switch (event.type) {
      case "frame":
        this.frame(step, event.voiced, event.audioMs, event.at);
        break;
      case "result":
        this.result(step, event.text, event.isFinal, event.audioEndMs, event.at);
        break;
      case "sttDown":
        // The next utterance goes to the fallback transcription (the one waiting for its final, at
        // once); the one after it tries the recognizer again.
        this.watch.wentDown();
        this.runMachine(step, this.machine.handle({ type: "sttDown" }));
        break;
      case "key":
        this.key(step, event.key, event.at);
        break;
      case "timer":
        if (event.timer === "keys") this.keys(step, this.keypad.timeout(event.id, event.at));
        else this.transcriptDue(step, event.id, event.at, event.lateFinalPossible);
        break;
    }
    return step.actions;
  }

  /** The speculative answer was stopped by the call (barge-in, drain, end): another may start, budget allowing. */
  speculationStopped(): void {
    this.trigger.stopped();
  }

  private frame(step: Step, voiced: boolean, audioMs: number, at: number): void {
    this.clock.observe(audioMs, at);
    this.audioNowMs = audioMs + FRAME_MS;
    const machineActions = this.machine.handle({ type: "frame", voiced, audioMs, at });
    if (machineActions.length > 0) this.runMachine(step, machineActions);
    if (voiced) this.considerBargeIn(step, at);
    this.confirmTurn(step);
    const endMs = this.machine.utteranceEndMs;
    if (endMs === undefined) return;
    const text = this.trigger.due(this.audioNowMs, this.audioNowMs - endMs);
    // Unfinished words are not worth an answer yet: the speculation waits with the end of utterance.
    if (text === undefined || !step.context.answers || step.agentHolds || this.holdReason(text) !== undefined) return;
    this.trigger.began();
    step.actions.push({ type: "speculate", text });
  }

  private result(step: Step, text: string, isFinal: boolean, audioEndMs: number | undefined, at: number): void {
    const machineActions = this.machine.handle({ type: isFinal ? "final" : "partial", text, audioEndMs, at });
    if (this.machine.inUtterance) {
      const soFar = this.machine.transcriptSoFar;
      this.judge.hear(soFar);
      if (this.trigger.heard(soFar, this.audioNowMs)) step.actions.push({ type: "dropSpeculation", reason: "the transcript changed" });
      this.considerBargeIn(step, at);
    }
    this.runMachine(step, machineActions);
  }

  private key(step: Step, key: string, at: number): void {
    if (this.settings.trace) this.trace(step, "dtmf", { digit: key });
    // A key pressed while the agent talks stops it, as on any phone menu.
    if (step.agentHolds) this.bargeIn(step, { reason: "dtmf", decidedAt: at, voicedMs: 0, transcript: "", audioMs: this.audioNowMs });
    this.keys(step, this.keypad.press(key, { at, audioMs: this.audioNowMs }));
  }

  private keys(step: Step, action: DtmfAction | undefined): void {
    if (!action) return;
    if (action.type === "awaitKey") {
      step.actions.push({ type: "armTimer", timer: "keys", id: action.id, ms: action.timeoutMs });
      return;
    }
    step.actions.push({ type: "cancelTimer", timer: "keys" });
    this.trigger.stopped();
    this.turn(step, { type: "turn", input: keypadTurnInput(action.entry), voicedMs: 0, speculations: 0 });
  }

  /** The wait for a final ran out: wait on while a reopened stream may still deliver it, or replace a hung one; else decide. */
  private transcriptDue(step: Step, id: number, at: number, lateFinalPossible: boolean): void {
    const again: ListeningAction = { type: "armTimer", timer: "transcript", id, ms: Math.max(LATE_FINAL_POLL_MS, this.settings.sttTimeoutMs) };
    if (lateFinalPossible) {
      step.actions.push(again);
      return;
    }
    const hung = this.hungStream(step.context.stt);
    if (hung !== undefined) {
      step.actions.push({ type: "replaceStream", reason: hung }, again);
      return;
    }
    this.runMachine(step, this.machine.handle({ type: "sttTimeout", id, at }));
  }

  /** See RecognitionWatch.hungStream. */
  private hungStream(stt: SttView): string | undefined {
    const { machine } = this;
    const startMs = machine.utteranceStartMs;
    const endMs = machine.utteranceEndMs;
    if (startMs === undefined || endMs === undefined) return undefined;
    return this.watch.hungStream({ startMs, endMs, voicedMs: machine.voicedMs, heardResult: machine.heardResult }, stt);
  }

  private runMachine(step: Step, machineActions: TurnAction[]): void {
    const { stt } = step.context;
    for (const action of machineActions) {
      switch (action.type) {
        case "speechStart":
          this.judge.reset();
          this.cutAgent = false;
          this.dropSpeculation(step, "a new utterance began");
          this.trigger.reset();
          this.recoverCutoff(step, action.startMs);
          // An utterance after the fallback one is a new chance for the recognizer (one episode, not a loop).
          if (this.watch.speechStarted(stt)) step.actions.push({ type: "restartStt", audioMs: action.startMs });
          if (this.settings.trace) this.trace(step, "speech start", { audio_ms: action.startMs });
          break;
        case "partial":
          if (this.settings.trace) this.trace(step, "partial", { text: action.text });
          break;
        case "utteranceDiscarded":
          this.abandonSpeculation(step, "the utterance was too short");
          this.answerContinuedAgain(step);
          this.resumeCutAnswer(step, "no_words");
          if (this.settings.trace) this.trace(step, "utterance too short", { duration_ms: action.durationMs });
          break;
        case "endOfUtterance":
          if (this.settings.trace) this.trace(step, "end of utterance", { audio_ms: action.utterance.endMs });
          break;
        case "endOfUtteranceWithdrawn":
          step.actions.push({ type: "cancelTimer", timer: "transcript" });
          if (this.settings.trace) this.trace(step, "end of utterance withdrawn: the words are unfinished", {});
          break;
        case "awaitTranscript":
          // Recognition is down: no final will come, so no waiting for one.
          if (stt.health === "down") this.runMachine(step, this.machine.handle({ type: "sttDown" }));
          else step.actions.push({ type: "armTimer", timer: "transcript", id: action.id, ms: action.timeoutMs });
          break;
        case "turn":
          step.actions.push({ type: "cancelTimer", timer: "transcript" });
          this.transcribed(step, action);
          break;
        case "noTranscript":
          step.actions.push({ type: "cancelTimer", timer: "transcript" });
          this.untranscribed(step, action);
          break;
      }
    }
  }

  private transcribed(step: Step, action: Extract<TurnAction, { type: "turn" }>): void {
    this.watch.transcribed();
    if (this.cutAgent && this.backchannels.isBackchannelOnly(action.transcript)) return this.resumeCutAnswer(step, "backchannel");
    if (step.agentHolds && this.backchannels.isBackchannelOnly(action.transcript)) {
      this.abandonSpeculation(step, "a backchannel");
      step.actions.push({ type: "backchannel", transcript: action.transcript });
      return;
    }
    const speculations = this.trigger.started;
    this.trigger.reset();
    const input = speechTurnInput(action, this.wallAt, this.watch.retries(step.context.stt));
    const continued = this.continued?.input;
    this.continued = undefined;
    // One turn from the first word: it starts where the turn it carries on started.
    if (continued) {
      input.recoveredCutoff = true;
      input.speechStartAudioMs = continued.speechStartAudioMs;
      input.timeline.speechStartAt = continued.timeline.speechStartAt;
      input.timeline.firstResultAt = continued.timeline.firstResultAt ?? input.timeline.firstResultAt;
    }
    this.turn(step, { type: "turn", input, voicedMs: action.utterance.voicedMs, speculations });
    if (this.settings.cutoffRecoveryMs <= 0 || !step.context.answers) return;
    this.pending = { turn: { input, voicedMs: action.utterance.voicedMs, endMs: action.utterance.endMs }, awaiting: "window" };
  }

  /**
   * The last spoken turn stands once nothing can continue it: the recovery window passed with no
   * new utterance, or the utterance awaited for a word ended without one.
   */
  private confirmTurn(step: Step): void {
    const pending = this.pending;
    if (!pending) return;
    const open = pending.awaiting === "window" ? this.audioNowMs - pending.turn.endMs <= this.settings.cutoffRecoveryMs : this.machine.inUtterance;
    if (!open) this.standTurn(step);
  }

  private standTurn(step: Step): void {
    this.pending = undefined;
    step.actions.push({ type: "turnStands" });
  }

  /**
   * A new utterance right after a speech turn, before the caller heard a sentence of its answer: the
   * turn was probably taken in a pause of an unfinished sentence. While the answer is silent that is
   * decided at once; once its audio plays, only by a word ("כן" over it is a backchannel, not more
   * of the turn). Taken back, its answer goes and this utterance carries its words on: the whole is
   * answered once.
   */
  private recoverCutoff(step: Step, startMs: number): void {
    this.continued = undefined;
    const pending = this.pending;
    if (pending?.awaiting !== "window") return;
    const { context } = step;
    const inWindow = startMs - pending.turn.endMs <= this.settings.cutoffRecoveryMs && context.answers;
    const answer = inWindow ? context.retractableAnswer() : undefined;
    if (answer === "silent") this.retract(step, pending.turn, this.wallAt(startMs));
    else if (answer === "audible") pending.awaiting = "words";
    else this.standTurn(step);
  }

  private retract(step: Step, taken: TakenTurn, decidedAt: number): void {
    this.continued = taken;
    this.pending = undefined;
    this.machine.carry(taken.input.transcript);
    const { voicedMs, utteranceStartMs: speechStartAudioMs } = this.machine;
    step.actions.push({
      type: "retractTurn",
      interruption: { reason: "resumed", decidedAt, voicedMs, speechStartAudioMs, transcript: taken.input.transcript, audioMs: this.audioNowMs },
    });
    this.trigger.stopped();
    step.agentHolds = false;
  }

  /** The utterance that was to continue a taken-back turn came to nothing (a noise): that turn is answered as it was. */
  private answerContinuedAgain(step: Step): void {
    const taken = this.continued;
    this.continued = undefined;
    if (taken) this.turn(step, { type: "turn", input: { ...taken.input, recoveredCutoff: true }, voicedMs: taken.voicedMs, speculations: 0 });
  }

  /** The utterance ended without a transcript: the fallback transcription, or nothing (noise). */
  private untranscribed(step: Step, action: Extract<TurnAction, { type: "noTranscript" }>): void {
    const { stt } = step.context;
    const speculation = this.abandonSpeculation(step, "the utterance has no transcript");
    if (!this.watch.needsFallback(action.utterance, stt, step.agentHolds)) {
      this.resumeCutAnswer(step, "no_words");
      if (this.settings.trace) this.trace(step, "utterance without transcript", { suspected_hung_stream: this.watch.suspected });
      return;
    }
    if (step.context.answers) this.watch.fellBack();
    const input = fallbackTurnInput(action.utterance, action.eouAt, this.wallAt, this.watch.retries(stt));
    this.turn(step, { type: "fallbackTurn", utterance: action.utterance, input, voicedMs: action.utterance.voicedMs, speculation });
  }

  /** A turn goes to the session; the answer to it will hold the floor. */
  private turn(step: Step, action: Extract<ListeningAction, { type: "turn" | "fallbackTurn" }>): void {
    step.actions.push(action);
    if (step.context.answers) step.agentHolds = true;
  }

  /** Cheap enough for every voiced frame: numbers only, the transcript was classified on arrival. */
  private considerBargeIn(step: Step, decidedAt: number): void {
    if (!this.machine.inUtterance || !step.agentHolds) return;
    const reason = this.judge.decide(this.machine.voicedMs);
    if (!reason) return;
    const pending = this.pending;
    if (reason === "words" && pending?.awaiting === "words" && step.context.retractableAnswer() !== undefined) return this.retract(step, pending.turn, decidedAt);
    this.bargeIn(step, {
      reason,
      decidedAt,
      voicedMs: this.machine.voicedMs,
      speechStartAudioMs: this.machine.utteranceStartMs,
      transcript: this.machine.transcriptSoFar,
      audioMs: this.audioNowMs,
    });
  }

  /** The utterance that cut the agent came to nothing: the agent goes on (once per utterance). */
  private resumeCutAnswer(step: Step, why: "no_words" | "backchannel"): void {
    if (!this.cutAgent) return;
    this.cutAgent = false;
    step.actions.push({ type: "resumeAnswer", why });
    step.agentHolds = true;
  }

  private bargeIn(step: Step, interruption: Interruption): void {
    step.actions.push({ type: "bargeIn", interruption });
    this.cutAgent = interruption.reason === "words" || interruption.reason === "long_speech";
    // The session drops the speculative answer with the rest of the agent's answer.
    this.trigger.stopped();
    step.agentHolds = false;
  }

  private dropSpeculation(step: Step, reason: string): void {
    if (this.trigger.speculating) step.actions.push({ type: "dropSpeculation", reason });
  }

  /** The utterance ends without an answer to speculate for: what became of its speculations. */
  private abandonSpeculation(step: Step, reason: string): SpeculationOutcome {
    this.dropSpeculation(step, reason);
    const outcome = this.trigger.started > 0 ? "discarded" : "none";
    this.trigger.reset();
    return outcome;
  }

  private trace(step: Step, message: string, fields: Record<string, unknown>): void {
    step.actions.push({ type: "trace", message, fields });
  }

  /** Why the words so far cannot end the utterance (the turn machine's hold judge). */
  private readonly holdReason = (transcript: string) => this.unfinished.reason(transcript, this.context?.agentAsked() ?? "");

  /** A turn implies frames were observed, so the clock is set. */
  private readonly wallAt = (audioMs: number): number => this.clock.wallAt(audioMs)!;
}
