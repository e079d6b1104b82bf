// Speaks one answer: sentences arrive in order while the LLM is still writing; each is synthesized
// at once (cache first), so later sentences are ready while earlier ones play, and the audio goes
// out strictly in order as 20 ms frames followed by a mark "<turn>.<seq>:<sentence>". After the last
// sentence comes the mark "<turn>.end". Abort (barge-in) drops everything not yet sent and cancels
// every synthesis still running.
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
  /** A sentence could not be synthesized; it is skipped. */
  onError(sentence: string, error: unknown): void;
  /** Wall clock (ms) for the timings. */
  now(): number;
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
  private playout: Promise<void> = Promise.resolve();
  private finished: Promise<void> | undefined;
  private readonly cancel = new AbortController();
  private readonly abortedSignal: Promise<void>;
  private signalAborted!: () => void;
  /** Sentences whose audio and mark were sent, in order. */
  readonly spoken: string[] = [];
  firstAudio: FirstAudio | undefined;
  failures = 0;
  /** Sentences played from the TTS cache, and synthesized by the service. */
  cacheHits = 0;
  syntheses = 0;

  constructor(private readonly options: SpeakerOptions) {
    this.abortedSignal = new Promise((resolve) => (this.signalAborted = resolve));
  }

  get sentenceCount(): number {
    return this.seq;
  }

  private get aborted(): boolean {
    return this.cancel.signal.aborted;
  }

  say(sentence: string): void {
    if (this.aborted || this.finished) return;
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

  private play(seq: number, sentence: string, requestedAt: number, outcome: Outcome): void {
    if (this.aborted) return;
    const { frames, send, onMark, onError, now, turn } = this.options;
    if (!outcome.ok) {
      this.failures++;
      onError(sentence, outcome.error);
      return;
    }
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
