// One call's recognition, kept alive across failed streams and the service's stream duration limit.
// Every frame is kept in a ring (replay.ts) and written to the current stream. When a stream fails
// with a retryable error, only this call's stream is replaced: after a jittered backoff (at most
// 200 ms doubling to 1.6 s, at most 4 attempts per failure episode) a new stream is fed the audio no final has covered
// yet (the gap's audio included), then live audio again. Results are mapped back to the caller's
// clock, and a final whose audio is already covered is dropped. A stream is replaced before the
// duration limit, at a moment when the caller is not speaking if there is one, with the same replay.
// A stream that stays silent while the caller speaks (no result for `stallSpeechMs` of utterance
// audio, counting only audio it has had for STALL_ANSWER_GRACE_MS of wall time, so that a backlog
// delivered at once after a network stall is given time to be answered) is treated as failed too:
// a connection can hang without an error. When retries are
// exhausted (or the error is not retryable) the recognition is "down" until the session asks for a
// new attempt (restart), and the ring keeps the audio for a fallback transcription.
//
// The service is reached through `OpenRecognizer` (google.ts), time and the backoff's random draws
// through `Scheduler`, so this logic runs in unit tests with a fake service, clock and dice.
import {
  AudioRing,
  BYTES_PER_MS,
  RetryEpisode,
  StreamTimeline,
  frameDurationMs,
  replayRequests,
  replayStartMs,
  rotationDue,
  type RotationSettings,
} from "./replay.js";
import { classifySttError } from "./errors.js";
import type { SttHealth, SttStats, SttStream, SttStreamHandlers } from "./types.js";

/** A result as one stream reports it: its end is an offset into the audio that stream received. */
export interface RecognizerResult {
  transcript: string;
  isFinal: boolean;
  endOffsetMs?: number;
}

export interface RecognizerEvents {
  onResult(result: RecognizerResult): void;
  onError(error: Error): void;
  /** The service ended the stream without an error. */
  onEnd(): void;
  /** A response that is no usable result (malformed): dropped, the stream goes on. */
  onIgnored(reason: string): void;
}

/** One streaming recognition request: the config is sent when it opens; audio follows. */
export interface Recognizer {
  write(audio: Uint8Array): void;
  /** Ends the stream at once; no event follows that matters. */
  cancel(): void;
}

export type OpenRecognizer = (events: RecognizerEvents) => Recognizer;

export interface Scheduler {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** A number in [0, 1): the draw that spreads a retry's backoff. */
  random(): number;
}

export const realScheduler: Scheduler = {
  now: () => performance.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  random: () => Math.random(),
};

export interface ResilientStreamSettings extends RotationSettings {
  /** Audio the ring keeps (bounds the replay and an utterance sent to the fallback transcription). */
  ringMs: number;
  /** A replay starts this long before the utterance in progress (or before now when there is none). */
  replayLeadMs: number;
  /** After a new stream was fed audio again, how long a missing final may still be on its way. */
  lateFinalGraceMs: number;
  /** Utterance audio a stream may take without answering anything before it counts as stalled. */
  stallSpeechMs: number;
  /**
   * While nothing is being recognized (no utterance, no partial waiting for its final) live audio is
   * sent in requests of this much: one gRPC message per 20 ms frame is most of what a call costs the
   * process, and silence gains nothing from arriving sooner. Speech, and the silence after it that
   * the service's final waits on, go out frame by frame.
   */
  quietBatchMs: number;
}

export const DEFAULT_STREAM_SETTINGS: Omit<ResilientStreamSettings, keyof RotationSettings> = {
  // 240 KB per call; longer than any utterance worth answering.
  ringMs: 30_000,
  // The VAD's start already includes its onset frames; this covers a soft first syllable.
  replayLeadMs: 500,
  lateFinalGraceMs: 1000,
  // Google sends a first partial well within a second of speech.
  stallSpeechMs: 2500,
  // Google's recommended request size for streaming.
  quietBatchMs: 100,
};

interface OpenStream {
  recognizer: Recognizer | undefined;
  timeline: StreamTimeline;
  openedAt: number;
  /** Opened to replace another (failure, rotation, restart), with audio fed again. */
  replacing: boolean;
  finalSeen: boolean;
  /** Utterance audio received since its last result (or since it opened). */
  speechSinceResultMs: number;
  /** speechSinceResultMs as it stood after each write (wall time), oldest first from `heldFrom`. */
  speechWrites: Array<{ at: number; ms: number }>;
  heldFrom: number;
  /** Of that audio, what the stream has had for STALL_ANSWER_GRACE_MS at least. */
  speechHeldMs: number;
  /** Where its latest result ends on the caller's clock. */
  lastResultEndMs: number | undefined;
  /** Its latest result was a partial: the final is on its way, and waits on the audio after it. */
  awaitingFinal: boolean;
  /** Ring position of the first byte not yet sent to it. */
  unsentFrom: number;
}

type State = "idle" | "streaming" | "waiting" | "down" | "closed";

/**
 * A result may end this far past the audio its stream received (rounding) and is taken as ending
 * there; one ending later is for audio never sent, and would make the caller's next words look
 * covered already (dropped as a duplicate final, never replayed).
 */
const RESULT_END_SLACK_MS = 1000;
/**
 * The stall watch judges only audio a stream has had this long (wall time): a backlog of audio
 * written at once (the caller's network stalled, then caught up) cannot have been answered yet. At
 * real time this changes nothing: what it has had that long is all but the last second.
 */
export const STALL_ANSWER_GRACE_MS = 1000;
/** At most one resultIgnored event this often, however many results a misbehaving service sends. */
const IGNORED_EVENT_INTERVAL_MS = 1000;

export class ResilientSttStream implements SttStream {
  private state: State = "idle";
  private current: OpenStream | undefined;
  private readonly ring: AudioRing;
  private readonly episode = new RetryEpisode();
  private retryTimer: unknown;
  /** Audio covered by finals (or transcribed elsewhere), on the caller's clock: never replayed. */
  private coveredMs = 0;
  private audioNowMs = 0;
  private utteranceStartMs: number | undefined;
  private ignoredResults = 0;
  private lastIgnoredEventAt: number | undefined;
  readonly stats: SttStats = { errors: 0, reopens: 0, rotations: 0 };

  constructor(
    private readonly openRecognizer: OpenRecognizer,
    private readonly handlers: SttStreamHandlers,
    private readonly settings: ResilientStreamSettings,
    private readonly scheduler: Scheduler = realScheduler,
  ) {
    this.ring = new AudioRing(settings.ringMs);
  }

  get health(): SttHealth {
    if (this.state === "down") return "down";
    if (this.state === "waiting" || this.episode.attempts > 0) return "recovering";
    return "ok";
  }

  expectsLateFinal(): boolean {
    if (this.state === "waiting") return true;
    const stream = this.current;
    return stream !== undefined && stream.replacing && !stream.finalSeen && this.scheduler.now() - stream.openedAt < this.settings.lateFinalGraceMs;
  }

  write(mulaw: Uint8Array, audioMs: number, utteranceStartMs: number | undefined): void {
    if (this.state === "closed") return;
    this.ring.push(mulaw, audioMs);
    this.audioNowMs = audioMs + frameDurationMs(mulaw);
    this.utteranceStartMs = utteranceStartMs;
    if (this.state === "idle") {
      this.open(false); // its replay carries this frame
      return;
    }
    if (this.state !== "streaming") return; // a retry is pending, or recognition is down: the ring keeps it
    const stream = this.current!;
    const rotation = rotationDue(stream.timeline.writtenMs, utteranceStartMs !== undefined, this.settings);
    if (rotation) return this.rotate(stream, rotation);
    stream.timeline.append(audioMs, frameDurationMs(mulaw));
    const live = utteranceStartMs !== undefined || stream.awaitingFinal;
    if (live || this.ring.bytesWritten - stream.unsentFrom >= this.settings.quietBatchMs * BYTES_PER_MS) this.sendUnsent(stream);
    if (utteranceStartMs === undefined) return;
    stream.speechSinceResultMs += frameDurationMs(mulaw);
    if (this.speechHeldMs(stream) >= this.settings.stallSpeechMs - STALL_ANSWER_GRACE_MS) {
      this.reportStall(`no result for ${this.settings.stallSpeechMs} ms of speech`);
    }
  }

  /** Notes the write just made; what of the stream's unanswered utterance audio it has had for the grace period. */
  private speechHeldMs(stream: OpenStream): number {
    const now = this.scheduler.now();
    const writes = stream.speechWrites;
    writes.push({ at: now, ms: stream.speechSinceResultMs });
    while (stream.heldFrom < writes.length && writes[stream.heldFrom]!.at <= now - STALL_ANSWER_GRACE_MS) {
      stream.speechHeldMs = writes[stream.heldFrom++]!.ms;
    }
    if (stream.heldFrom > 256) (stream.speechWrites = writes.slice(stream.heldFrom)), (stream.heldFrom = 0);
    return stream.speechHeldMs;
  }

  private sendUnsent(stream: OpenStream): void {
    stream.recognizer!.write(this.ring.bytesSince(stream.unsentFrom));
    stream.unsentFrom = this.ring.bytesWritten;
  }

  get lastResultEndMs(): number | undefined {
    return this.current?.lastResultEndMs;
  }

  reportStall(reason: string): void {
    if (this.state !== "streaming") return;
    this.onFailure(Object.assign(new Error(reason), { code: "STALLED" }));
  }

  audio(fromMs: number, toMs: number): Uint8Array {
    return this.ring.between(fromMs, toMs);
  }

  coverUpTo(audioMs: number): void {
    this.coveredMs = Math.max(this.coveredMs, audioMs);
  }

  restart(): void {
    if (this.state !== "down") return;
    this.episode.reset();
    this.stats.reopens++;
    this.open(true);
  }

  close(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.scheduler.clearTimeout(this.retryTimer);
    // The call is over and no result is wanted: cancel rather than half-close, so the service ends
    // the stream now instead of after its last (possibly delayed) final.
    this.current?.recognizer?.cancel();
    this.current = undefined;
  }

  /** Opens a stream and feeds it the audio not yet covered; returns the ms of audio fed. */
  private open(replacing: boolean): number {
    const stream: OpenStream = {
      recognizer: undefined,
      timeline: new StreamTimeline(),
      openedAt: this.scheduler.now(),
      replacing,
      finalSeen: false,
      speechSinceResultMs: 0,
      speechWrites: [],
      heldFrom: 0,
      speechHeldMs: 0,
      lastResultEndMs: undefined,
      awaitingFinal: false,
      unsentFrom: this.ring.bytesWritten,
    };
    this.current = stream;
    this.state = "streaming";
    const mine = <A extends unknown[]>(handle: (...args: A) => void) => (...args: A) => {
      if (this.current === stream) handle(...args);
    };
    try {
      stream.recognizer = this.openRecognizer({
        onResult: mine((result) => this.onResult(stream, result)),
        onError: mine((error) => this.onFailure(error)),
        onEnd: mine(() => this.onFailure(Object.assign(new Error("the service ended the stream"), { code: "ENDED" }))),
        onIgnored: mine((reason) => this.ignore(reason)),
      });
    } catch (error) {
      this.onFailure(error instanceof Error ? error : new Error(String(error)));
      return 0;
    }
    const from = replayStartMs({
      coveredMs: this.coveredMs,
      utteranceStartMs: this.utteranceStartMs,
      audioNowMs: this.audioNowMs,
      leadMs: this.settings.replayLeadMs,
      // A replay near the maximum age would make the new stream due for rotation at once.
      maxMs: Math.min(this.settings.ringMs, this.settings.maxMs / 2),
    });
    const frames = this.ring.framesAfter(from);
    for (const frame of frames) stream.timeline.append(frame.audioMs, frameDurationMs(frame.bytes));
    for (const request of replayRequests(frames)) stream.recognizer.write(request);
    stream.unsentFrom = this.ring.bytesWritten;
    return stream.timeline.writtenMs;
  }

  private rotate(old: OpenStream, reason: "silence" | "max_age"): void {
    this.current = undefined;
    old.recognizer!.cancel();
    this.stats.rotations++;
    const replayMs = this.open(true);
    this.handlers.onEvent({ type: "rotated", reason, streamAudioMs: old.timeline.writtenMs, replayMs });
  }

  private onResult(stream: OpenStream, result: RecognizerResult): void {
    const receivedMs = stream.timeline.writtenMs;
    if (result.endOffsetMs !== undefined && result.endOffsetMs > receivedMs + RESULT_END_SLACK_MS) {
      return this.ignore(`a result ends at ${Math.round(result.endOffsetMs)} ms of a stream that received ${Math.round(receivedMs)} ms`);
    }
    stream.speechSinceResultMs = 0;
    stream.speechWrites = [];
    stream.heldFrom = 0;
    stream.speechHeldMs = 0;
    if (this.episode.attempts > 0) this.handlers.onEvent({ type: "recovered", attempts: this.episode.reset() });
    const audioEndMs = result.endOffsetMs === undefined ? undefined : stream.timeline.toAudioMs(Math.min(result.endOffsetMs, receivedMs));
    if (audioEndMs !== undefined) stream.lastResultEndMs = audioEndMs;
    stream.awaitingFinal = !result.isFinal;
    if (result.isFinal) {
      stream.finalSeen = true;
      if (audioEndMs !== undefined) {
        if (audioEndMs <= this.coveredMs) {
          this.handlers.onEvent({ type: "duplicateFinal", audioEndMs, transcript: result.transcript });
          return;
        }
        this.coveredMs = audioEndMs;
      }
    }
    this.handlers.onResult({ transcript: result.transcript, isFinal: result.isFinal, audioEndMs });
  }

  /**
   * A response was no usable result: it changes nothing (not even the stall watch: a stream that
   * sends only such responses is as good as silent). Said at most once a second.
   */
  private ignore(reason: string): void {
    this.ignoredResults++;
    const now = this.scheduler.now();
    if (this.lastIgnoredEventAt !== undefined && now - this.lastIgnoredEventAt < IGNORED_EVENT_INTERVAL_MS) return;
    this.lastIgnoredEventAt = now;
    this.handlers.onEvent({ type: "resultIgnored", reason, ignored: this.ignoredResults });
  }

  private onFailure(error: Error): void {
    const failed = this.current;
    this.current = undefined;
    failed?.recognizer?.cancel();
    this.stats.errors++;
    const { code, retryable } = classifySttError(error);
    const next = retryable ? this.episode.next(this.scheduler.random()) : undefined;
    if (!next) {
      this.state = "down";
      this.handlers.onEvent({ type: "down", code, error: error.message, attempts: this.episode.attempts, retryable });
      return;
    }
    this.state = "waiting";
    this.handlers.onEvent({ type: "retry", code, error: error.message, attempt: next.attempt, delayMs: next.delayMs });
    this.retryTimer = this.scheduler.setTimeout(() => {
      if (this.state !== "waiting") return;
      this.stats.reopens++;
      this.open(true);
    }, next.delayMs);
  }
}
