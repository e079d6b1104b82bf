// What one turn's TURN line says, built in one place. A turn's input (speech with its transcript,
// a keypad entry, an utterance handed to the fallback transcription, a message a previous core left
// unanswered) becomes a TurnReport when the turn is taken; the answer adds its LLM and retry facts
// while it runs; when it is settled the report and the answer's first audio make the TURN line.
// Pure: wall times arrive as numbers, nothing here reads a clock.
import type { SpeculationOutcome, TurnLineFields } from "@voice/protocol";
import type { KeypadEntry } from "./dtmf.js";
import { keypadMessage } from "./dtmf.js";
import { buildTurnLine, type TurnInputFacts, type TurnTimeline } from "../metrics/turn.js";
import type { Utterance } from "../eou/turn-machine.js";

/** What a turn's TURN line needs: the caller's side of the turn, and its timeline. */
export interface TurnReport extends TurnInputFacts {
  timeline: TurnTimeline;
  /** The answer to a message the caller said to the previous core of a moved call (its timeline starts at the resume). */
  resumed?: true;
  /** What became of the speculative answers of the turn's utterance (see speculation.ts). */
  speculation?: SpeculationOutcome;
}

/** A turn about to be answered: what the caller said or keyed, and when. */
export type TurnInput = Omit<TurnReport, "fallbacks" | "sttFallback" | "speculation">;

/** Maps a point on the caller's audio clock to wall time (metrics/clock.ts). */
export type WallClock = (audioMs: number) => number;

/** A spoken turn: the utterance and the transcript the turn machine settled on. */
export function speechTurnInput(
  turn: { transcript: string; usedPartial: boolean; utterance: Utterance; eouAt: number; transcriptAt: number },
  wallAt: WallClock,
  retries: number,
): TurnInput {
  const { utterance } = turn;
  return {
    input: "speech",
    transcript: turn.transcript,
    usedPartial: turn.usedPartial,
    speechStartAudioMs: utterance.startMs,
    speechEndAudioMs: utterance.endMs,
    retries,
    eouHold: utterance.hold,
    pausesHeld: utterance.pausesHeld,
    timeline: {
      speechStartAt: wallAt(utterance.startMs),
      speechEndAt: wallAt(utterance.endMs),
      firstResultAt: utterance.firstResultAt,
      eouAt: turn.eouAt,
      transcriptAt: turn.transcriptAt,
    },
  };
}

/** A keypad entry as a turn: the keys' own moments stand for speech start and end. */
export function keypadTurnInput(entry: KeypadEntry): TurnInput {
  return {
    input: "dtmf",
    transcript: keypadMessage(entry.keys),
    usedPartial: false,
    speechStartAudioMs: entry.first.audioMs,
    speechEndAudioMs: entry.last.audioMs,
    retries: 0,
    timeline: { speechStartAt: entry.first.at, speechEndAt: entry.last.at, eouAt: entry.completedAt },
  };
}

/** An utterance with no transcript, handed whole to the fallback transcription: the transcript comes later. */
export function fallbackTurnInput(utterance: Utterance, eouAt: number, wallAt: WallClock, retries: number): TurnInput {
  return {
    input: "speech",
    transcript: "",
    usedPartial: false,
    speechStartAudioMs: utterance.startMs,
    speechEndAudioMs: utterance.endMs,
    retries,
    timeline: { speechStartAt: wallAt(utterance.startMs), speechEndAt: wallAt(utterance.endMs), eouAt },
  };
}

/** The report of a turn as it is taken. */
export function turnReport(input: TurnInput, facts: { sttFallback: boolean; fallbacks: number; speculation: SpeculationOutcome }): TurnReport {
  return { ...input, ...facts };
}

/**
 * The report of a spoken turn whose caller side was not measured here: a speculative answer (until
 * the turn comes and replaces it) or a turn handed over by a previous core. `at`: where its timeline
 * starts (0 for a placeholder).
 */
export function unmeasuredSpeechReport(text: string, at = 0): TurnReport {
  return {
    input: "speech",
    transcript: text,
    usedPartial: false,
    sttFallback: false,
    speechStartAudioMs: 0,
    speechEndAudioMs: 0,
    retries: 0,
    fallbacks: 0,
    timeline: { speechStartAt: at, speechEndAt: at, eouAt: at },
  };
}

/**
 * A speculative answer becomes the turn's: the caller's side of the turn replaces the placeholder,
 * while the LLM request's timings (from the speculative request) and the retries and fallbacks of
 * the answer so far stay. The LLM stream may still be running: it writes into the same report.
 */
export function adoptReport(report: TurnReport, turn: TurnInput): void {
  const { llmRequestAt, llmFirstTokenAt } = report.timeline;
  Object.assign(report, {
    ...turn,
    retries: turn.retries + report.retries,
    speculation: "used",
    timeline: { ...turn.timeline, llmRequestAt, llmFirstTokenAt },
  });
}

/** What the answer to a turn did, as its speaker saw it. */
export interface AnswerOutcome {
  turn: number;
  interrupted: boolean;
  /** Timing of the first sentence sent, if any was. */
  firstAudio?: { ttsRequestedAt: number; ttsReadyAt: number; cacheHit: boolean; firstFrameAt: number };
  sentences: number;
  /** The sentences sent towards the caller, in order (the TURN line's agent_text). */
  spoken: readonly string[];
  ttsFailures: number;
}

/** The TURN line of a turn's answer once settled: its report, the moments of the first audio sent, and the sentences sent. */
export function turnLineOf(answer: AnswerOutcome, report: TurnReport, callId: string): TurnLineFields {
  const first = answer.firstAudio;
  const timeline: TurnTimeline = first
    ? { ...report.timeline, ttsRequestAt: first.ttsRequestedAt, ttsReadyAt: first.ttsReadyAt, firstFrameAt: first.firstFrameAt }
    : report.timeline;
  return buildTurnLine(timeline, {
    callId,
    turn: answer.turn,
    input: report.input,
    transcript: report.transcript,
    usedPartial: report.usedPartial,
    sttFallback: report.sttFallback,
    speechStartAudioMs: report.speechStartAudioMs,
    speechEndAudioMs: report.speechEndAudioMs,
    cacheHit: first?.cacheHit,
    retries: report.retries,
    fallbacks: report.fallbacks,
    interrupted: answer.interrupted,
    sentences: answer.sentences,
    ttsFailures: answer.ttsFailures,
    speculation: report.speculation,
    tools: report.tools,
    toolMs: report.toolMs,
    toolFiller: report.toolFiller,
    eouHold: report.eouHold,
    pausesHeld: report.pausesHeld,
    recoveredCutoff: report.recoveredCutoff,
    agentSentences: answer.spoken,
  });
}

/** A resumed turn is not the caller's turn on this core (no speech to measure from): its answer's facts, without a TURN line. */
export function resumedTurnFields(line: TurnLineFields) {
  const { turn, LLM_FIRST_TOKEN_MS, TTS_READY_MS, TOTAL_LATENCY_MS, answer_sentences, interrupted, retries, fallbacks, agent_text } = line;
  return { turn, LLM_FIRST_TOKEN_MS, TTS_READY_MS, first_audio_ms: TOTAL_LATENCY_MS, answer_sentences, interrupted, retries, fallbacks, agent_text };
}
