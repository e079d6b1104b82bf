// One answer of the agent (or the greeting, turn 0): from its first sentence until the echo of its
// end mark (its audio played), a barge-in, or the end of the call. It owns what must stop together when the caller
// interrupts (the LLM stream and every synthesis) and knows, from the mark echoes, what was heard.
import type { TurnLineFields } from "@voice/protocol";
import { errorText } from "../app.js";
import type { OutboundFrames } from "../audio/frames.js";
import type { ChatMessage } from "../llm/types.js";
import type { Logger } from "../metrics/log.js";
import { buildTurnLine, type TurnInputFacts, type TurnTimeline } from "../metrics/turn.js";
import type { Synthesis, Synthesized } from "../tts/cache.js";
import { Speaker, type SpeakerOptions } from "../tts/speaker.js";
import type { SpeculationOutcome } from "./speculation.js";

/** What a turn's TURN line needs: the caller's side of the turn, and its timeline. */
export interface TurnReport extends TurnInputFacts {
  timeline: TurnTimeline;
  /** The answer to a message the caller said to the previous core of a moved call (its timeline starts at the resume). */
  resumed?: true;
  /** What became of the speculative answers of the turn's utterance (see speculation.ts). */
  speculation?: SpeculationOutcome;
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
export function adoptReport(report: TurnReport, turn: Omit<TurnReport, "fallbacks" | "sttFallback" | "speculation">): void {
  const { llmRequestAt, llmFirstTokenAt } = report.timeline;
  Object.assign(report, {
    ...turn,
    retries: turn.retries + report.retries,
    speculation: "used",
    timeline: { ...turn.timeline, llmRequestAt, llmFirstTokenAt },
  });
}

export class Answer {
  /** Aborts the LLM stream. */
  readonly llm = new AbortController();
  readonly speaker: Speaker;
  /** Sentence of each mark sent, to know what the caller heard when the echo comes. */
  private readonly sentenceOfMark = new Map<string, string>();
  /** Sentences whose marks came back, in order: what the caller heard in full. */
  readonly heard: string[] = [];
  /** Its entry in the conversation history, once there is one. */
  entry: ChatMessage | undefined;
  interrupted = false;
  /** Counted, and its TURN line written (when it is a turn). */
  settled = false;

  constructor(
    readonly turn: number,
    /** Whether what the caller heard goes into the history (not for interim phrases). */
    readonly recordsHistory: boolean,
    /** Absent for the greeting, which is not a turn. */
    readonly report: TurnReport | undefined,
    speaker: Omit<SpeakerOptions, "turn" | "onMark"> & { onMark(name: string): void },
  ) {
    this.speaker = new Speaker({
      ...speaker,
      turn,
      onMark: (name, sentence) => {
        if (sentence !== undefined) this.sentenceOfMark.set(name, sentence);
        speaker.onMark(name);
      },
    });
  }

  get endMark(): string {
    return `${this.turn}.end`;
  }

  /** A mark of this answer came back after its audio played; true for the end mark. */
  markEchoed(name: string): boolean {
    const sentence = this.sentenceOfMark.get(name);
    if (sentence !== undefined) this.heard.push(sentence);
    return name === this.endMark;
  }

  /** Stops the LLM stream and every synthesis; nothing more is sent. */
  stop(): void {
    this.interrupted = true;
    this.llm.abort();
    this.speaker.abort();
  }
}

/** What an answer needs of its call. */
export interface AnswerContext {
  frames: OutboundFrames;
  tts: Synthesis;
  /** Sends one frame towards the caller. */
  send(frame: string): void;
  /** A mark was sent (the call waits for its echo). */
  onMark(name: string): void;
  /** The call's logger. */
  log: Logger;
  /** A synthesis is retried (the CALL line counts it). */
  onRetry(): void;
  /** Spoken in place of a sentence that cannot be synthesized (FIXED_PHRASES.answer_error). */
  fallbackText: string;
}

/**
 * One of the call's answers (without `report`: the greeting, which is not a turn). Synthesis goes
 * through the cache; a failure (an error, or TTS_TIMEOUT_MS passed) is retried once, then the
 * fallback phrase takes the sentence's place. `held`: nothing is sent until its speaker is released.
 */
export function makeAnswer(
  context: AnswerContext,
  { turn, recordsHistory, report, held }: { turn: number; recordsHistory: boolean; report: TurnReport | undefined; held: boolean },
): Answer {
  const { log, tts } = context;
  const synthesize = async (text: string, signal: AbortSignal): Promise<Synthesized> => {
    try {
      return await tts.synthesize(text, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      context.onRetry();
      if (report) report.retries++;
      log.warn({ turn, sentence: text, error: errorText(error), attempt: 1 }, "TTS failed; retrying");
      return tts.synthesize(text, signal);
    }
  };
  return new Answer(turn, recordsHistory, report, {
    frames: context.frames,
    synthesize,
    send: context.send,
    onMark: context.onMark,
    onError: (sentence, error, replaced) => {
      if (!replaced) return log.warn({ turn, sentence, error: errorText(error) }, "TTS failed; sentence skipped");
      if (report) report.fallbacks++;
      log.warn({ turn, sentence, error: errorText(error) }, "TTS failed; speaking the fallback phrase");
    },
    // The greeting has no fallback: an apology would be the first thing the caller hears.
    fallbackText: report ? context.fallbackText : undefined,
    now: () => performance.now(),
    held,
  });
}

/** The TURN line of a turn's answer once settled: its report, and the moments of the first audio sent. */
export function turnLineOf(answer: Answer, report: TurnReport, callId: string): TurnLineFields {
  const { speaker } = answer;
  const first = speaker.firstAudio;
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
    sentences: speaker.spoken.length,
    ttsFailures: speaker.failures,
    speculation: report.speculation,
  });
}
