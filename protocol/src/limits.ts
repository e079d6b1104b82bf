// Limits on what one call may send, shared by the edge (the public side) and the core: the close
// codes a refused peer sees, and a per-call frame-rate limit as a pure counter over wall time.

/** RFC 6455 1008: the peer broke the rules (a flood, a frame the link never carries). */
export const CLOSE_POLICY_VIOLATION = 1008;
/** RFC 6455 1009: a frame larger than the limit. */
export const CLOSE_TOO_BIG = 1009;
/** IANA 1013 "Try Again Later": the core is at its call limit; the edge may try another instance. */
export const CLOSE_AT_CAPACITY = 1013;

/** Twilio sends 50 media frames a second plus a few marks and keys; twice that is not a phone line. */
export const DEFAULT_MAX_FRAMES_PER_SECOND = 100;
/** Seconds in a row over the rate after which the call is closed rather than thinned. */
export const DEFAULT_FLOOD_CLOSE_AFTER_S = 5;

export interface FrameRateSettings {
  maxPerSecond: number;
  floodCloseAfterS: number;
}

export type FrameVerdict = "pass" | "drop" | "close";

/**
 * Counts a call's frames in one-second windows of wall time. Frames past `maxPerSecond` in a window
 * are dropped; when `floodCloseAfterS` windows in a row went over, the verdict is "close". Frames
 * arriving in a burst after a stall (the network held them) are normal and fit under twice the rate.
 */
export class FrameRateLimit {
  private windowStart = Number.NEGATIVE_INFINITY;
  private inWindow = 0;
  private overWindows = 0;
  /** Frames dropped in the current window (1 on the first drop: the moment to log it). */
  droppedInWindow = 0;
  droppedTotal = 0;

  constructor(private readonly settings: FrameRateSettings) {}

  admit(nowMs: number): FrameVerdict {
    if (nowMs - this.windowStart >= 1000) {
      const previousOver = this.inWindow > this.settings.maxPerSecond;
      // A silent second (or more) in between ends a flood run.
      const consecutive = nowMs - this.windowStart < 2000;
      this.overWindows = previousOver && consecutive ? this.overWindows + 1 : 0;
      this.windowStart = nowMs;
      this.inWindow = 0;
      this.droppedInWindow = 0;
    }
    this.inWindow++;
    if (this.inWindow <= this.settings.maxPerSecond) return "pass";
    this.droppedInWindow++;
    this.droppedTotal++;
    return this.overWindows + 1 >= this.settings.floodCloseAfterS ? "close" : "drop";
  }
}
