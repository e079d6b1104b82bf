// Limits on what one call may send, shared by the edge (the public side) and the core: the close
// codes a refused peer sees, and the flood guard, a pure state machine fed one frame at a time.
import { FRAME_MS } from "./twilio.js";

/** RFC 6455 1008: the peer broke the rules (a flood, a frame the link never carries). */
export const CLOSE_POLICY_VIOLATION = 1008;
/** RFC 6455 1009: a frame larger than the limit. */
export const CLOSE_TOO_BIG = 1009;
/** IANA 1013 "Try Again Later": the core is at its call limit; the edge may try another instance. */
export const CLOSE_AT_CAPACITY = 1013;

/** Frames that are not media (marks, keys, anything else) a second: a caller sends a few; a burst of mark echoes after a stall fits. */
export const DEFAULT_MAX_FRAMES_PER_SECOND = 100;
/** Caller audio that may arrive ahead of real time, in ms: a network stall this long loses nothing when its backlog arrives at once. */
export const DEFAULT_MAX_AUDIO_BACKLOG_MS = 10_000;
/** Seconds of dropping (no calm second in between) after which the call is closed rather than thinned. */
export const DEFAULT_FLOOD_CLOSE_AFTER_S = 5;
/** A second without a drop ends a flood run. */
export const FLOOD_CALM_MS = 1000;

export interface FloodSettings {
  /** Frames other than media per second of wall time; the rest of the second is dropped. */
  maxPerSecond: number;
  /** Media beyond real time that may arrive at once (ms of audio); what runs further ahead is dropped. */
  maxAudioBacklogMs: number;
  /** Seconds of dropping in a row after which the verdict is "close". */
  floodCloseAfterS: number;
}

export type FrameVerdict = "pass" | "drop" | "close";

/**
 * A flood is audio arriving faster than real time, and other frames arriving faster than a caller
 * sends them. Media frames are judged on the caller's audio clock: each is 20 ms of audio (Twilio's
 * media timestamps advance 20 ms a frame), paid from a credit that grows with wall time, starts
 * full and holds at most `maxAudioBacklogMs`. A stream at real time never spends it; the backlog a
 * stall releases at once (frames that were due in the past) spends what the stall added, so any
 * stall up to `maxAudioBacklogMs` loses nothing; a stream that runs further ahead of real time
 * finds it empty and its frames are dropped. The clock is the frame count, never the timestamp the
 * peer writes: a forged timestamp (far ahead, backwards, not a number) is not read, so it buys
 * nothing. Other frames: at most `maxPerSecond` in a one-second window of wall time.
 *
 * Either way a refused frame is a drop; drops with no calm second between them form a run, and a
 * run that has lasted `floodCloseAfterS` seconds makes the verdict "close". Time comes in with each
 * frame (ms, any monotonic clock); a clock that steps back adds no credit. A few arithmetic
 * operations per frame: it runs on every 20 ms frame, on both sides.
 */
export class FloodGuard {
  /** Audio (ms) that may still arrive ahead of real time. */
  private credit: number;
  /** When the latest media frame arrived: credit grows from there (none before the first). */
  private mediaAt = Number.POSITIVE_INFINITY;
  private windowStart = Number.NEGATIVE_INFINITY;
  private inWindow = 0;
  private runStart = Number.NEGATIVE_INFINITY;
  private lastDrop = Number.NEGATIVE_INFINITY;
  /** Drops in the current run (1 on its first: the moment to log it). */
  droppedInRun = 0;
  droppedTotal = 0;
  /** Of those, media frames ahead of the audio clock. */
  mediaDropped = 0;

  constructor(private readonly settings: FloodSettings) {
    this.credit = settings.maxAudioBacklogMs;
  }

  /** A media frame (20 ms of the caller's audio) arrived at `atMs`. */
  media(atMs: number): FrameVerdict {
    const elapsed = atMs - this.mediaAt;
    this.mediaAt = atMs;
    const credit = elapsed > 0 ? Math.min(this.settings.maxAudioBacklogMs, this.credit + elapsed) : this.credit;
    if (credit >= FRAME_MS) {
      this.credit = credit - FRAME_MS;
      return "pass";
    }
    this.credit = credit;
    this.mediaDropped++;
    return this.refuse(atMs);
  }

  /** Any other frame (a mark, a key, a start, garbage) arrived at `atMs`. */
  other(atMs: number): FrameVerdict {
    if (atMs - this.windowStart >= 1000 || atMs < this.windowStart) {
      this.windowStart = atMs;
      this.inWindow = 0;
    }
    if (++this.inWindow <= this.settings.maxPerSecond) return "pass";
    return this.refuse(atMs);
  }

  private refuse(atMs: number): FrameVerdict {
    this.droppedTotal++;
    if (!(atMs - this.lastDrop <= FLOOD_CALM_MS)) {
      this.runStart = atMs;
      this.droppedInRun = 0;
    }
    this.lastDrop = atMs;
    this.droppedInRun++;
    return atMs - this.runStart >= this.settings.floodCloseAfterS * 1000 ? "close" : "drop";
  }
}
