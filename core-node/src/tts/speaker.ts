// Speaks one answer: sentences arrive in order while the LLM is still writing; each is synthesized
// at once (cache first), so later sentences are ready while earlier ones play, and the audio goes
// out strictly in order as 20 ms frames followed by a mark "<turn>.<seq>:<sentence>". After the last
// sentence comes the mark "<turn>.end". Abort (barge-in) drops everything not yet sent and cancels
// every synthesis still running. A sentence that cannot be synthesized is replaced by the fallback
// phrase (from the cache, where warmup put it) and the answer ends there: the rest would follow an
// apology and a gap, so the caller is asked to say it again instead.
//
// A held speaker (a speculative answer) synthesizes as usual but sends nothing until release(): its
// audio waits in memory, and if it is aborted instead, none of it ever reaches the caller.
import type { OutboundFrames } from "../audio/frames.js";
import type { Synthesized } from "./cache.js";

export interface SpeakerOptions {
  turn: number;
  frames: OutboundFrames;
  /** Synthesis (cache first); `signal` aborts when the answer is abandoned. */
  synthesize(text: string, signal: AbortSignal): Promise<Synthesized>;
  /** Sends one frame (JSON text) towards the caller. */
  send(frame: string): void;
  /** A mark was sent; `sentence` is the text its audio spoke (undefined for the end mark). */
  onMark(name: string, sentence: string | undefined): void;
  /** A sentence could not be synthesized; `replaced`: the fallback phrase is spoken in its place (else it is skipped). */
  onError(sentence: string, error: unknown, replaced: boolean): void;
  /** Spoken in place of the first sentence that cannot be synthesized; later sentences are dropped. */
  fallbackText?: string;
  /** Wall clock (ms) for the timings. */
  now(): number;
  /** Nothing is sent until release() (the sentences are synthesized meanwhile). */
  held?: boolean;
}

/** Timing of the first sentence the caller hears. */
export interface FirstAudio {
  ttsRequestedAt: number;
  ttsReadyAt: number;
  cacheHit: boolean;
  firstFrameAt: number;
}

type Outcome = { ok: true; audio: Uint8Array; cacheHit: boolean; readyAt: number } | { ok: false; error: unknown };

export class Speaker {
  private seq = 0;
  private playout: Promise<void>;
  private releasePlayout: () => void = () => {};
  private finished: Promise<void> | undefined;
  private readonly cancel = new AbortController();
  private readonly abortedSignal: Promise<void>;
  private signalAborted!: () => void;
  /** Sentences whose audio and mark were sent, in order. */
  readonly spoken: string[] = [];
  /** Every sentence it was given, in order (sent, being synthesized, or waiting). */
  readonly said: string[] = [];
  firstAudio: FirstAudio | undefined;
  failures = 0;
  /** The fallback phrase was spoken in place of a failed sentence: the answer ended there. */
  fellBack = false;
  /** Sentences played from the TTS cache, and synthesized by the service. */
  cacheHits = 0;
  syntheses = 0;

  constructor(private readonly options: SpeakerOptions) {
    this.abortedSignal = new Promise((resolve) => (this.signalAborted = resolve));
    this.playout = options.held ? new Promise((resolve) => (this.releasePlayout = resolve)) : Promise.resolve();
  }

  /** A held speaker starts sending what is ready, in order. */
  release(): void {
    this.releasePlayout();
  }

  get sentenceCount(): number {
    return this.seq;
  }

  private get aborted(): boolean {
    return this.cancel.signal.aborted;
  }

  /** Still taking sentences: not finished, aborted, or ended by the fallback phrase. */
  get accepting(): boolean {
    return !this.aborted && !this.finished && !this.fellBack;
  }

  say(sentence: string): void {
    if (!this.accepting) return;
    this.said.push(sentence);
    const seq = ++this.seq;
    const { synthesize, now } = this.options;
    const requestedAt = now();
    const outcome: Promise<Outcome> = synthesize(sentence, this.cancel.signal).then(
      (result) => ({ ok: true, ...result, readyAt: now() }),
      (error: unknown) => ({ ok: false, error }),
    );
    this.playout = this.playout.then(async () => this.play(seq, sentence, requestedAt, await outcome));
  }

  /** No more sentences: resolves once everything (and the end mark) is sent, or at once on abort. */
  finish(): Promise<void> {
    if (this.finished) return this.finished;
    const sentAll = this.playout.then(() => {
      if (this.aborted) return;
      const name = `${this.options.turn}.end`;
      this.options.send(this.options.frames.mark(name));
      this.options.onMark(name, undefined);
    });
    // A synthesis still running after an abort must not hold the turn open.
    this.finished = Promise.race([sentAll, this.abortedSignal]);
    return this.finished;
  }

  abort(): void {
    if (this.aborted) return;
    this.cancel.abort(new Error("answer abandoned"));
    this.signalAborted();
  }

  private async play(seq: number, sentence: string, requestedAt: number, outcome: Outcome): Promise<void> {
    if (this.aborted || this.fellBack) return;
    if (!outcome.ok) {
      this.failures++;
      const { fallbackText } = this.options;
      this.options.onError(sentence, outcome.error, fallbackText !== undefined);
      if (fallbackText === undefined) return;
      this.fellBack = true;
      const fallback = await this.options.synthesize(fallbackText, this.cancel.signal).then(
        (result): Outcome => ({ ok: true, ...result, readyAt: this.options.now() }),
        (error: unknown): Outcome => ({ ok: false, error }),
      );
      if (this.aborted) return;
      if (!fallback.ok) {
        this.failures++;
        this.options.onError(fallbackText, fallback.error, false);
        return;
      }
      return this.sendAudio(seq, fallbackText, requestedAt, fallback);
    }
    this.sendAudio(seq, sentence, requestedAt, outcome);
  }

  private sendAudio(seq: number, sentence: string, requestedAt: number, outcome: Extract<Outcome, { ok: true }>): void {
    const { frames, send, onMark, now, turn } = this.options;
    const sentAt = now();
    if (outcome.cacheHit) this.cacheHits++;
    else this.syntheses++;
    for (const frame of frames.media(outcome.audio)) send(frame);
    this.firstAudio ??= { ttsRequestedAt: requestedAt, ttsReadyAt: outcome.readyAt, cacheHit: outcome.cacheHit, firstFrameAt: sentAt };
    const name = `${turn}.${seq}:${sentence}`;
    send(frames.mark(name));
    this.spoken.push(sentence);
    onMark(name, sentence);
  }
}
