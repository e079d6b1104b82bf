// What the caller heard, split into the greeting and one segment per script line. The agent's audio
// arrives as answers: an answer begins with the first audio (or sentence mark) after the previous one
// ended, and ends at its end mark or a clear. An answer belongs to the latest line when it began, so
// the rest of an answer the caller spoke over (a backchannel, a cough) stays with the line it answers.
// Pure bookkeeping: times are passed in. `at` times are performance.now(); `audioMs` times are the
// caller's audio clock (media.timestamp ms, which is also the offset in the call recording).

import { PHRASE_MARKS } from "@voice/protocol";

/** Sentence marks are "<turn>.<seq>:<text>"; the last mark of an answer is "<turn>.end". */
const SENTENCE_MARK = /^(\d+)\.(\d+):([\s\S]*)$/;
const END_MARK = /^[^:]*\.end$/;
/** The edge's marks after a phrase it plays by itself (the greeting, "one moment" while a call moves). */
const PHRASE_MARK_NAMES: readonly string[] = Object.values(PHRASE_MARKS);

export type CallerKind = "speech" | "noise" | "dtmf" | "silence" | "tone";

/** What a segment needs to know about the line that opens it. */
export interface LineInfo {
  kind: CallerKind;
  /** The words, or the keys for dtmf ("" for noise, silence and tone). */
  text: string;
  expectAnswer: boolean;
}

/**
 * Whether the agent may speak during or after this line without that being an error: a line that
 * asked for an answer, and silence or a tone, over which the agent may ask whether the caller is still
 * there. Noise and backchannels must be let pass.
 */
export function answerAllowed(line: LineInfo): boolean {
  return line.expectAnswer || line.kind === "silence" || line.kind === "tone";
}

export interface Segment {
  /** 0 for the greeting, k for the caller's k-th line. */
  index: number;
  line: LineInfo;
  /** Where the caller's line started (its first frame's timestamp) and ended (end of its last frame). */
  callerStartAudioMs: number | null;
  callerEndAudioMs: number | null;
  /** When the caller's last frame was sent. */
  callerEndAt: number | null;
  /** When the first frame of this segment's answer arrived (before it waited for its 20 ms playout slot). */
  firstReceivedAt: number | null;
  /** When and where the first frame of this segment's answer started playing. */
  firstPlayAt: number | null;
  firstPlayAudioMs: number | null;
  /** The first clear that arrived after this line started and before the next one did. */
  clearAudioMs: number | null;
  /** Sentences heard in full (their mark echoed after playback, not by a clear). */
  sentences: string[];
  /** mu-law heard, as played. */
  audio: Uint8Array[];
  audioBytes: number;
  /** Its answer is over: the end mark (or the greeting's) was echoed, or a clear cut it. */
  finished: boolean;
}

export interface ClearArrival {
  audioMs: number;
  at: number;
}

function newSegment(index: number, line: LineInfo): Segment {
  return {
    index,
    line,
    callerStartAudioMs: null,
    callerEndAudioMs: null,
    callerEndAt: null,
    firstReceivedAt: null,
    firstPlayAt: null,
    firstPlayAudioMs: null,
    clearAudioMs: null,
    sentences: [],
    audio: [],
    audioBytes: 0,
    finished: false,
  };
}

export class Conversation {
  readonly greeting = newSegment(0, { kind: "speech", text: "", expectAnswer: true });
  readonly turns: Segment[] = [];
  readonly clears: ClearArrival[] = [];
  /** The segment whose answer is arriving; undefined between answers. */
  private receiving: Segment | undefined;

  /** The latest line, or the greeting before the first. */
  get current(): Segment {
    return this.turns.at(-1) ?? this.greeting;
  }

  /** An answer has begun arriving and has not ended yet. */
  get answerOpen(): boolean {
    return this.receiving !== undefined;
  }

  /** The answer a barge-in speaks over: that of the latest line that wanted one, or the greeting. */
  get answerReference(): Segment {
    return this.turns.findLast((turn) => turn.line.expectAnswer) ?? this.greeting;
  }

  startTurn(line: LineInfo, audioMs: number): Segment {
    const segment = newSegment(this.turns.length + 1, line);
    segment.callerStartAudioMs = audioMs;
    this.turns.push(segment);
    return segment;
  }

  callerFinished(at: number, audioMs: number): void {
    this.current.callerEndAt = at;
    this.current.callerEndAudioMs = audioMs;
  }

  /** Agent audio arrived (at `at`, when given): whose it is, and whether it began a new answer. */
  audioReceived(at?: number): { owner: Segment; began: boolean } {
    const began = this.receiving === undefined;
    this.receiving ??= this.current;
    if (at !== undefined) this.receiving.firstReceivedAt ??= at;
    return { owner: this.receiving, began };
  }

  /** A mark arrived: whose it is, and whether it began a new answer. An end mark ends the answer. */
  markReceived(name: string): { owner: Segment; began: boolean } {
    const ends = END_MARK.test(name) || PHRASE_MARK_NAMES.includes(name);
    const began = this.receiving === undefined && !ends;
    const owner = this.receiving ?? this.current;
    this.receiving = ends ? undefined : owner;
    return { owner, began };
  }

  /** A clear arrived: the answer arriving is cut; the clear is credited to the latest line. */
  clearReceived(audioMs: number, at: number): void {
    if (this.receiving) this.receiving.finished = true;
    this.receiving = undefined;
    this.clears.push({ audioMs, at });
    const latest = this.turns.at(-1);
    if (latest && latest.clearAudioMs === null) latest.clearAudioMs = audioMs;
  }

  agentPlayed(owner: Segment, audio: Uint8Array, at: number, audioMs: number): void {
    if (owner.firstPlayAt === null) {
      owner.firstPlayAt = at;
      owner.firstPlayAudioMs = audioMs;
    }
    owner.audio.push(audio);
    owner.audioBytes += audio.length;
  }

  /** A mark was echoed: `heard` is false when a clear released it before its audio played. */
  markEchoed(owner: Segment, name: string, heard: boolean): void {
    const sentence = SENTENCE_MARK.exec(name);
    if (sentence && heard) owner.sentences.push(sentence[3]!);
    if (END_MARK.test(name) || (owner === this.greeting && name === PHRASE_MARKS.greeting)) owner.finished = true;
  }
}
