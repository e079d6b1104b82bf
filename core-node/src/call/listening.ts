// The caller's side of a call, as one pure decision: what the caller's audio, the recognizer's
// results and the keypad mean for the call. Events in (a frame's VAD verdict, an STT result, a key,
// a timer that fired), actions out (a turn, a barge-in, a speculation to start or drop, a timer to
// arm, a recognition stream to restart). Time arrives inside the events; no clock, no I/O.
//
// It composes the pure parts that each decide one thing: the turn machine (end of utterance and
// the transcript, eou/turn-machine.ts), the barge-in judge (eou/barge-in.ts), the backchannel
// lexicon, the speculation trigger (speculation.ts), the recognition watch (recognition-watch.ts)
// and the keypad collector (dtmf.ts). The session runs the actions in order.
import { FRAME_MS, type SpeculationOutcome } from "@voice/protocol";
import type { Config } from "../config.js";
import { BackchannelLexicon } from "../eou/backchannel.js";
import { BargeInJudge } from "../eou/barge-in.js";
import { TurnMachine, type TurnAction, type Utterance } from "../eou/turn-machine.js";
import { AudioClock } from "../metrics/clock.js";
import { DtmfCollector, type DtmfAction } from "./dtmf.js";
import { RecognitionWatch, type SttView } from "./recognition-watch.js";
import { SpeculationTrigger } from "./speculation.js";
import { fallbackTurnInput, keypadTurnInput, speechTurnInput, type TurnInput } from "./turn-report.js";

/** Consecutive voiced 20 ms frames that start speech. */
const SPEECH_START_FRAMES = 3;

/** While a reopened recognition stream may still deliver a final, the wait for it is re-armed this often (at least). */
export const LATE_FINAL_POLL_MS = 50;

/** Why and when the agent is stopped for the caller (a BARGE_IN line). */
export interface Interruption {
  reason: "words" | "long_speech" | "new_turn" | "dtmf";
  /** Wall time of the frame, transcript or key that decided it. */
  decidedAt: number;
  voicedMs: number;
  speechStartAudioMs?: number;
  transcript: string;
  /** End of the caller's audio received so far, on the caller's clock. */
  audioMs: number;
}

export type ListeningTimer = "transcript" | "keys";

export type ListeningEvent =
  | { type: "frame"; voiced: boolean; audioMs: number; at: number }
  | { type: "result"; text: string; isFinal: boolean; audioEndMs?: number; at: number }
  /** Recognition is down: the utterance waiting for its final will not get one. */
  | { type: "sttDown" }
  | { type: "key"; key: string; at: number }
  /** A timer the listening asked for fired. `lateFinalPossible`: the stream may still deliver a final (stt/stream.ts). */
  | { type: "timer"; timer: "transcript"; id: number; at: number; lateFinalPossible: boolean }
  | { type: "timer"; timer: "keys"; id: number; at: number };

/** What the listening needs to know of the rest of the call at each event. */
export interface ListeningContext {
  /** The agent holds the floor (an answer in progress, or audio not yet played). */
  agentHolds: boolean;
  /** The call answers turns now (not moving to another core, not ending). */
  answers: boolean;
  /** The recognition stream, read only. */
  stt: SttView;
}

export type ListeningAction =
  /** The caller talks over the agent: stop it at once. */
  | { type: "bargeIn"; interruption: Interruption }
  /** A turn to answer: speech with its transcript, or a keypad entry. `speculations`: started during its utterance. */
  | { type: "turn"; input: TurnInput; voicedMs: number; speculations: number }
  /** An utterance without a transcript whose words are in the audio: transcribe it whole (stt/transcription.ts). */
  | { type: "fallbackTurn"; utterance: Utterance; input: TurnInput; voicedMs: number; speculation: SpeculationOutcome }
  /** "כן" while the agent talks: the caller listening, not a turn. */
  | { type: "backchannel"; transcript: string }
  /** Prepare the answer to `text` (the caller's stable partial), held unplayed. */
  | { type: "speculate"; text: string }
  /** The speculative answer in flight, if any, no longer fits: abort it. */
  | { type: "dropSpeculation"; reason: string }
  | { type: "armTimer"; timer: ListeningTimer; id: number; ms: number }
  | { type: "cancelTimer"; timer: ListeningTimer }
  /** Recognition was down; a new utterance gives it another chance. */
  | { type: "restartStt"; audioMs: number }
  /** The stream stopped answering mid-utterance: replace it and feed the utterance again. */
  | { type: "replaceStream"; reason: string }
  /** For the debug log only. */
  | { type: "trace"; message: string; fields: Record<string, unknown> };

export interface ListeningSettings {
  language: string;
  backchannelWords: Readonly<Record<string, readonly string[]>>;
  hangoverMs: number;
  minUtteranceMs: number;
  partialDebounceMs: number;
  sttTimeoutMs: number;
  bargeInMinMs: number;
  backchannelMaxMs: number;
  dtmfTimeoutMs: number;
  speculation: { enabled: boolean; stableMs: number; stableVoicedMs: number; maxPerUtterance: number };
  /** Emit `trace` actions (debug logging). */
  trace: boolean;
}

export function listeningSettings(c: Config, trace: boolean): ListeningSettings {
  return {
    language: c.LANGUAGE,
    backchannelWords: c.BACKCHANNEL_WORDS,
    hangoverMs: c.VAD_HANGOVER_MS,
    minUtteranceMs: c.MIN_UTT_SEC * 1000,
    partialDebounceMs: c.STT_PARTIAL_DEBOUNCE_MS,
    sttTimeoutMs: c.STT_TIMEOUT_MS,
    bargeInMinMs: c.BARGE_IN_MIN_MS,
    backchannelMaxMs: c.BACKCHANNEL_MAX_MS,
    dtmfTimeoutMs: c.DTMF_TIMEOUT_MS,
    speculation: {
      enabled: c.LLM_SPECULATE,
      stableMs: c.SPECULATE_STABLE_MS,
      stableVoicedMs: c.SPECULATE_STABLE_VOICED_MS,
      maxPerUtterance: c.SPECULATE_MAX_PER_UTTERANCE,
    },
    trace,
  };
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
  private readonly clock = new AudioClock(FRAME_MS);
  /** End of the latest caller audio received, on the caller's clock. */
  private audioNowMs = 0;

  constructor(private readonly settings: ListeningSettings) {
    this.machine = new TurnMachine({
      frameMs: FRAME_MS,
      speechStartFrames: SPEECH_START_FRAMES,
      hangoverMs: settings.hangoverMs,
      minUtteranceMs: settings.minUtteranceMs,
      partialDebounceMs: settings.partialDebounceMs,
      sttTimeoutMs: settings.sttTimeoutMs,
    });
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
    const endMs = this.machine.utteranceEndMs;
    if (endMs === undefined) return;
    const text = this.trigger.due(this.audioNowMs, this.audioNowMs - endMs);
    if (text === undefined || !step.context.answers || step.agentHolds) return;
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
          this.dropSpeculation(step, "a new utterance began");
          this.trigger.reset();
          // An utterance after the fallback one is a new chance for the recognizer (one episode, not a loop).
          if (this.watch.speechStarted(stt)) step.actions.push({ type: "restartStt", audioMs: action.startMs });
          if (this.settings.trace) this.trace(step, "speech start", { audio_ms: action.startMs });
          break;
        case "partial":
          if (this.settings.trace) this.trace(step, "partial", { text: action.text });
          break;
        case "utteranceDiscarded":
          this.abandonSpeculation(step, "the utterance was too short");
          if (this.settings.trace) this.trace(step, "utterance too short", { duration_ms: action.durationMs });
          break;
        case "endOfUtterance":
          if (this.settings.trace) this.trace(step, "end of utterance", { audio_ms: action.utterance.endMs });
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
    if (step.agentHolds && this.backchannels.isBackchannelOnly(action.transcript)) {
      this.abandonSpeculation(step, "a backchannel");
      step.actions.push({ type: "backchannel", transcript: action.transcript });
      return;
    }
    const speculations = this.trigger.started;
    this.trigger.reset();
    const input = speechTurnInput(action, this.wallAt, this.watch.retries(step.context.stt));
    this.turn(step, { type: "turn", input, voicedMs: action.utterance.voicedMs, speculations });
  }

  /** The utterance ended without a transcript: the fallback transcription, or nothing (noise). */
  private untranscribed(step: Step, action: Extract<TurnAction, { type: "noTranscript" }>): void {
    const { stt } = step.context;
    const speculation = this.abandonSpeculation(step, "the utterance has no transcript");
    if (!this.watch.needsFallback(action.utterance, stt, step.agentHolds)) {
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
    this.bargeIn(step, {
      reason,
      decidedAt,
      voicedMs: this.machine.voicedMs,
      speechStartAudioMs: this.machine.utteranceStartMs,
      transcript: this.machine.transcriptSoFar,
      audioMs: this.audioNowMs,
    });
  }

  private bargeIn(step: Step, interruption: Interruption): void {
    step.actions.push({ type: "bargeIn", interruption });
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

  /** A turn implies frames were observed, so the clock is set. */
  private readonly wallAt = (audioMs: number): number => this.clock.wallAt(audioMs)!;
}
