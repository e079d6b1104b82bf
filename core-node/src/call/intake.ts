// The session's gate for what the edge sends, before any parsing: the flood limits (protocol's
// FloodGuard: media on the caller's audio clock, so a stall's backlog passes; anything else on a
// rate), and bad frames counted with one line per reason and minute. Both cost a counter per frame.
import { FloodGuard } from "@voice/protocol";
import type { RawData } from "ws";
import type { Config } from "../config.js";
import { LineThrottle } from "../metrics/line-throttle.js";
import type { Logger } from "../metrics/log.js";
import type { CallStats } from "./call-stats.js";
import { looksLikeMedia } from "./inbound.js";

type IntakeSettings = Pick<Config, "MAX_FRAMES_PER_SECOND" | "MAX_AUDIO_BACKLOG_MS" | "FLOOD_CLOSE_AFTER_S">;

export class FrameIntake {
  private readonly flood: FloodGuard;
  private readonly dropLines = new LineThrottle();

  constructor(
    private readonly settings: IntakeSettings,
    private readonly log: Logger,
    private readonly stats: CallStats,
  ) {
    this.flood = new FloodGuard({ maxPerSecond: settings.MAX_FRAMES_PER_SECOND, maxAudioBacklogMs: settings.MAX_AUDIO_BACKLOG_MS, floodCloseAfterS: settings.FLOOD_CLOSE_AFTER_S });
  }

  /**
   * "pass": read the frame. "drop": over the flood limit, dropped unread (one line per run of drops).
   * "close": the flood has lasted FLOOD_CLOSE_AFTER_S; the call is to be closed (logged here).
   */
  admit(data: RawData, isBinary: boolean, at: number): "pass" | "drop" | "close" {
    const verdict = looksLikeMedia(data, isBinary) ? this.flood.media(at) : this.flood.other(at);
    if (verdict === "pass") return verdict;
    this.stats.droppedFrames++;
    const c = this.settings;
    const limits = { max_frames_per_second: c.MAX_FRAMES_PER_SECOND, max_audio_backlog_ms: c.MAX_AUDIO_BACKLOG_MS, media_over_clock: this.flood.mediaDropped };
    if (verdict === "close") this.log.warn({ ...limits, flood_close_after_s: c.FLOOD_CLOSE_AFTER_S, dropped: this.flood.droppedTotal }, "frame flood; call closed");
    else if (this.flood.droppedInRun === 1) this.log.warn(limits, "frames over the flood limit; dropping them");
    return verdict;
  }

  /** A bad frame: counted, and one line per reason and minute (see LineThrottle). */
  drop(reason: string, event?: string): void {
    this.stats.droppedFrames++;
    if (this.dropLines.admit(reason, performance.now())) this.log.warn({ event, reason }, "frame dropped");
  }
}
