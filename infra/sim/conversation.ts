// What the caller heard, split into the greeting and one segment per script line. A segment starts
// when the caller starts speaking its line; agent audio and sentences heard until the next line
// belong to it. Pure bookkeeping: times are passed in.

/** Sentence marks are "<turn>.<seq>:<text>"; the last mark of an answer is "<turn>.end". */
const SENTENCE_MARK = /^(\d+)\.(\d+):([\s\S]*)$/;
const END_MARK = /^[^:]*\.end$/;
/** The edge's mark after a greeting played from its store. */
export const GREETING_MARK = "greeting";

export interface Segment {
  callerText: string;
  /** When the caller's last speech frame was sent (turns only). */
  callerEndAt: number | null;
  /** When the first agent audio of this segment started playing. */
  firstPlayAt: number | null;
  /** Sentences heard in full (their mark echoed after playback, not by a clear). */
  sentences: string[];
  /** mu-law heard, as played. */
  audio: Uint8Array[];
  audioBytes: number;
  /** The answer's end mark (or the greeting's) has been echoed. */
  finished: boolean;
}

function newSegment(callerText: string): Segment {
  return { callerText, callerEndAt: null, firstPlayAt: null, sentences: [], audio: [], audioBytes: 0, finished: false };
}

export class Conversation {
  readonly greeting = newSegment("");
  readonly turns: Segment[] = [];

  get current(): Segment {
    return this.turns.at(-1) ?? this.greeting;
  }

  startTurn(callerText: string): void {
    this.turns.push(newSegment(callerText));
  }

  callerFinished(at: number): void {
    this.current.callerEndAt = at;
  }

  agentPlayed(audio: Uint8Array, at: number): void {
    const segment = this.current;
    segment.firstPlayAt ??= at;
    segment.audio.push(audio);
    segment.audioBytes += audio.length;
  }

  /** A mark was echoed: `heard` is false when a clear released it before its audio played. */
  markEchoed(name: string, heard: boolean): void {
    const segment = this.current;
    const sentence = SENTENCE_MARK.exec(name);
    if (sentence && heard) segment.sentences.push(sentence[3]!);
    if (END_MARK.test(name) || (segment === this.greeting && name === GREETING_MARK)) segment.finished = true;
  }
}
