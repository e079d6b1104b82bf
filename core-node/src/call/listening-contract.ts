// What the caller's listening (listening.ts) takes and gives: the events it is fed, the context it
// reads at each, the actions it returns for the hearing shell (hearing.ts) to run, and its settings.
import type { SpeculationOutcome } from "@voice/protocol";
import type { Config } from "../config.js";
import type { Utterance } from "../eou/turn-machine.js";
import type { HoldWords } from "../eou/unfinished.js";
import type { SttView } from "./recognition-watch.js";
import type { TurnInput } from "./turn-report.js";

/** Why and when the agent is stopped for the caller (a BARGE_IN line). */
export interface Interruption {
  reason: "words" | "long_speech" | "new_turn" | "dtmf" | "resumed";
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
  /** What the agent said last (its question: a number asked for makes digits unfinished). */
  agentAsked(): string;
  /**
   * Whether the answer holding the floor can still be taken back (it answers the last turn, no
   * sentence of it was heard in full, it ran no tools): "silent" before any of its audio was sent,
   * "audible" once some was; undefined when it cannot.
   */
  retractableAnswer(): "silent" | "audible" | undefined;
}

export type ListeningAction =
  /** The caller talks over the agent: stop it at once. */
  | { type: "bargeIn"; interruption: Interruption }
  /** The caller spoke on right after their turn was taken: take its answer back; the new utterance continues the turn's words. */
  | { type: "retractTurn"; interruption: Interruption }
  /** The last spoken turn can no longer be taken back (its TURN line may be written). */
  | { type: "turnStands" }
  /** A turn to answer: speech with its transcript, or a keypad entry. `speculations`: started during its utterance. */
  | { type: "turn"; input: TurnInput; voicedMs: number; speculations: number }
  /** An utterance without a transcript whose words are in the audio: transcribe it whole (stt/transcription.ts). */
  | { type: "fallbackTurn"; utterance: Utterance; input: TurnInput; voicedMs: number; speculation: SpeculationOutcome }
  /** The utterance that cut the agent came to no words (a noise, only "yes"): its answer goes on from the first sentence not heard. */
  | { type: "resumeAnswer"; why: "no_words" | "backchannel" }
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
  /** EOU_HOLD_MAX_MS and EOU_HOLD_WORDS (eou/unfinished.ts). */
  holdMaxMs: number;
  holdWords: Readonly<Record<string, HoldWords>>;
  /** CUTOFF_RECOVERY_MS: speech starting this soon after a turn's speech end may continue that turn (0: never). */
  cutoffRecoveryMs: number;
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
    holdMaxMs: c.EOU_HOLD_MAX_MS,
    holdWords: c.EOU_HOLD_WORDS,
    cutoffRecoveryMs: c.CUTOFF_RECOVERY_MS,
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
