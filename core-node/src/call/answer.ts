// One answer of the agent (or the greeting, turn 0, or the farewell): the I/O that must stop together
// when the caller interrupts (the LLM stream and every synthesis) and the report its TURN line is
// built from. What the caller heard of it is the conversation's bookkeeping (conversation.ts).
import type { CoreEnd } from "@voice/protocol";
import { errorText } from "../app.js";
import type { OutboundFrames } from "../audio/frames.js";
import type { Logger } from "../metrics/log.js";
import type { Synthesis, Synthesized } from "../tts/cache.js";
import { Speaker, type SpeakerOptions } from "../tts/speaker.js";
import type { ChatMessage } from "../llm/types.js";
import type { AgentSpeech } from "./conversation.js";
import type { AnswerOutcome, TurnReport } from "./turn-report.js";

export class Answer {
  /** Aborts the LLM stream. */
  readonly llm = new AbortController();
  readonly speaker: Speaker;
  /** Its place in the conversation once it holds the floor (a speculative answer gets one when played). */
  speech: AgentSpeech | undefined;
  interrupted = false;
  /** A speculative answer stopped before a tool with side effects: it cannot answer the turn. */
  halted = false;
  /** It ended the call (end_call, transfer_to_staff): no more rounds; `core.end` follows once it played. */
  ending: CoreEnd | undefined;
  /** Counted, and its TURN line written (when it is a turn). */
  settled = false;
  /** Its turn may still be taken back (turn-lines.ts): its TURN line waits until the turn stands. */
  mayBeRetracted = false;
  /** Taken back with its turn (the caller spoke on before hearing any of it): it gets no TURN line. */
  retracted = false;
  /**
   * Tool rounds of a speculative answer, kept out of the conversation until the answer is played
   * (then adopted); a committed answer records its rounds in the conversation as they happen.
   */
  readonly exchange: ChatMessage[] = [];

  constructor(
    readonly turn: number,
    /** Whether what the caller heard goes into the history (not for a farewell). */
    readonly recordsHistory: boolean,
    /** Absent for the greeting and the farewell, which are not turns. */
    readonly report: TurnReport | undefined,
    /** Held until its turn: prepared on a partial transcript (speculation.ts); false once played. */
    public speculative: boolean,
    speaker: Omit<SpeakerOptions, "turn">,
  ) {
    this.speaker = new Speaker({ ...speaker, turn });
  }

  /** Stops the LLM stream and every synthesis; nothing more is sent. */
  stop(): void {
    this.interrupted = true;
    this.llm.abort();
    this.speaker.abort();
  }

  /** What it did, for its TURN line. */
  get outcome(): AnswerOutcome {
    const { speaker } = this;
    return {
      turn: this.turn,
      interrupted: this.interrupted,
      firstAudio: speaker.firstAudio,
      sentences: speaker.spoken.length,
      spoken: [...speaker.spoken],
      ttsFailures: speaker.failures,
    };
  }
}

/** What an answer needs of its call. */
export interface AnswerContext {
  frames: OutboundFrames;
  tts: Synthesis;
  /** Sends one frame towards the caller. */
  send(frame: string): void;
  /** A mark of `answer` was sent after `sentence`'s audio (none: its end mark); the call waits for its echo. */
  onMark(answer: Answer, name: string, sentence: string | undefined): void;
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
  const answer: Answer = new Answer(turn, recordsHistory, report, held, {
    frames: context.frames,
    synthesize,
    send: context.send,
    onMark: (name, sentence) => context.onMark(answer, name, sentence),
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
  return answer;
}
