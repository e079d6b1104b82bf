// One answer of the agent (or the greeting, turn 0): from its first sentence until the echo of its
// end mark (its audio played), a barge-in, or the end of the call. It owns what must stop together when the caller
// interrupts (the LLM stream and every synthesis) and knows, from the mark echoes, what was heard.
import type { TurnLineFields } from "@voice/protocol";
import type { ChatMessage } from "../llm/types.js";
import { buildTurnLine, type TurnInputFacts, type TurnTimeline } from "../metrics/turn.js";
import { Speaker, type SpeakerOptions } from "../tts/speaker.js";

/** What a turn's TURN line needs: the caller's side of the turn, and its timeline. */
export interface TurnReport extends TurnInputFacts {
  timeline: TurnTimeline;
  /** The answer to a message the caller said to the previous core of a moved call (its timeline starts at the resume). */
  resumed?: true;
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
  });
}
